"""Every expected error of the catalog service, each with a stable code (docs/catalog.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the catalog service, the gateway first, knows these classes whatever else it imports.
"""

from shared.errors import Conflict, Forbidden, NotFound, Refused

__all__ = [
    "VenueNotFound",
    "InvalidTransition",
    "VenueRevoked",
    "ServiceNotFound",
    "InvalidServiceTransition",
    "NotYours",
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


class ServiceNotFound(NotFound):
    """The venue has no service with this id."""

    code = "service_not_found"


class InvalidServiceTransition(Conflict):
    """This decision is not possible from the service's current status (approve a pending or
    refused service, refuse a pending or approved one)."""

    code = "invalid_service_transition"


class NotYours(Forbidden):
    """This venue is another venue's: its staff change only their own venue's services and
    opening hours (the operator changes any)."""

    code = "not_yours"
