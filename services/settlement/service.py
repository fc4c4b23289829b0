"""The settlement service (being built: see its issue)."""

from shared.entrypoints import rpc


class SettlementService:
    name = "settlement"

    @rpc
    def health(self):
        return {"service": self.name}
