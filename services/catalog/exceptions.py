from shared.errors import Conflict, InvalidInput, NotFound, Refused


class VenueNotFound(NotFound):
    """No venue with this id."""

    code = "venue_not_found"


class InvalidTransition(Conflict):
    """This accreditation decision is not possible from the venue's current status."""

    code = "invalid_venue_transition"


class VenueRevoked(Refused):
    """The venue is revoked: it can no longer change."""

    code = "venue_revoked"


class InvalidNear(InvalidInput):
    """``near`` must be ``lat,lon``."""

    code = "invalid_near"
