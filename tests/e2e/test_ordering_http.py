"""Ordering through the gateway, as the operator and sponsors use it over HTTP."""

import io
import re

import pytest
from pypdf import PdfReader

from shared.times import now
from tests.factories import IBANS

pytestmark = pytest.mark.e2e
ISO_Z = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z"  # times in answers, as iso() writes them

APPLICATION = {
    "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
    "geographic_area": "Gironde : Bordeaux, Mérignac, Pessac",
    "partners": ["CCAS de Bordeaux", "Pôle emploi Aquitaine"],
    "budget_cents": 3_000_000,
}


def register_sponsor(api, operator_key, make_key, kind="department", territory="33", **extra):
    payload = {"name": f"Sponsor {kind}", "kind": kind, "territory": territory, "iban": IBANS[1]}
    answer = api.post("/sponsors", json={**payload, **extra}, key=operator_key)
    assert answer.status_code == 201, answer.text
    sponsor = answer.json()
    return sponsor, make_key("sponsor", sponsor["id"])


def order_payload(sponsor, cofunded=True, quantity=200):
    payload = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": quantity}],
        "rules": {"territories": ["33"], "venue_types": [], "categories": ["smartphone_use"]},
    }
    if cofunded:
        payload["state_cofunding"] = APPLICATION
    return payload


def plain(text):
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def test_order_from_draft_to_confirmed_with_state_cofunding(api, operator_key, make_key):
    sponsor, key = register_sponsor(
        api, operator_key, make_key, address="Esplanade Charles de Gaulle, 33000 Bordeaux"
    )
    assert sponsor["id"].startswith("spo_") and sponsor["kind"] == "department"
    assert api.get(f"/sponsors/{sponsor['id']}", key=key).json()["name"] == "Sponsor department"

    answer = api.post(
        "/distributors",
        json={"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"},
        key=key,
    )
    assert answer.status_code == 201, answer.text
    distributor = answer.json()
    distributor_key = make_key("distributor", distributor["id"])
    assert api.get(f"/distributors/{distributor['id']}", key=distributor_key).status_code == 200

    answer = api.post("/orders", json=order_payload(sponsor), key=key)
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert order["id"].startswith("ord_") and order["status"] == "draft"
    assert order["quote"] == {
        "coupon_count": 2000,
        "face_value_cents": 2_000_000,
        "fee_cents": 80_000,
        "state_share_cents": 1_000_000,
        "sponsor_due_cents": 1_080_000,
    }
    oid = order["id"]

    answer = api.post(f"/orders/{oid}/submit", key=key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cofunding_pending"
    # the invoice is issued once the amounts are final
    assert api.get(f"/orders/{oid}/invoice.pdf", key=key).status_code == 409

    answer = api.post(
        f"/orders/{oid}/cofunding-decision",
        json={"decision": "approve", "reason": "dossier complet, publics cibles conformes"},
        key=operator_key,
    )
    assert answer.status_code == 200, answer.text
    reference = answer.json()["invoice"]["reference"]
    assert re.fullmatch(rf"INV-{now().year}-\d{{6}}", reference)
    assert re.fullmatch(ISO_Z, answer.json()["invoice"]["issued_at"])

    payment = {"amount_cents": 1_080_000, "payer": "sponsor", "reference": "VIR-GIRONDE-0001"}
    answer = api.post(f"/orders/{oid}/payments", json=payment, key=operator_key)
    assert answer.status_code == 201, answer.text
    replay = api.post(f"/orders/{oid}/payments", json=payment, key=operator_key)
    assert replay.status_code == 200 and replay.json()["created"] is False
    state = {"amount_cents": 1_000_000, "payer": "state", "reference": "ANCT-2026-0042"}
    answer = api.post(f"/orders/{oid}/payments", json=state, key=operator_key)
    assert answer.status_code == 201 and answer.json()["order"]["status"] == "confirmed"

    order = api.get(f"/orders/{oid}", key=key).json()
    assert order["status"] in ("confirmed", "issued")  # issuance may already have printed it
    assert [p["reference"] for p in order["payments"]] == ["VIR-GIRONDE-0001", "ANCT-2026-0042"]
    assert order["paid"] == {"sponsor_cents": 1_080_000, "state_cents": 1_000_000}
    steps = [(h["from"], h["to"]) for h in order["history"]][:5]
    assert steps == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "cofunding_pending"),
        ("cofunding_pending", "cofunding_approved"),
        ("cofunding_approved", "confirmed"),
    ]
    assert order["history"][3]["by"]["role"] == "operator"
    assert order["history"][1]["by"]["subject_id"] == sponsor["id"]
    times = [order["created_at"], *(h["at"] for h in order["history"])]
    times += [p["received_at"] for p in order["payments"]]
    assert all(re.fullmatch(ISO_Z, t) for t in times), times
    assert order["created_at"] == order["history"][0]["at"]

    listed = api.get("/orders", key=key).json()
    assert listed["total"] == 1 and listed["orders"][0]["id"] == oid

    pdf = api.get(f"/orders/{oid}/invoice.pdf", key=key)
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = plain(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text())
    assert reference in text
    assert "20 800,00 €" in text and "10 800,00 €" in text and "10 000,00 €" in text
    again = api.get(f"/orders/{oid}/invoice.pdf", key=operator_key)
    assert plain(PdfReader(io.BytesIO(again.content)).pages[0].extract_text()) == text

    # not cancellable once confirmed (issuance may print it at any moment): nothing changes
    answer = api.post(f"/orders/{oid}/cancel", json={"reason": "budget gelé"}, key=key)
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_order_transition"
    assert error["details"]["status"] in ("confirmed", "issued")
    after = api.get(f"/orders/{oid}", key=key).json()
    assert after["status"] in ("confirmed", "issued")
    assert "cancelled" not in [entry["to"] for entry in after["history"]]


def test_envelope_exhausted_and_campaign_settings(api, operator_key, make_key):
    year = now().year
    answer = api.post(
        "/cofunding-campaigns",
        json={"year": year, "rate_bp": 5000, "envelope_cents": 500_000},
        key=operator_key,
    )
    assert answer.status_code == 200 and answer.json()["remaining_cents"] == 500_000
    sponsor, key = register_sponsor(
        api, operator_key, make_key, "town", "33063", members=["33281", "33318"]
    )
    order = api.post("/orders", json=order_payload(sponsor), key=key).json()
    submitted = api.post(f"/orders/{order['id']}/submit", key=key).json()
    assert submitted["status"] == "cofunding_refused"
    assert submitted["cofunding"]["reason_code"] == "cofunding_envelope_exhausted"
    assert submitted["quote"]["sponsor_due_cents"] == 2_080_000
    assert submitted["invoice"]["reference"]
    campaign = api.get(f"/cofunding-campaigns/{year}", key=operator_key).json()
    assert campaign["remaining_cents"] == 500_000
    assert api.get(f"/cofunding-campaigns/{year}", key=key).status_code == 403
    assert api.get("/cofunding-campaigns/next", key=operator_key).status_code == 400
    smaller = {"year": year, "rate_bp": 5000, "envelope_cents": 100}
    assert api.post("/cofunding-campaigns", json=smaller, key=operator_key).status_code == 200

    # the minimum co-funded order and the kinds it applies to are the campaign's settings
    assert campaign["minimum_order_cents"] == 1_000_000
    assert campaign["minimum_order_kinds"] == ["town", "town_group"]
    stricter = {**smaller, "minimum_order_cents": 2_000_000, "minimum_order_kinds": ["department"]}
    answer = api.post("/cofunding-campaigns", json=stricter, key=operator_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["minimum_order_kinds"] == ["department"]
    department, department_key = register_sponsor(api, operator_key, make_key, "department", "24")
    small = order_payload(department, quantity=100)  # 10,000 EUR: under this campaign's minimum
    answer = api.post("/orders", json=small, key=department_key)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["details"]["rule"] == "minimum_order"
    bad = {**smaller, "minimum_order_kinds": ["kingdom"]}
    assert api.post("/cofunding-campaigns", json=bad, key=operator_key).status_code == 400


def test_errors(api, operator_key, make_key):
    sponsor, key = register_sponsor(api, operator_key, make_key)
    other, other_key = register_sponsor(api, operator_key, make_key, "region", "75")
    order = api.post("/orders", json=order_payload(sponsor, cofunded=False), key=key).json()
    oid = order["id"]

    # 400: field errors, malformed JSON
    bad = {**order_payload(sponsor), "lines": [{"coupons_per_booklet": 7, "quantity": 0}]}
    answer = api.post("/orders", json=bad, key=key)
    assert answer.status_code == 400
    line_errors = answer.json()["error"]["details"]["fields"]["lines"]["0"]
    assert set(line_errors) == {"coupons_per_booklet", "quantity"}
    bad_sponsor = {"name": "X", "kind": "kingdom", "territory": "33", "iban": "FR00"}
    answer = api.post("/sponsors", json=bad_sponsor, key=operator_key)
    assert set(answer.json()["error"]["details"]["fields"]) == {"name", "kind", "iban"}
    assert api.post("/orders", data="{nope", key=key).json()["error"]["code"] == "invalid_json"

    # 401
    assert api.post("/orders", json=order_payload(sponsor)).status_code == 401
    assert api.get(f"/orders/{oid}", key="ak_forged").status_code == 401

    # 403: wrong role, not yours
    counter = {"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"}
    counter = api.post("/distributors", json=counter, key=key).json()  # a real one
    distributor_key = make_key("distributor", counter["id"])
    for path in ("/orders", "/sponsors"):
        answer = api.post(path, json=order_payload(sponsor), key=distributor_key)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "wrong_role"
    answer = api.post("/orders", json=order_payload(sponsor), key=operator_key)
    assert answer.json()["error"]["code"] == "wrong_role"
    answer = api.post(f"/orders/{oid}/payments", json={}, key=key)
    assert answer.json()["error"]["code"] == "wrong_role"
    for method, path in (
        ("GET", f"/orders/{oid}"),
        ("POST", f"/orders/{oid}/submit"),
        ("POST", f"/orders/{oid}/cancel"),
        ("GET", f"/orders/{oid}/invoice.pdf"),
        ("GET", f"/sponsors/{sponsor['id']}"),
        ("GET", f"/orders?sponsor_id={sponsor['id']}"),
    ):
        answer = api.request(method, path, key=other_key)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "not_yours"
    answer = api.post("/orders", json=order_payload(sponsor), key=other_key)
    assert answer.json()["error"]["code"] == "not_yours"
    distributor = {"name": "CCAS", "sponsor_id": sponsor["id"], "town_code": "33063"}
    assert api.post("/distributors", json=distributor, key=other_key).status_code == 403

    # 404: unknown or forged ids
    for path in ("/orders/ord_ffffffffffffffffffff", "/orders/ord_%24ne", "/orders/..%2F..%2Fetc"):
        answer = api.get(path, key=operator_key)
        assert answer.status_code == 404, (path, answer.text)
    answer = api.get("/orders/ord_ffffffffffffffffffff", key=operator_key)
    assert answer.json()["error"]["code"] == "order_not_found"
    ghost = {**order_payload(sponsor), "sponsor_id": "spo_ffffffffffffffffffff"}
    assert api.post("/sponsors/spo_ffffffffffffffffffff", key=operator_key).status_code == 405
    # no key can be bound to a sponsor that does not exist (no order can name one either)
    answer = api.post(
        "/api-keys", json={"role": "sponsor", "subject_id": ghost["sponsor_id"]}, key=operator_key
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "sponsor_not_found"

    # 409: wrong state
    answer = api.get(f"/orders/{oid}/invoice.pdf", key=key)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "invoice_not_issued"
    payment = {"amount_cents": 100, "payer": "sponsor", "reference": "V1"}
    answer = api.post(f"/orders/{oid}/payments", json=payment, key=operator_key)
    assert (
        answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_order_transition"
    )
    assert api.post(f"/orders/{oid}/submit", key=key).status_code == 200
    answer = api.post(f"/orders/{oid}/submit", key=key)
    assert (
        answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_order_transition"
    )
    decision = {"decision": "approve", "reason": "why not"}
    answer = api.post(f"/orders/{oid}/cofunding-decision", json=decision, key=operator_key)
    assert answer.status_code == 409

    # 422: business refusals
    company, company_key = register_sponsor(api, operator_key, make_key, "company")
    answer = api.post("/orders", json=order_payload(company), key=company_key)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "cofunding_not_eligible"
    assert answer.json()["error"]["details"]["rule"] == "local_authority"
    too_much = {"amount_cents": 2_080_001, "payer": "sponsor", "reference": "V2"}
    answer = api.post(f"/orders/{oid}/payments", json=too_much, key=operator_key)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "overpayment"
    state = {"amount_cents": 100, "payer": "state", "reference": "S1"}
    answer = api.post(f"/orders/{oid}/payments", json=state, key=operator_key)
    assert answer.json()["error"]["code"] == "state_payment_not_expected"

    # a payment reference reused with another amount is a conflict, not a second payment
    api.post(f"/orders/{oid}/payments", json={**payment, "reference": "V3"}, key=operator_key)
    answer = api.post(
        f"/orders/{oid}/payments",
        json={**payment, "reference": "V3", "amount_cents": 5},
        key=operator_key,
    )
    assert (
        answer.status_code == 409 and answer.json()["error"]["code"] == "payment_reference_conflict"
    )
    assert len(api.get(f"/orders/{oid}", key=key).json()["payments"]) == 1


def test_openapi_lists_the_ordering_routes(api):
    spec = api.get("/openapi.json").json()
    for path in (
        "/orders",
        "/orders/{order_id}/payments",
        "/orders/{order_id}/invoice.pdf",
        "/sponsors",
    ):
        assert path in spec["paths"], path
    assert "OrderInput" in spec["components"]["schemas"]
