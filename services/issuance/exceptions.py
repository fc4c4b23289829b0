"""The issuance service's errors. They are defined in ``shared/contracts/errors_issuance.py``, the
error contract every process knows whole (the gateway first); re-exported here for the
service's own code."""

from shared.contracts.errors_issuance import (
    BookletExpired,
    BookletHandedOut,
    BookletNotFound,
    DistributorNotFound,
    DistributorOfAnotherSponsor,
    InvalidBookletTransition,
    InvalidSerial,
    IssueInProgress,
    NotYours,
    OrderNotIssued,
)

__all__ = [
    "IssueInProgress",
    "BookletHandedOut",
    "InvalidSerial",
    "BookletNotFound",
    "OrderNotIssued",
    "DistributorNotFound",
    "NotYours",
    "InvalidBookletTransition",
    "DistributorOfAnotherSponsor",
    "BookletExpired",
]
