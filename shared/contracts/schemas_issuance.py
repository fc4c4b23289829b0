"""Every payload of the issuance service: inputs (strict) and what it answers."""

from marshmallow import fields, validate

from shared.schemas import MAX_OFFSET, EventSchema, StrictSchema, UtcDateTime, whole
from shared.schemas import HistoryEntry as BaseHistoryEntry

AGE_BANDS = ["under_18", "18_25", "26_35", "36_45", "46_55", "56_65", "66_75", "over_75"]
PUBLIC_CATEGORIES = [
    "job_seeker",  # demandeur d'emploi
    "minimum_income",  # bénéficiaire de minima sociaux (RSA, ASS, AAH...)
    "senior",  # personne âgée
    "young_person",  # jeune (mission locale...)
    "disability",  # personne en situation de handicap
    "newcomer",  # personne récemment arrivée en France
    "employee",  # salarié (reconversion, formation)
    "other",
]


class AssignmentInput(StrictSchema):
    distributor_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ProfileInput(StrictSchema):
    """Anonymous profile of a beneficiary, for statistics only: never a name or a contact."""

    age_band = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AGE_BANDS))
    public_category = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(PUBLIC_CATEGORIES)
    )
    postcode = fields.String(
        load_default=None,
        allow_none=True,
        validate=whole(r"[0-9]{5}", error="a French postcode has 5 digits"),
    )


class ActivationInput(StrictSchema):
    profile = fields.Nested(ProfileInput, load_default=None, allow_none=True)


class CancellationInput(StrictSchema):
    reason = fields.String(required=True, validate=validate.OneOf(["lost", "stolen"]))


class ListQuery(StrictSchema):
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=5000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class BookletHistoryEntry(BaseHistoryEntry):
    """A booklet's audit entry: the shared one, with the distributor it was assigned to."""

    distributor_id = fields.String()


class BookletSummaryOut(EventSchema):
    serial = fields.String()
    status = fields.String()
    line_no = fields.Integer()
    coupons_per_booklet = fields.Integer()
    face_value_cents = fields.Integer()
    first_coupon_serial = fields.Function(lambda b: b["coupon_serials"][0])
    last_coupon_serial = fields.Function(lambda b: b["coupon_serials"][-1])
    distributor_id = fields.String(allow_none=True)
    valid_from = UtcDateTime()
    valid_until = UtcDateTime()


class BookletOut(BookletSummaryOut):
    """One booklet as the API shows it: never a security code (they exist only on paper)."""

    order_id = fields.String()
    sponsor_id = fields.String()
    sponsor_name = fields.String()
    coupon_serials = fields.List(fields.String())
    issued_at = UtcDateTime()
    activated_at = UtcDateTime(allow_none=True)
    profile = fields.Dict(allow_none=True)
    cancelled_at = UtcDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    history = fields.List(fields.Nested(BookletHistoryEntry))


class OrderBookletsOut(EventSchema):
    order_id = fields.String()
    sponsor_id = fields.String()
    status = fields.String()  # of the issue: received, allocated, created, published
    booklet_count = fields.Integer()
    coupon_count = fields.Integer()
    coupon_range = fields.Dict()  # {"first": serial, "last": serial} of the whole order
    issued_at = UtcDateTime()
    total = fields.Integer()
    booklets = fields.List(fields.Nested(BookletSummaryOut))


class DistributorBookletsOut(EventSchema):
    distributor_id = fields.String()
    sponsor_id = fields.String()
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
    booklets = fields.List(fields.Nested(BookletSummaryOut))


class BlockOut(EventSchema):
    order_id = fields.String()
    blocked = fields.Integer()  # booklets blocked by this call
    serials = fields.List(fields.String())


class DispatchOut(EventSchema):
    order_id = fields.String()
    dispatched = fields.Integer()  # booklets that became dispatched by this call


class PrintFileOut(EventSchema):
    """A stored print file (its bytes are read a chunk at a time: ``print_file_chunk``)."""

    file_id = fields.String()
    filename = fields.String()
    status = fields.String()  # ready | in_progress
    size = fields.Integer(allow_none=True)  # bytes
    pages = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    chunk_bytes = fields.Integer(allow_none=True)
    booklet_count = fields.Integer()
    coupon_count = fields.Integer()
    seconds = fields.Float(allow_none=True)  # to make it (when it was made)


class PrintChunkOut(EventSchema):
    file_id = fields.String()
    index = fields.Integer()
    content_b64 = fields.String()
