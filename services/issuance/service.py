"""The issuance service (being built: see its issue)."""

from shared.entrypoints import rpc


class IssuanceService:
    name = "issuance"

    @rpc
    def health(self):
        return {"service": self.name}
