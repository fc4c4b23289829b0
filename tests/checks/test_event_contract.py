"""Event payloads carry money and counts as strict integers: a consumer books what it loads, so
``1234.9`` must not load as 1234, nor ``"-5"`` as -5."""

import inspect

import pytest
from marshmallow import ValidationError, fields

from shared import events
from shared.errors import AppError

SCHEMAS = [
    cls
    for _, cls in inspect.getmembers(events, inspect.isclass)
    if issubclass(cls, events.EventSchema) and cls is not events.EventSchema
]
MONEY_FIELDS = [
    (schema, name)
    for schema in SCHEMAS
    for name, field in schema().fields.items()
    if name.endswith("_cents") and isinstance(field, fields.Integer)
]


def test_every_amount_of_every_event_is_found():
    assert len(MONEY_FIELDS) >= 8
    assert (events.OrderConfirmed, "fee_cents") in MONEY_FIELDS
    assert (events.CouponsRedeemed, "total_cents") in MONEY_FIELDS


@pytest.mark.parametrize("schema,name", MONEY_FIELDS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("bad", [1234.9, "1234", "-5", -5, True, None])
def test_a_loose_or_negative_amount_is_refused(schema, name, bad):
    field = schema().fields[name]
    with pytest.raises(ValidationError):
        field.deserialize(bad)
    assert field.deserialize(1234) == 1234 and field.deserialize(0) == 0


def test_a_whole_payload_with_a_float_amount_is_refused():
    payload = {
        "redemption_id": "red_0123456789abcdef0123",
        "venue_id": "ven_0123456789abcdef0123",
        "service_id": "svc_0123456789abcdef0123",
        "category": "online_admin_procedures",
        "coupons": [],
        "total_cents": 1000.5,
        "redeemed_at": "2026-04-01T10:00:00Z",
    }
    with pytest.raises(AppError) as raised:
        events.CouponsRedeemed().load_or_raise(payload)
    assert "total_cents" in raised.value.details["fields"]
