"""Every payload of the ordering service (RPC inputs and answers), as marshmallow schemas.
Event payloads are in ``shared/events.py`` (OrderConfirmed, OrderCancelled,
DistributorRegistered)."""

from enum import StrEnum

from marshmallow import ValidationError, fields, validate, validates, validates_schema
from stdnum.fr import siret as siret_number

from shared.ids import looks_like_id
from shared.schemas import (
    EventSchema,
    HistoryEntry,
    IbanField,
    PageQuery,
    StrictSchema,
    UtcDateTime,
    territory_field,
    town_field,
    whole,
)

# -- the vocabulary and limits of an order (its rules: services/ordering/domain.py) -----------
DEFAULT_FACE_VALUE_CENTS = 1_000  # a 10 EUR coupon
MAX_FACE_VALUE_CENTS = 10_000  # 100 EUR: the scheme's coupons are 10 EUR; more is a typing error
MAX_BOOKLETS_PER_LINE = 100_000  # 1 M coupons: ten times the largest order seen
MAX_LINES = 20
MAX_COUPONS_PER_ORDER = 1_000_000  # 10 M EUR of 10 EUR coupons: a third of the yearly ambition


class SponsorKind(StrEnum):
    REGION = "region"  # conseil régional: local authority, co-fundable
    DEPARTMENT = "department"  # conseil départemental: local authority, co-fundable
    METROPOLIS = "metropolis"  # métropole, communauté urbaine: grouping of towns, co-fundable
    TOWN = "town"  # commune: co-fundable only when ordering for a group of >= 2 towns
    TOWN_GROUP = "town_group"  # communauté de communes, syndicat: co-fundable with >= 2 members
    PUBLIC_BODY = "public_body"  # établissement public (Pôle emploi, CAF...): not co-fundable
    CCAS = "ccas"  # centre communal d'action sociale: not co-fundable
    COMPANY = "company"  # not co-fundable
    CHAMBER = "chamber"  # chambre consulaire (CCI, CMA): not co-fundable
    FOUNDATION = "foundation"  # not co-fundable
    ASSOCIATION = "association"  # not co-fundable


class OrderStatus(StrEnum):
    DRAFT = "draft"  # created, quote given, may still be cancelled at no cost
    SUBMITTED = "submitted"  # sent without co-funding: invoice issued, awaiting payment
    COFUNDING_PENDING = "cofunding_pending"  # State share reserved, awaiting the operator
    COFUNDING_APPROVED = "cofunding_approved"  # State pays its share: invoice issued
    COFUNDING_REFUSED = "cofunding_refused"  # goes on without it: the sponsor pays all
    CONFIRMED = "confirmed"  # fully paid: issuance prints it
    ISSUED = "issued"  # booklets printed (issuance.booklets_issued received)
    DISPATCHED = "dispatched"  # booklets sent to the sponsor
    CANCELLED = "cancelled"  # before confirmation; payments received are to be returned


class CofundingDecision(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


class Payer(StrEnum):
    SPONSOR = "sponsor"
    STATE = "state"


# -- the payloads ------------------------------------------------------------------------------
CODE = r"[a-z][a-z0-9_]{1,49}"  # a venue type or service category code of the catalog
REFERENCE = r"[A-Za-z0-9][A-Za-z0-9 ._/:-]{0,63}"
MAX_PAYMENT_CENTS = 10_000_000_000  # 100 M EUR: above any order's due


def id_field(prefix, **kwargs):
    def check(value):
        if not looks_like_id(value, prefix):
            raise ValidationError(f"not a {prefix}_ identifier")

    return fields.String(validate=check, **kwargs)


# -- sponsors and distributors ------------------------------------------------------------------
class SponsorInput(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in SponsorKind]))
    territory = territory_field(required=True)
    members = fields.List(
        town_field(), load_default=list, validate=validate.Length(max=1000)
    )  # town codes of a group
    iban = IbanField(required=True)
    address = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=300)
    )  # printed on invoices
    siret = fields.String(load_default=None, allow_none=True)

    @validates("siret")
    def check_siret(self, value, **kwargs):
        if value is not None and not siret_number.is_valid(value):
            raise ValidationError("invalid SIRET (14 digits with a valid check digit)")

    @validates_schema
    def check_members(self, data, **kwargs):
        members = data.get("members") or []
        if len(set(members)) != len(members):
            raise ValidationError("a town is listed twice", "members")
        if data.get("kind") == SponsorKind.TOWN_GROUP and len(members) < 2:
            raise ValidationError("a town_group lists at least 2 member towns", "members")
        if members and data.get("kind") not in (
            SponsorKind.TOWN,
            SponsorKind.TOWN_GROUP,
            SponsorKind.METROPOLIS,
        ):
            raise ValidationError("only towns and groupings of towns list members", "members")


class DistributorInput(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    sponsor_id = id_field("spo", required=True)
    town_code = town_field(required=True)


class SponsorOut(EventSchema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    territory = fields.String()
    members = fields.List(fields.String())
    iban = fields.String()
    address = fields.String(allow_none=True)
    siret = fields.String(allow_none=True)
    created_at = UtcDateTime()
    history = fields.List(fields.Nested(HistoryEntry))


class DistributorOut(EventSchema):
    id = fields.String()
    name = fields.String()
    sponsor_id = fields.String()
    town_code = fields.String()
    created_at = UtcDateTime()
    created_by = fields.Dict()


# -- orders -------------------------------------------------------------------------------------
class OrderLineInput(StrictSchema):
    coupons_per_booklet = fields.Integer(
        required=True, strict=True, validate=validate.OneOf([5, 10])
    )
    face_value_cents = fields.Integer(
        load_default=DEFAULT_FACE_VALUE_CENTS,
        strict=True,
        validate=validate.Range(min=1, max=MAX_FACE_VALUE_CENTS),
    )
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_BOOKLETS_PER_LINE)
    )  # booklets


class TargetPublics(StrictSchema):
    """Who the coupons are for, in percent (the 2020 call: half and half)."""

    skills_plan_priority_pct = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )  # priority publics of the skills investment plan (PIC)
    digital_precarity_pct = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )  # people in great digital precarity

    @validates_schema
    def check_total(self, data, **kwargs):
        if data["skills_plan_priority_pct"] + data["digital_precarity_pct"] != 100:
            raise ValidationError("the two percentages add up to 100", "_schema")


class CofundingApplication(StrictSchema):
    """The application for State co-funding (docs/ordering.md)."""

    target_publics = fields.Nested(TargetPublics, required=True)
    geographic_area = fields.String(required=True, validate=validate.Length(min=2, max=500))
    partners = fields.List(
        fields.String(validate=validate.Length(min=2, max=200)),
        load_default=list,
        validate=validate.Length(max=100),
    )
    budget_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_PAYMENT_CENTS)
    )  # the project's whole budget


class RulesInput(StrictSchema):
    """Where and for what the coupons may be used; an empty list restricts nothing."""

    territories = fields.List(
        territory_field(), load_default=list, validate=validate.Length(max=500)
    )
    venue_types = fields.List(
        fields.String(validate=whole(CODE, error="not a venue type code")),
        load_default=list,
        validate=validate.Length(max=50),
    )
    categories = fields.List(
        fields.String(validate=whole(CODE, error="not a service category code")),
        load_default=list,
        validate=validate.Length(max=50),
    )


class OrderInput(StrictSchema):
    sponsor_id = id_field("spo", required=True)
    lines = fields.List(
        fields.Nested(OrderLineInput),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES),
    )
    state_cofunding = fields.Nested(CofundingApplication, load_default=None, allow_none=True)
    rules = fields.Nested(
        RulesInput, load_default=lambda: {"territories": [], "venue_types": [], "categories": []}
    )

    @validates_schema
    def check_size(self, data, **kwargs):
        coupons = sum(line["quantity"] * line["coupons_per_booklet"] for line in data["lines"])
        if coupons > MAX_COUPONS_PER_ORDER:
            raise ValidationError(
                f"{coupons} coupons: an order holds at most {MAX_COUPONS_PER_ORDER}", "lines"
            )


class QuoteInput(OrderInput):
    """An order priced before it is made: its lines, and whether the State co-funding is asked
    (its application is not needed to price it)."""

    state_cofunding = fields.Boolean(load_default=False)


class CofundingDecisionInput(StrictSchema):
    decision = fields.String(
        required=True, validate=validate.OneOf([d.value for d in CofundingDecision])
    )
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class CancelInput(StrictSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class PaymentInput(StrictSchema):
    amount_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_PAYMENT_CENTS)
    )
    payer = fields.String(required=True, validate=validate.OneOf([p.value for p in Payer]))
    reference = fields.String(
        required=True,
        validate=whole(REFERENCE, error="1-64 letters, digits, spaces or ._/:-"),
    )  # the bank transfer's reference: the same reference twice records one payment


class OrderQuery(PageQuery):
    sponsor_id = id_field("spo", load_default=None)
    status = fields.String(
        load_default=None, validate=validate.OneOf([s.value for s in OrderStatus])
    )


class CampaignInput(StrictSchema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2019, max=2100))
    rate_bp = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000)
    )  # 5000 = 50 %
    envelope_cents = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10**13)
    )
    # the minimum co-funded order, and the sponsor kinds it applies to (default: towns ordering as
    # a group, as the sources say); absent: unchanged
    minimum_order_cents = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**13))
    minimum_order_kinds = fields.List(
        fields.String(validate=validate.OneOf([kind.value for kind in SponsorKind])),
        validate=validate.Length(max=len(SponsorKind)),
    )


class CampaignYear(StrictSchema):
    year = fields.Integer(required=True, validate=validate.Range(min=2019, max=2100))  # "2026" too


class CampaignOut(EventSchema):
    year = fields.Integer()
    rate_bp = fields.Integer()
    envelope_cents = fields.Integer()
    remaining_cents = fields.Integer()  # envelope minus the shares reserved by orders
    minimum_order_cents = fields.Integer()
    minimum_order_kinds = fields.List(fields.String())
    updated_at = UtcDateTime(allow_none=True)


class QuoteOut(EventSchema):
    coupon_count = fields.Integer()
    face_value_cents = fields.Integer()
    fee_cents = fields.Integer()
    state_share_cents = fields.Integer()
    sponsor_due_cents = fields.Integer()


class QuoteAnswerOut(QuoteOut):
    state_rate_bp = fields.Integer()  # the State's rate applied: 0 when not co-funded


class DistributorListOut(EventSchema):
    distributors = fields.List(fields.Nested(DistributorOut))


class LineOut(EventSchema):
    line_no = fields.Integer()
    coupons_per_booklet = fields.Integer()
    face_value_cents = fields.Integer()
    quantity = fields.Integer()


class PaymentOut(EventSchema):
    payment_id = fields.String()
    payer = fields.String()
    amount_cents = fields.Integer()
    reference = fields.String()
    received_at = UtcDateTime()
    recorded_by = fields.Dict()


class CofundingOut(EventSchema):
    requested = fields.Boolean()
    status = fields.String(allow_none=True)  # reserved, approved, refused; None if not requested
    rate_bp = fields.Integer()
    state_share_cents = fields.Integer()
    campaign_year = fields.Integer(allow_none=True)
    reason_code = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    application = fields.Dict(allow_none=True)


class InvoiceOut(EventSchema):
    reference = fields.String(allow_none=True)
    issued_at = UtcDateTime(allow_none=True)
    due_date = fields.String(allow_none=True)  # a calendar date: 2026-12-22


class IssuanceOut(EventSchema):
    """What the order learnt of its booklets from ``issuance.booklets_issued``."""

    batches = fields.List(fields.Integer())  # the batches received
    batch_count = fields.Integer()
    booklet_count = fields.Integer()
    issued_at = UtcDateTime()
    valid_until = UtcDateTime()


class OrderOut(EventSchema):
    id = fields.String()
    sponsor_id = fields.String()
    sponsor_name = fields.String()
    territory = fields.String()
    status = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    rules = fields.Dict()
    quote = fields.Nested(QuoteOut)
    cofunding = fields.Nested(CofundingOut)
    payments = fields.List(fields.Nested(PaymentOut))
    paid = fields.Dict()  # {"sponsor_cents", "state_cents"}
    invoice = fields.Nested(InvoiceOut, allow_none=True)
    issuance = fields.Nested(IssuanceOut, allow_none=True)
    created_at = UtcDateTime()
    history = fields.List(fields.Nested(HistoryEntry))


class OrderListOut(EventSchema):
    """A page of orders (``total``: how many match in all)."""

    orders = fields.List(fields.Nested(OrderOut), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class PaymentRecordedOut(EventSchema):
    """The answer to a payment: ``created`` is false when its reference was already recorded."""

    created = fields.Boolean()
    payment = fields.Nested(PaymentOut)
    order = fields.Nested(OrderOut)
