"""Every expected error of the settlement service, each with a stable code (docs/settlement.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the settlement service, the gateway first, knows these classes whatever else it imports.
``services/settlement/exceptions.py`` re-exports them.
"""

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound

__all__ = [
    "InvalidPeriod",
    "RunNotFound",
    "ExpiryRunNotFound",
    "DocumentNotFound",
    "RunInProgress",
    "NotYours",
]


class InvalidPeriod(InvalidInput):
    """The cut-off or the as-of date is not acceptable."""

    code = "invalid_period"


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
