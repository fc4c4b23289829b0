"""Every payload of the catalog service (RPC and events), as marshmallow schemas."""

from enum import StrEnum

from marshmallow import ValidationError, fields, post_load, pre_dump, validate, validates
from stdnum.fr import siret as siret_number

from shared.contracts.taxonomy import SERVICE_CATEGORIES, VENUE_TYPES
from shared.events import VenueChanged, VenueServiceSnapshot  # noqa: F401  (re-exported)
from shared.schemas import (
    MAX_OFFSET,
    EventSchema,
    HistoryEntry,
    IbanField,
    StrictSchema,
    UtcDateTime,
    department_field,
    town_field,
    whole,
)

# -- the vocabulary of venues and services (their rules: services/catalog/domain.py) ----------
MAX_RADIUS_KM = 1000


class VenueStatus(StrEnum):
    APPLIED = "applied"  # registered by the operator, not yet allowed to redeem
    ACCREDITED = "accredited"  # on the public map, accepts coupons
    SUSPENDED = "suspended"  # off the map and refused at redemption, may be accredited again
    REVOKED = "revoked"  # for good: no decision can change it


class Decision(StrEnum):
    ACCREDIT = "accredit"
    SUSPEND = "suspend"
    REVOKE = "revoke"


class ServiceStatus(StrEnum):
    PENDING = "pending"  # added by a venue, not offered until the operator approves it
    APPROVED = "approved"  # offered: on the map and in search, redeemable
    REFUSED = "refused"  # not offered; the operator may approve it later


class ServiceDecision(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


def service_status(service):
    """The status of a service; one stored before services were approved has none: it was
    offered then and stays offered (approved), without a migration."""
    return ServiceStatus(service.get("status") or ServiceStatus.APPROVED)


# -- the payloads ------------------------------------------------------------------------------
class LocationSchema(StrictSchema):
    lat = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(required=True, validate=validate.Range(min=-180, max=180))


class VenueInput(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    address = fields.String(required=True, validate=validate.Length(min=2, max=300))
    postcode = fields.String(
        required=True, validate=whole(r"[0-9]{5}", error="a French postcode has 5 digits")
    )
    city = fields.String(required=True, validate=validate.Length(min=1, max=100))
    town_code = town_field(required=True)
    department = department_field(required=True)
    location = fields.Nested(LocationSchema, required=True)
    venue_type = fields.String(required=True, validate=validate.OneOf(sorted(VENUE_TYPES)))
    iban = IbanField(required=True)
    siret = fields.String(load_default=None, allow_none=True)
    opening_hours = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )

    @validates("siret")
    def check_siret(self, value, **kwargs):
        if value is not None and not siret_number.is_valid(value):
            raise ValidationError("invalid SIRET (14 digits with a valid check digit)")


PHONE = r"\+?[0-9][0-9 .\-]{8,18}[0-9]"  # a French or international number, as people write it
APPLICATION_FIELDS = ("contact_email", "phone", "description", "offered_categories")


class VenueApplicationInput(VenueInput):
    """A venue applies itself (``apply_venue``, the public form): the venue's fields, its
    department read from its INSEE town code when not given, and what the operator needs to
    examine it (who to contact, the workshops it offers). Always ``applied``."""

    department = department_field(load_default=None)
    contact_email = fields.Email(required=True, validate=validate.Length(max=200))
    phone = fields.String(required=True, validate=whole(PHONE, error="not a phone number"))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    offered_categories = fields.List(
        fields.String(validate=validate.OneOf(sorted(SERVICE_CATEGORIES))),
        required=True,
        validate=validate.Length(min=1, max=len(SERVICE_CATEGORIES)),
    )

    @post_load
    def with_department(self, data, **kwargs):
        town = data["town_code"]
        department = town[:3] if town.startswith("97") else town[:2]
        if data.get("department") not in (None, department):
            raise ValidationError("the department is not the town's", "department")
        categories = list(dict.fromkeys(data["offered_categories"]))
        return {**data, "department": department, "offered_categories": categories}


class ApplicationOut(EventSchema):
    """What a venue that applied itself said, for the operator who examines it."""

    contact_email = fields.String()
    phone = fields.String()
    description = fields.String()
    offered_categories = fields.List(fields.String())


class AccreditationInput(StrictSchema):
    decision = fields.String(required=True, validate=validate.OneOf([d.value for d in Decision]))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class ServiceInput(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    category = fields.String(required=True, validate=validate.OneOf(sorted(SERVICE_CATEGORIES)))
    duration_minutes = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=15, max=480)
    )
    price_coupons = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=20)
    )


class OpeningHoursInput(StrictSchema):
    """A venue's opening information, free text shown on its public page (blank or null: none)."""

    opening_hours = fields.String(required=True, allow_none=True, validate=validate.Length(max=500))


class ServiceApprovalInput(StrictSchema):
    """The operator approves a venue's service: the service is offered from then on."""

    reason = fields.String(load_default=None, validate=validate.Length(min=3, max=500))


class ServiceRefusalInput(StrictSchema):
    """The operator refuses a venue's service (or withdraws an approved one), saying why."""

    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class ServiceQuery(StrictSchema):
    """The operator's list of services: those awaiting approval (default), or refused ones."""

    status = fields.String(
        load_default=ServiceStatus.PENDING.value,
        validate=validate.OneOf([ServiceStatus.PENDING.value, ServiceStatus.REFUSED.value]),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class VenueQuery(StrictSchema):
    """The operator's list of venues in one status (those awaiting accreditation by default)."""

    status = fields.String(
        load_default=VenueStatus.APPLIED.value,
        validate=validate.OneOf([s.value for s in VenueStatus]),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class SearchQuery(StrictSchema):
    near = fields.String(load_default=None)
    radius_km = fields.Float(load_default=None, validate=validate.Range(min=0.1, max=MAX_RADIUS_KM))
    category = fields.String(load_default=None, validate=validate.OneOf(sorted(SERVICE_CATEGORIES)))
    department = department_field(load_default=None)
    venue_type = fields.String(load_default=None, validate=validate.OneOf(sorted(VENUE_TYPES)))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))

    @validates("near")
    def check_near(self, value, **kwargs):
        if value is not None:
            parse_near(value)


def parse_near(text):
    """``"44.84,-0.58"`` -> ``(44.84, -0.58)``; ValidationError if it is not a point."""
    try:
        lat_text, lon_text = text.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except (ValueError, AttributeError):
        raise ValidationError("near must be 'lat,lon' in decimal degrees") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError("near is out of range")
    return lat, lon


class ServiceOut(EventSchema):
    id = fields.String()
    title = fields.String()
    category = fields.String()
    duration_minutes = fields.Integer()
    price_coupons = fields.Integer()


class ServiceDetailOut(ServiceOut):
    """A service as the operator and its venue see it: with its approval status and history."""

    status = fields.String(validate=validate.OneOf([s.value for s in ServiceStatus]))
    added_at = UtcDateTime(allow_none=True)
    edited_at = UtcDateTime(allow_none=True)
    history = fields.List(fields.Nested(HistoryEntry))

    @pre_dump
    def with_status(self, service, **kwargs):
        # a service stored before approvals existed has no status: it is approved
        return {**service, "status": service_status(service).value}


class ServiceQueueOut(ServiceDetailOut):
    """A service in the operator's list, with its venue."""

    venue_id = fields.String()
    venue_name = fields.String()
    venue_status = fields.String(validate=validate.OneOf([s.value for s in VenueStatus]))


class VenueOut(EventSchema):
    """A venue as the public sees it (no IBAN, no history)."""

    id = fields.String()
    name = fields.String()
    address = fields.String()
    postcode = fields.String()
    city = fields.String()
    town_code = fields.String()
    department = fields.String()
    location = fields.Nested(LocationSchema)
    venue_type = fields.String()
    opening_hours = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf([s.value for s in VenueStatus]))
    categories = fields.List(fields.String())
    services = fields.List(fields.Nested(ServiceOut))
    distance_km = fields.Float()


class VenueDetailOut(VenueOut):
    """A venue as the operator sees it."""

    iban = fields.String()
    siret = fields.String(allow_none=True)
    services = fields.List(fields.Nested(ServiceDetailOut))  # every one, with its status
    history = fields.List(fields.Nested(HistoryEntry))
    created_at = UtcDateTime()
    version = fields.Integer()
    application = fields.Nested(ApplicationOut, allow_none=True)  # when it applied itself


# The venue events' payload is part of the contract between services: shared/events.py.
