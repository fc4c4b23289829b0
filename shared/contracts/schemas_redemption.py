"""Every payload of the redemption service (RPC in and out; events are in shared/events.py)."""

from marshmallow import ValidationError, fields, validate, validates

from shared.schemas import MAX_OFFSET, EventSchema, HistoryEntry, StrictSchema, whole
from shared.serials import normalize

MAX_COUPONS_PER_REDEMPTION = 50  # the most coupons one redemption takes


class CouponInput(StrictSchema):
    serial = fields.String(required=True, validate=validate.Length(min=1, max=40))
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class RedemptionInput(StrictSchema):
    service_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    coupons = fields.List(
        fields.Nested(CouponInput),
        required=True,
        validate=validate.Length(min=1, max=MAX_COUPONS_PER_REDEMPTION),
    )
    idempotency_key = fields.String(required=True, validate=whole(r"[A-Za-z0-9_.:-]{8,100}"))
    accepted_at = fields.AwareDateTime(load_default=None)

    @validates("coupons")
    def no_duplicates(self, value, **kwargs):
        # only the coupons whose serial is text: the others are refused by their own field
        typed = [c.get("serial") for c in value if isinstance(c, dict)]
        serials = [normalize(s) for s in typed if isinstance(s, str)]  # "0001 2345-678" too
        if len(set(serials)) != len(serials):
            raise ValidationError("the same coupon appears twice")


class CheckInput(StrictSchema):
    serial = fields.String(required=True, validate=validate.Length(min=1, max=40))
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    service_id = fields.String(load_default=None, validate=validate.Length(max=64))


class ListQuery(StrictSchema):
    venue_id = fields.String(load_default=None, validate=validate.Length(max=64))
    start = fields.AwareDateTime(data_key="from", load_default=None)
    end = fields.AwareDateTime(data_key="to", load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class RedeemedCouponOut(EventSchema):
    serial = fields.String()
    face_value_cents = fields.Integer()
    order_id = fields.String()
    sponsor_id = fields.String()
    booklet_serial = fields.String()


class RedemptionOut(EventSchema):
    id = fields.String()
    venue_id = fields.String()
    service_id = fields.String()
    category = fields.String()
    status = fields.String()
    coupons = fields.List(fields.Nested(RedeemedCouponOut))
    total_cents = fields.Integer()
    created_at = fields.String()
    accepted_at = fields.String(allow_none=True)
    voided_at = fields.String(allow_none=True)
    settled_at = fields.String(allow_none=True)
    history = fields.List(fields.Nested(HistoryEntry))


class CheckOut(EventSchema):
    serial = fields.String()
    usable = fields.Boolean()
    face_value_cents = fields.Integer()
    valid_until = fields.String()


class LockOut(EventSchema):
    """A brute-force lock: of a venue (``venue_id``) or of a coupon (``serial``), with the failed
    guesses of the window that locked it and who sent them."""

    kind = fields.String()  # "venue" or "coupon"
    venue_id = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    venue_ids = fields.List(fields.String())
    serials = fields.List(fields.String())
    wrong_codes = fields.Integer()
    unknown_serials = fields.Integer()
    window_start = fields.String()
    locked_at = fields.String()
    locked_until = fields.String()
