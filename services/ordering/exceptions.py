"""The ordering service's errors. They are defined in ``shared/contracts/errors_ordering.py``, the
error contract every process knows whole (the gateway first); re-exported here for the
service's own code."""

from shared.contracts.errors_ordering import (
    CofundingNotEligible,
    DistributorNotFound,
    EnvelopeBelowReserved,
    InvalidOrderTransition,
    InvoiceNotIssued,
    NotYours,
    OrderNotFound,
    Overpayment,
    PaymentReferenceConflict,
    SponsorNotFound,
    StatePaymentNotExpected,
)

__all__ = [
    "SponsorNotFound",
    "DistributorNotFound",
    "OrderNotFound",
    "NotYours",
    "InvalidOrderTransition",
    "InvoiceNotIssued",
    "PaymentReferenceConflict",
    "CofundingNotEligible",
    "Overpayment",
    "StatePaymentNotExpected",
    "EnvelopeBelowReserved",
]
