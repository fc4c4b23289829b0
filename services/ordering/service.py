"""The ordering service (being built: see its issue)."""

from shared.entrypoints import rpc


class OrderingService:
    name = "ordering"

    @rpc
    def health(self):
        return {"service": self.name}
