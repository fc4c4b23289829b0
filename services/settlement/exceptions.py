"""The settlement service's errors, each with its stable code (see docs/catalogue.md)."""

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound


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
