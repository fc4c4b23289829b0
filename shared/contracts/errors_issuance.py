"""Every expected error of the issuance service, each with a stable code (docs/issuance.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the issuance service, the gateway first, knows these classes whatever else it imports.
"""

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused

__all__ = [
    "InvalidSerial",
    "BookletNotFound",
    "OrderNotIssued",
    "DistributorNotFound",
    "NotYours",
    "InvalidBookletTransition",
    "DistributorOfAnotherSponsor",
    "BookletExpired",
    "BookletHandedOut",
    "IssueInProgress",
]


class InvalidSerial(InvalidInput):
    """This serial is malformed or its check digit is wrong."""

    code = "invalid_serial"


class BookletNotFound(NotFound):
    """No booklet with this serial."""

    code = "booklet_not_found"


class OrderNotIssued(NotFound):
    """No booklets were issued for this order (unknown, or not yet confirmed)."""

    code = "order_not_issued"


class DistributorNotFound(NotFound):
    """No distributor with this id is known to issuance."""

    code = "distributor_not_found"


class NotYours(Forbidden):
    """This booklet or order belongs to another sponsor, or is assigned to another distributor."""

    code = "not_yours"


class InvalidBookletTransition(Conflict):
    """This action is not possible in the booklet's current status."""

    code = "invalid_booklet_transition"


class DistributorOfAnotherSponsor(Refused):
    """A booklet is assigned only to a distributor of its own sponsor."""

    code = "distributor_of_another_sponsor"


class BookletExpired(Refused):
    """This booklet's validity (one year from issuance when never activated) is over."""

    code = "booklet_expired"


class BookletHandedOut(Forbidden):
    """This booklet has left the sponsor's hands: its codes are printed again by the operator only."""

    code = "booklet_handed_out"


class IssueInProgress(Conflict):
    """This order's booklets are being issued: its print file is ready once they all exist."""

    code = "issue_in_progress"
