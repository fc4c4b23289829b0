"""Inputs of the ordering service: what is refused, with which field named."""

import pytest

from shared.contracts.schemas_ordering import (
    CampaignInput,
    OrderInput,
    PaymentInput,
    SponsorInput,
)
from shared.errors import ValidationFailed
from tests.factories import IBANS

SPONSOR = {"name": "Bordeaux Métropole", "kind": "metropolis", "territory": "33", "iban": IBANS[0]}
ORDER = {
    "sponsor_id": "spo_0123456789abcdef0123",
    "lines": [{"coupons_per_booklet": 10, "quantity": 1}],
}


def fields_refused(schema, payload):
    with pytest.raises(ValidationFailed) as caught:
        schema.load_or_raise(payload)
    return caught.value.details["fields"]


def test_sponsor_valid_and_iban_compacted():
    loaded = SponsorInput().load_or_raise({**SPONSOR, "iban": "fr76 3000 6000 0112 3456 7890 189"})
    assert loaded["iban"] == "FR7630006000011234567890189" and loaded["members"] == []


def test_sponsor_refusals():
    bad = {**SPONSOR, "kind": "city", "territory": "99", "iban": "FR7630006000011234567890188"}
    assert set(fields_refused(SponsorInput(), bad)) == {"kind", "territory", "iban"}
    group = {**SPONSOR, "kind": "town_group", "territory": "33063", "members": ["33063"]}
    assert "members" in fields_refused(SponsorInput(), group)
    twice = {**group, "members": ["33063", "33063"]}
    assert "members" in fields_refused(SponsorInput(), twice)
    company = {**SPONSOR, "kind": "company", "members": ["33063", "33281"]}
    assert "members" in fields_refused(SponsorInput(), company)
    assert "siret" in fields_refused(SponsorInput(), {**SPONSOR, "siret": "12345678901234"})
    assert "admin" in fields_refused(SponsorInput(), {**SPONSOR, "admin": True})
    ok = {**SPONSOR, "kind": "town_group", "territory": "2A004", "members": ["2A004", "2B033"]}
    assert SponsorInput().load_or_raise(ok)["members"] == ["2A004", "2B033"]


def test_order_line_defaults_to_10_eur_coupons():
    assert OrderInput().load_or_raise(ORDER)["lines"][0]["face_value_cents"] == 1000
    assert OrderInput().load_or_raise(ORDER)["rules"] == {
        "territories": [],
        "venue_types": [],
        "categories": [],
    }


@pytest.mark.parametrize(
    "line",
    [
        {"coupons_per_booklet": 7, "quantity": 1},
        {"coupons_per_booklet": 10, "quantity": 0},
        {"coupons_per_booklet": 10, "quantity": 100_001},
        {"coupons_per_booklet": 10, "quantity": "3"},
        {"coupons_per_booklet": 10, "quantity": 1.5},
        {"coupons_per_booklet": 10, "quantity": 1, "face_value_cents": 0},
        {"coupons_per_booklet": 10, "quantity": 1, "face_value_cents": 10_001},
        {"coupons_per_booklet": 10, "quantity": 1, "face_value_cents": 9.99},
        {"coupons_per_booklet": 10, "quantity": 1, "discount": 5},
    ],
)
def test_bad_lines(line):
    assert "lines" in fields_refused(OrderInput(), {**ORDER, "lines": [line]})


def test_order_refusals():
    assert "lines" in fields_refused(OrderInput(), {**ORDER, "lines": []})
    assert "lines" in fields_refused(OrderInput(), {**ORDER, "lines": ORDER["lines"] * 21})
    big = [{"coupons_per_booklet": 10, "quantity": 100_000}] * 2  # 2 M coupons
    assert "lines" in fields_refused(OrderInput(), {**ORDER, "lines": big})
    assert (
        OrderInput().load_or_raise({**ORDER, "lines": big[:1]})["lines"][0]["quantity"] == 100_000
    )
    assert "sponsor_id" in fields_refused(OrderInput(), {**ORDER, "sponsor_id": "../spo"})
    rules = {"territories": ["33", "3306"], "categories": ["DROP TABLE"]}
    refused = fields_refused(OrderInput(), {**ORDER, "rules": rules})["rules"]
    assert set(refused) == {"territories", "categories"}
    application = {
        "target_publics": {"skills_plan_priority_pct": 60, "digital_precarity_pct": 30},
        "geographic_area": "Gironde",
        "budget_cents": 100,
    }
    refused = fields_refused(OrderInput(), {**ORDER, "state_cofunding": application})
    assert "target_publics" in refused["state_cofunding"]


def test_payment_refusals():
    good = {"amount_cents": 100, "payer": "sponsor", "reference": "VIR 2026-11/0001"}
    assert PaymentInput().load_or_raise(good)["reference"] == "VIR 2026-11/0001"
    for bad in (
        {**good, "amount_cents": 0},
        {**good, "amount_cents": -5},
        {**good, "amount_cents": True},
        {**good, "payer": "bank"},
        {**good, "reference": ""},
        {**good, "reference": "x" * 65},
        {**good, "reference": "$where"},
    ):
        with pytest.raises(ValidationFailed):
            PaymentInput().load_or_raise(bad)


def test_campaign_refusals():
    good = {"year": 2026, "rate_bp": 5000, "envelope_cents": 1_500_000_000}
    assert CampaignInput().load_or_raise(good) == good
    for bad in ({**good, "rate_bp": 0}, {**good, "rate_bp": 10_001}, {**good, "year": 1999}):
        with pytest.raises(ValidationFailed):
            CampaignInput().load_or_raise(bad)
