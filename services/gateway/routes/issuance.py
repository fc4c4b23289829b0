"""Routes of the issuance service (see API.md)."""


class IssuanceRoutes:
    """Not built yet: see the issuance issue."""
