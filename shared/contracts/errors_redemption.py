"""Every expected error of the redemption service, each with a stable code (docs/redemption.md).

Part of the error contract (``shared/contracts/registry.py``): every process that talks to
the redemption service, the gateway first, knows these classes whatever else it imports.
The service imports them from here.
"""

from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Refused, TooManyAttempts

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


class InvalidSerialInput(InvalidInput):
    """A coupon serial is malformed or its check digit is wrong."""

    code = "invalid_serial"


class InvalidCodeFormat(InvalidInput):
    """A security code is not 8 characters of the printed alphabet."""

    code = "invalid_code_format"


class CouponNotFound(NotFound):
    """No coupon with this serial."""

    code = "coupon_not_found"


class RedemptionNotFound(NotFound):
    """No redemption with this id."""

    code = "redemption_not_found"


class InvalidSecurityCode(Refused):
    """The security code does not match the coupon."""

    code = "invalid_security_code"


class BookletCancelled(Refused):
    """The coupon's booklet was reported lost or stolen."""

    code = "booklet_cancelled"


class CouponExpired(Refused):
    """The coupon is past its validity (and past the grace month for coupons accepted in time)."""

    code = "coupon_expired"


class CouponNotYetValid(Refused):
    """The coupon's validity has not started."""

    code = "coupon_not_yet_valid"


class CouponAlreadyRedeemed(Conflict):
    """The coupon has already been redeemed."""

    code = "coupon_already_redeemed"


class VenueNotAccredited(Refused):
    """The venue is not accredited: it cannot redeem coupons."""

    code = "venue_not_accredited"


class ServiceNotOffered(Refused):
    """The service is not one of the venue's."""

    code = "service_not_offered"


class RuleBroken(Refused):
    """A rule of the coupon's sponsor forbids this use (code ``rule_<rule>``)."""

    code = "rule_broken"


class IdempotencyKeyReused(Conflict):
    """This idempotency key was used for a different request."""

    code = "idempotency_key_reused"


class RequestInProgress(Conflict):
    """The same request is being processed: retry in a moment."""

    code = "request_in_progress"


class NotVoidable(Conflict):
    """The redemption can no longer be voided (settled or already voided)."""

    code = "redemption_not_voidable"


class NotYours(Forbidden):
    """This redemption is another venue's."""

    code = "not_yours"


class VenueLocked(TooManyAttempts):
    """Too many wrong security codes or unknown serials: this venue is locked for a while."""

    code = "too_many_attempts"


class CouponLocked(TooManyAttempts):
    """Too many wrong security codes for this coupon, from any venues: it is locked for a while."""

    code = "coupon_locked"
