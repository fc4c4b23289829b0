"""The redemption service (being built: see its issue)."""

from shared.entrypoints import rpc


class RedemptionService:
    name = "redemption"

    @rpc
    def health(self):
        return {"service": self.name}
