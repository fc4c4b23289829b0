"""Every expected error of the ordering service, each with a stable code (docs/ordering.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the ordering service, the gateway first, knows these classes whatever else it imports.
"""

from shared.errors import Conflict, Forbidden, NotFound, Refused

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


class SponsorNotFound(NotFound):
    """No sponsor with this id."""

    code = "sponsor_not_found"


class DistributorNotFound(NotFound):
    """No distributor with this id."""

    code = "distributor_not_found"


class OrderNotFound(NotFound):
    """No order with this id."""

    code = "order_not_found"


class NotYours(Forbidden):
    """This resource belongs to another sponsor."""

    code = "not_yours"


class InvalidOrderTransition(Conflict):
    """This action is not possible in the order's current status."""

    code = "invalid_order_transition"


class InvoiceNotIssued(Conflict):
    """The invoice is issued once the amounts are final (submission or co-funding decision)."""

    code = "invoice_not_issued"


class PaymentReferenceConflict(Conflict):
    """This payment reference was already recorded on the order with another amount or payer."""

    code = "payment_reference_conflict"


class CofundingNotEligible(Refused):
    """This order cannot be co-funded by the State."""

    code = "cofunding_not_eligible"


class Overpayment(Refused):
    """This payment would exceed what this payer owes on the order."""

    code = "overpayment"


class StatePaymentNotExpected(Refused):
    """The State pays only the share of an order whose co-funding was approved."""

    code = "state_payment_not_expected"


class EnvelopeBelowReserved(Refused):
    """A campaign's envelope cannot be set below what orders have already reserved."""

    code = "envelope_below_reserved"
