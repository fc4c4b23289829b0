"""Routes of the redemption service (see API.md)."""


class RedemptionRoutes:
    """Not built yet: see the redemption issue."""
