"""Every expected error of the catalog service, each with a stable code (docs/catalog.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the catalog service, the gateway first, knows these classes whatever else it imports.
"""

from shared.errors import Conflict, NotFound, Refused

__all__ = [
    "VenueNotFound",
    "InvalidTransition",
    "VenueRevoked",
]


class VenueNotFound(NotFound):
    """No venue with this id."""

    code = "venue_not_found"


class InvalidTransition(Conflict):
    """This accreditation decision is not possible from the venue's current status."""

    code = "invalid_venue_transition"


class VenueRevoked(Refused):
    """The venue is revoked: it can no longer change."""

    code = "venue_revoked"
