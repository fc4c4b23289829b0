"""The sponsor's order form read into ordering's payload (no money computed here), and every
refusal of issuance and ordering the sponsor's pages may meet has its French sentence."""

import pytest
from werkzeug.datastructures import MultiDict

from services.web import labels
from services.web.pages.sponsor import (
    cofunding_application,
    form_values,
    grouped,
    order_lines,
    order_rules,
    rate_text,
)
from shared.contracts import errors_issuance

APPLICATION = {
    "cofunding": "1",
    "skills_pct": "50",
    "precarity_pct": "50",
    "area": "Gironde, quartiers prioritaires",
    "partners": "CCAS de Pessac\r\n\r\nMairie de Talence\r\n",
    "budget": "30 000,00",
}


def test_the_form_s_lines_are_ordering_s_lines():
    values = form_values(
        {"quantity_1": "100", "per_booklet_1": "10", "face_value_1": "10,00 €", "quantity_2": ""}
    )
    assert order_lines(values) == (
        [{"quantity": 100, "coupons_per_booklet": 10, "face_value_cents": 1000}],
        {},
    )
    two = {**values, "quantity_2": "1 000", "per_booklet_2": "5", "face_value_2": "9.5"}
    lines, errors = order_lines(two)
    assert errors == {}
    assert lines[1] == {"quantity": 1000, "coupons_per_booklet": 5, "face_value_cents": 950}


@pytest.mark.parametrize(
    ("typed", "errors"),
    [
        ({"quantity_1": ""}, {"quantity_1": "quantity_missing"}),
        ({"quantity_1": "1o0"}, {"quantity_1": "quantity"}),
        ({"quantity_1": "0"}, {"quantity_1": "quantity"}),
        ({"quantity_1": "100001"}, {"quantity_1": "quantity"}),
        ({"quantity_1": "3", "per_booklet_1": "7"}, {"per_booklet_1": "per_booklet"}),
        ({"quantity_1": "3", "face_value_1": "dix"}, {"face_value_1": "face_value"}),
        ({"quantity_1": "3", "face_value_1": "100,01"}, {"face_value_1": "face_value"}),
        ({"quantity_1": "3", "quantity_2": "-2"}, {"quantity_2": "quantity"}),
    ],
)
def test_what_is_wrong_is_named_on_its_field(typed, errors):
    assert order_lines(form_values(typed))[1] == errors
    for code in errors.values():
        assert code in labels.ORDER_FORM_ERRORS


def test_the_cofunding_application_as_ordering_takes_it():
    application, errors = cofunding_application(form_values(APPLICATION))
    assert errors == {}
    assert application == {
        "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
        "geographic_area": "Gironde, quartiers prioritaires",
        "partners": ["CCAS de Pessac", "Mairie de Talence"],
        "budget_cents": 3_000_000,
    }
    wrong = {**APPLICATION, "precarity_pct": "40", "area": "G", "budget": ""}
    _, errors = cofunding_application(form_values(wrong))
    assert errors == {"precarity_pct": "percent_total", "area": "area", "budget": "budget"}
    assert set(errors.values()) <= set(labels.ORDER_FORM_ERRORS)


def test_rates_and_counts_as_people_read_them():
    assert rate_text(400) == "4\u00a0%"
    assert rate_text(5000) == "50\u00a0%"
    assert rate_text(3750) == "37,5\u00a0%"
    assert grouped(1000) == "1\u202f000" and grouped(999) == "999"


def test_every_refusal_of_a_booklet_action_has_its_sentence():
    codes = {
        cls.code
        for cls in vars(errors_issuance).values()
        if isinstance(cls, type)
        and getattr(cls, "code", None)
        and cls.__module__.endswith("issuance")
    }
    for code in codes - {"issue_in_progress", "order_not_issued", "booklet_handed_out"}:
        assert labels.booklet_refusal(code, "block") != labels.UNKNOWN_BOOKLET_REFUSAL, code
    for action in ("assign", "block", "lost", "stolen"):
        assert labels.booklet_done(action)
        assert labels.booklet_refusal("invalid_booklet_transition", action) in (
            labels.BOOKLET_TRANSITIONS.values()
        )


def test_the_rules_ticked_and_typed():
    form = MultiDict(
        [
            ("territories", "33, 40;2a004 "),
            ("venue_types", "library"),
            ("venue_types", "not_a_type"),
            ("categories", "smartphone_use"),
            ("categories", "online_health"),
        ]
    )
    assert order_rules(form_values(form)) == {
        "territories": ["33", "40", "2A004"],
        "venue_types": ["library"],
        "categories": ["smartphone_use", "online_health"],
    }
    assert order_rules(form_values({})) == {"territories": [], "venue_types": [], "categories": []}
