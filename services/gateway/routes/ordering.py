"""Routes of the ordering service (see API.md)."""


class OrderingRoutes:
    """Not built yet: see the ordering issue."""
