"""Patterns match whole ASCII strings: a final newline or non-ASCII digits used to slip through
(``"DUPKEY-1\\n"`` was recorded although ``DUPKEY-1`` existed: "the same reference records once"
defeated)."""

import pytest
from marshmallow import ValidationError

from shared.contracts.schemas_catalog import VenueInput
from shared.contracts.schemas_ordering import PaymentInput
from shared.contracts.schemas_redemption import RedemptionInput
from shared.errors import AppError
from shared.schemas import whole

COUPON = {"serial": "00000000015", "code": "ABCDEFGH"}


def refused(schema, payload):
    with pytest.raises(AppError) as raised:
        schema.load_or_raise(payload)
    return raised.value.details["fields"]


def test_whole_refuses_a_final_newline_and_non_ascii_digits():
    validator = whole(r"[0-9]{5}")
    assert validator("33700") == "33700"
    for bad in ("33700\n", "٣٣٧٠٠", "３３７００", " 33700", "337001"):
        with pytest.raises(ValidationError):
            validator(bad)


def test_a_payment_reference_with_a_final_newline_is_refused():
    payment = {"amount_cents": 1000, "payer": "sponsor", "reference": "DUPKEY-1"}
    assert PaymentInput().load_or_raise(payment)["reference"] == "DUPKEY-1"
    assert "reference" in refused(PaymentInput(), {**payment, "reference": "DUPKEY-1\n"})


def test_an_idempotency_key_with_a_final_newline_is_refused():
    body = {"service_id": "svc_1", "coupons": [COUPON], "idempotency_key": "key-00000001"}
    assert RedemptionInput().load_or_raise(body)["idempotency_key"] == "key-00000001"
    bad = {**body, "idempotency_key": "key-00000001\n"}
    assert "idempotency_key" in refused(RedemptionInput(), bad)


def test_the_same_coupon_under_two_spellings_is_a_duplicate():
    body = {
        "service_id": "svc_1",
        "coupons": [COUPON, {"serial": "0000.0000.015", "code": "ABCDEFGH"}],
        "idempotency_key": "key-00000002",
    }
    assert "coupons" in refused(RedemptionInput(), body)


def test_a_postcode_in_other_digits_is_refused():
    from tests.factories import venue_payload

    venue = venue_payload("merignac")
    assert VenueInput().load_or_raise(venue)["postcode"] == venue["postcode"]
    arabic = venue["postcode"].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert "postcode" in refused(VenueInput(), {**venue, "postcode": arabic})
    assert "postcode" in refused(VenueInput(), {**venue, "postcode": venue["postcode"] + "\n"})
