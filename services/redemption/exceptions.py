"""The redemption service's errors. They are defined in ``shared/contracts/errors_redemption.py``, the
error contract every process knows whole (the gateway first); re-exported here for the
service's own code."""

from shared.contracts.errors_redemption import (
    BookletCancelled,
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponLocked,
    CouponNotFound,
    CouponNotYetValid,
    IdempotencyKeyReused,
    InvalidCodeFormat,
    InvalidSecurityCode,
    InvalidSerialInput,
    NotVoidable,
    NotYours,
    RedemptionNotFound,
    RequestInProgress,
    RuleBroken,
    ServiceNotOffered,
    VenueLocked,
    VenueNotAccredited,
)

__all__ = [
    "InvalidSerialInput",
    "InvalidCodeFormat",
    "CouponNotFound",
    "RedemptionNotFound",
    "InvalidSecurityCode",
    "BookletCancelled",
    "CouponExpired",
    "CouponNotYetValid",
    "CouponAlreadyRedeemed",
    "VenueNotAccredited",
    "ServiceNotOffered",
    "RuleBroken",
    "IdempotencyKeyReused",
    "RequestInProgress",
    "NotVoidable",
    "NotYours",
    "VenueLocked",
    "CouponLocked",
]
