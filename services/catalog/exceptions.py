"""The catalog service's errors. They are defined in ``shared/contracts/errors_catalog.py``, the
error contract every process knows whole (the gateway first); re-exported here for the
service's own code."""

from shared.contracts.errors_catalog import (
    InvalidNear,
    InvalidTransition,
    VenueNotFound,
    VenueRevoked,
)

__all__ = [
    "VenueNotFound",
    "InvalidTransition",
    "VenueRevoked",
    "InvalidNear",
]
