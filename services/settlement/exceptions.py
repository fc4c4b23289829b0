"""The settlement service's errors. They are defined in ``shared/contracts/errors_settlement.py``, the
error contract every process knows whole (the gateway first); re-exported here for the
service's own code."""

from shared.contracts.errors_settlement import (
    DocumentNotFound,
    ExpiryRunNotFound,
    InvalidPeriod,
    NotYours,
    PeriodNotOver,
    RunInProgress,
    RunNotFound,
)

__all__ = [
    "InvalidPeriod",
    "PeriodNotOver",
    "RunNotFound",
    "ExpiryRunNotFound",
    "DocumentNotFound",
    "RunInProgress",
    "NotYours",
]
