"""Every expected error of the settlement service, each with a stable code (docs/settlement.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the settlement service, the gateway first, knows these classes whatever else it imports.
The service imports them from here.
"""

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused

__all__ = [
    "InvalidPeriod",
    "PeriodNotOver",
    "RunNotFound",
    "ExpiryRunNotFound",
    "DocumentNotFound",
    "RunInProgress",
    "NotYours",
]


class InvalidPeriod(InvalidInput):
    """The cut-off or the as-of date is outside the scheme's life (2020-01-01 to 9999-11-30)."""

    code = "invalid_period"


class PeriodNotOver(Refused):
    """The cut-off or the as-of date is still to come in the operator's timezone."""

    code = "period_not_over"


class RunNotFound(NotFound):
    """No settlement run with this id."""

    code = "settlement_run_not_found"


class ExpiryRunNotFound(NotFound):
    """No expiry run with this id."""

    code = "expiry_run_not_found"


class DocumentNotFound(NotFound):
    """No such statement or credit note."""

    code = "document_not_found"


class RunInProgress(Conflict):
    """Another settlement or expiry run is in progress: try again when it is done."""

    code = "run_in_progress"


class NotYours(Forbidden):
    """This document is another party's."""

    code = "not_yours"
