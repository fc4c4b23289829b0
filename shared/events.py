"""The contract between services: every event payload, as marshmallow schemas.

Producers dump with these schemas, consumers load with them (unknown fields are ignored, so a
producer may add fields). Times are ISO 8601 UTC strings; money is int cents. Large collections
(the coupons of a big order, the redemptions of a settlement run) are split into several events of
the same type, each with ``batch`` (1-based) and ``batch_count``.

Names: ``<service>.<event>``; the service name is the nameko service that dispatches it.
"""

from marshmallow import fields, validate

from shared.schemas import EventSchema


def Money(**kwargs):  # (reads like a field class)
    """An amount in integer cents, never negative: ``1234.9``, ``"-5"``, ``True`` or ``-5`` is
    refused, not read as 1234 or -5 (a consumer books what it loads)."""
    return fields.Integer(strict=True, validate=validate.Range(min=0), **kwargs)


def Count(**kwargs):
    """A whole number of things (booklets, coupons, a batch number): strict, from ``minimum``."""
    minimum = kwargs.pop("minimum", 0)
    return fields.Integer(strict=True, validate=validate.Range(min=minimum), **kwargs)


class Rules(EventSchema):
    """Where and for what a sponsor's coupons may be used (empty list = no restriction)."""

    territories = fields.List(
        fields.String(), load_default=list, dump_default=list
    )  # department or town codes
    venue_types = fields.List(fields.String(), load_default=list, dump_default=list)
    categories = fields.List(fields.String(), load_default=list, dump_default=list)


class OrderLine(EventSchema):
    line_no = Count(required=True, minimum=1)
    coupons_per_booklet = fields.Integer(
        required=True, strict=True, validate=validate.OneOf([5, 10])
    )
    face_value_cents = Money(required=True)
    quantity = Count(required=True, minimum=1)  # number of booklets


class Payment(EventSchema):
    payment_id = fields.String(required=True)
    payer = fields.String(required=True, validate=validate.OneOf(["sponsor", "state"]))
    amount_cents = Money(required=True)
    reference = fields.String(required=True)
    received_at = fields.String(required=True)


# -- ordering ---------------------------------------------------------------------------------
class OrderConfirmed(EventSchema):
    """``ordering.order_confirmed``: fully paid; issuance prints it, settlement books the money."""

    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    sponsor_name = fields.String(required=True)
    sponsor_kind = fields.String(required=True)
    territory = fields.String(required=True)  # the order's territory (cooperation fund account)
    lines = fields.List(fields.Nested(OrderLine), required=True)
    coupon_count = Count(required=True)
    face_value_cents = Money(required=True)
    fee_cents = Money(required=True)  # 4 % of face value, paid by the sponsor
    state_share_cents = Money(required=True)  # 0 when not co-funded
    sponsor_due_cents = Money(required=True)  # face value - state share + fee
    cofunded = fields.Boolean(required=True)
    state_rate_bp = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10_000)
    )  # e.g. 5000 = 50 %; 0 when not co-funded
    rules = fields.Nested(Rules, required=True)
    payments = fields.List(fields.Nested(Payment), required=True)
    confirmed_at = fields.String(required=True)
    # added for settlement: where the sponsor's refunds go, and the invoice a credit note cites
    sponsor_iban = fields.String(allow_none=True, load_default=None)
    invoice_reference = fields.String(allow_none=True, load_default=None)


class OrderCancelled(EventSchema):
    """``ordering.order_cancelled``: before issuance; payments received are to be returned."""

    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    reason = fields.String(allow_none=True)
    cancelled_at = fields.String(required=True)
    # added by ordering: what was invoiced and received, for the credit note and the refund
    invoice_reference = fields.String(allow_none=True, load_default=None)
    payments = fields.List(fields.Nested(Payment), load_default=list)


class DistributorRegistered(EventSchema):
    """``ordering.distributor_registered``: a new distribution point of a sponsor.

    Issuance checks with it that a booklet is assigned to a distributor of the booklet's sponsor.
    """

    distributor_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    name = fields.String(required=True)
    town_code = fields.String(required=True)
    registered_at = fields.String(required=True)


# -- issuance ---------------------------------------------------------------------------------
class IssuedCoupon(EventSchema):
    serial = fields.String(required=True)
    face_value_cents = Money(required=True)
    code_digest = fields.String(required=True)  # shared.serials.code_digest(CODE_DIGEST_KEY, ...)


class IssuedBooklet(EventSchema):
    serial = fields.String(required=True)
    coupons = fields.List(fields.Nested(IssuedCoupon), required=True)


class BookletsIssued(EventSchema):
    """``issuance.booklets_issued``: what redemption needs to check coupons on its own."""

    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    sponsor_name = fields.String(required=True)
    territory = fields.String(required=True)
    rules = fields.Nested(Rules, required=True)
    cofunded = fields.Boolean(required=True)
    state_rate_bp = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10_000)
    )
    issued_at = fields.String(required=True)
    valid_from = fields.String(required=True)  # issuance: validity of a booklet never activated
    valid_until = fields.String(required=True)  # valid_from + 1 year (exclusive)
    booklets = fields.List(fields.Nested(IssuedBooklet), required=True)
    batch = Count(required=True, minimum=1)
    batch_count = Count(required=True, minimum=1)


class BookletActivated(EventSchema):
    """``issuance.booklet_activated``: handed to a beneficiary; validity restarts from now."""

    booklet_serial = fields.String(required=True)
    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    distributor_id = fields.String(allow_none=True)
    coupon_serials = fields.List(fields.String(), required=True)
    activated_at = fields.String(required=True)
    valid_from = fields.String(required=True)
    valid_until = fields.String(required=True)
    profile = fields.Dict(allow_none=True)  # anonymous: age_band, public_category, postcode


class BookletCancelled(EventSchema):
    """``issuance.booklet_cancelled``: lost or stolen, or blocked by its sponsor before it was
    handed out; its unredeemed coupons are refused, then refunded by the next expiry run."""

    booklet_serial = fields.String(required=True)
    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    coupon_serials = fields.List(fields.String(), required=True)
    reason = fields.String(required=True, validate=validate.OneOf(["lost", "stolen", "blocked"]))
    cancelled_at = fields.String(required=True)


# -- redemption -------------------------------------------------------------------------------
class RedeemedCoupon(EventSchema):
    serial = fields.String(required=True)
    face_value_cents = Money(required=True)
    order_id = fields.String(required=True)
    sponsor_id = fields.String(required=True)
    booklet_serial = fields.String(required=True)


class CouponsRedeemed(EventSchema):
    """``redemption.coupons_redeemed``: what settlement needs to pay the venue."""

    redemption_id = fields.String(required=True)
    venue_id = fields.String(required=True)
    service_id = fields.String(required=True)
    category = fields.String(required=True)
    coupons = fields.List(fields.Nested(RedeemedCoupon), required=True)
    total_cents = Money(required=True)
    redeemed_at = fields.String(required=True)


class RedemptionVoided(EventSchema):
    """``redemption.redemption_voided``: undone before settlement; the coupons are usable again."""

    redemption_id = fields.String(required=True)
    venue_id = fields.String(required=True)
    coupons = fields.List(fields.Nested(RedeemedCoupon), required=True)
    total_cents = Money(required=True)
    voided_at = fields.String(required=True)


# -- settlement -------------------------------------------------------------------------------
class RunCompleted(EventSchema):
    """``settlement.run_completed``: these redemptions are paid; they can no longer be voided."""

    run_id = fields.String(required=True)
    period_end = fields.String(required=True)
    redemption_ids = fields.List(fields.String(), required=True)
    completed_at = fields.String(required=True)
    batch = Count(required=True, minimum=1)
    batch_count = Count(required=True, minimum=1)


class CouponsExpired(EventSchema):
    """``settlement.coupons_expired``: past validity (and grace month), or of a cancelled booklet;
    refunded to their funders. Redemption refuses them from now on."""

    expiry_run_id = fields.String(required=True)
    as_of = fields.String(required=True)
    coupon_serials = fields.List(fields.String(), required=True)
    batch = Count(required=True, minimum=1)
    batch_count = Count(required=True, minimum=1)


# -- catalog ----------------------------------------------------------------------------------
class VenueServiceSnapshot(EventSchema):
    service_id = fields.String(required=True)
    category = fields.String(required=True)
    price_coupons = fields.Integer(required=True)


class VenueChanged(EventSchema):
    """Payload of ``catalog.venue_accredited``, ``catalog.venue_suspended``, ``catalog.venue_updated``.

    ``version`` grows with every change of the venue: a consumer keeps the highest it has seen and
    ignores older or repeated events. ``status`` of ``venue_suspended`` is suspended or revoked.
    """

    venue_id = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True)
    name = fields.String(required=True)
    venue_type = fields.String(required=True)
    department = fields.String(required=True)
    town_code = fields.String(required=True)
    iban = fields.String(required=True)
    categories = fields.List(fields.String(), required=True)
    services = fields.List(fields.Nested(VenueServiceSnapshot), required=True)
