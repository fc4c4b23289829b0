"""Routes of the settlement service (see API.md)."""


class SettlementRoutes:
    """Not built yet: see the settlement issue."""
