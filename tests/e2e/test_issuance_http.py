"""Issuance through the gateway: an order paid and confirmed by ordering is issued; its booklets
are listed, dispatched, assigned, activated, cancelled and printed over HTTP, with role checks."""

import io
import re
import subprocess
import time

import pytest
from nameko.standalone.events import event_dispatcher
from pypdf import PdfReader

from shared.serials import booklet_serial, coupon_serial, security_code
from tests.conftest import TEST_SECRETS
from tests.factories import IBANS

pytestmark = pytest.mark.e2e


def register_sponsor(api, operator_key, make_key, name):
    payload = {"name": name, "kind": "department", "territory": "33", "iban": IBANS[1]}
    answer = api.post("/sponsors", json=payload, key=operator_key)
    assert answer.status_code == 201, answer.text
    sponsor = answer.json()
    return sponsor, make_key("sponsor", sponsor["id"])


def register_distributor(api, sponsor, key, make_key, town_code="33318"):
    payload = {"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": town_code}
    answer = api.post("/distributors", json=payload, key=key)
    assert answer.status_code == 201, answer.text
    distributor = answer.json()
    return distributor, make_key("distributor", distributor["id"])


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer is not None:
            return answer
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def booklets_when_issued(api, order_id, key):
    def check():
        answer = api.get(f"/orders/{order_id}/booklets", key=key)
        return answer.json() if answer.ok and answer.json()["status"] == "published" else None

    return wait_for(check)


def test_from_paid_order_to_printed_activated_and_cancelled_booklets(api, operator_key, make_key):
    sponsor, key = register_sponsor(api, operator_key, make_key, "Département de la Gironde")
    other, other_key = register_sponsor(api, operator_key, make_key, "Département des Landes")
    distributor, distributor_key = register_distributor(api, sponsor, key, make_key)
    stranger, stranger_key = register_distributor(api, other, other_key, make_key)

    order = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 3}],
    }
    answer = api.post("/orders", json=order, key=key)
    assert answer.status_code == 201, answer.text
    oid = answer.json()["id"]
    assert api.post(f"/orders/{oid}/submit", key=key).status_code == 200
    payment = {"amount_cents": 31_200, "payer": "sponsor", "reference": "VIR-0001"}
    answer = api.post(f"/orders/{oid}/payments", json=payment, key=operator_key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["order"]["status"] == "confirmed"

    # issued: the order's booklets, listed for its sponsor, never with a code
    issued = booklets_when_issued(api, oid, key)
    assert issued["total"] == 3 and issued["booklet_count"] == 3 and issued["coupon_count"] == 30
    serials = [b["serial"] for b in issued["booklets"]]
    first, second, third = serials
    assert issued["booklets"][0]["last_coupon_serial"] == coupon_serial(
        int(issued["booklets"][0]["first_coupon_serial"][:-1]) + 9
    )
    secret = TEST_SECRETS["OPERATOR_SECRET"]
    shown = api.get(f"/orders/{oid}/booklets", key=key).text
    shown += "".join(api.get(f"/booklets/{serial}", key=operator_key).text for serial in serials)
    every = [
        s
        for serial in serials
        for s in api.get(f"/booklets/{serial}", key=key).json()["coupon_serials"]
    ]
    assert len(every) == 30 and all(s in shown for s in every)
    assert not any(security_code(secret, s) in shown for s in every)  # codes: on paper only
    wait_for(lambda: api.get(f"/orders/{oid}", key=key).json()["status"] == "issued" or None)

    # role and ownership checks
    assert api.get(f"/orders/{oid}/booklets", key=other_key).json()["error"]["code"] == "not_yours"
    assert api.get(f"/orders/{oid}/booklets", key=distributor_key).status_code == 403
    assert api.get(f"/orders/{oid}/booklets").status_code == 401
    answer = api.get(f"/booklets/{first}", key=other_key)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_yours")
    forged = first[:-1] + str((int(first[-1]) + 1) % 10)
    answer = api.get(f"/booklets/{forged}", key=operator_key)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_serial")
    answer = api.get(f"/booklets/{booklet_serial(99_999_999)}", key=operator_key)
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "booklet_not_found")
    assert api.get("/orders/ord_00000000000000000000/booklets", key=operator_key).status_code == 404

    # lifecycle: dispatched by the operator, assigned by the sponsor, activated by the distributor
    answer = api.post(
        f"/booklets/{first}/assignment", json={"distributor_id": distributor["id"]}, key=key
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (
        409,
        "invalid_booklet_transition",
    )
    answer = api.post(f"/orders/{oid}/booklets/dispatch", key=operator_key)
    assert answer.json() == {"order_id": oid, "dispatched": 3}
    assert api.post(f"/booklets/{first}/dispatch", key=operator_key).status_code == 409
    answer = api.post(
        f"/booklets/{first}/assignment", json={"distributor_id": stranger["id"]}, key=key
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (
        422,
        "distributor_of_another_sponsor",
    )
    answer = api.post(
        f"/booklets/{first}/assignment", json={"distributor_id": distributor["id"]}, key=other_key
    )
    assert answer.status_code == 403
    answer = api.post(
        f"/booklets/{first}/assignment", json={"distributor_id": distributor["id"]}, key=key
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "assigned"
    assert (
        api.get(f"/booklets/{first}", key=distributor_key).json()["distributor_id"]
        == distributor["id"]
    )
    assert api.get(f"/booklets/{second}", key=distributor_key).status_code == 403

    profile = {"age_band": "56_65", "public_category": "job_seeker", "postcode": "33600"}
    answer = api.post(f"/booklets/{first}/activation", json={"profile": profile}, key=stranger_key)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "not_yours")
    answer = api.post(
        f"/booklets/{first}/activation",
        json={"profile": {"name": "Jean Dupont"}},
        key=distributor_key,
    )
    assert answer.status_code == 400  # anonymous only: no other field is accepted
    answer = api.post(
        f"/booklets/{first}/activation", json={"profile": profile}, key=distributor_key
    )
    assert answer.status_code == 200, answer.text
    booklet = answer.json()
    assert booklet["status"] == "activated" and booklet["profile"] == profile
    assert booklet["valid_from"] == booklet["activated_at"]
    assert int(booklet["valid_until"][:4]) == int(booklet["activated_at"][:4]) + 1
    for field in ("issued_at", "activated_at", "valid_until"):  # as iso() writes them
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", booklet[field])

    # cancellation: lost or stolen, by its sponsor or the operator
    answer = api.post(f"/booklets/{second}/cancellation", json={"reason": "broken"}, key=key)
    assert answer.status_code == 400
    assert (
        api.post(
            f"/booklets/{second}/cancellation", json={"reason": "lost"}, key=other_key
        ).status_code
        == 403
    )
    answer = api.post(f"/booklets/{second}/cancellation", json={"reason": "stolen"}, key=key)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    trail = api.get(f"/booklets/{second}", key=operator_key).json()["history"]
    assert [(h["from"], h["to"], h["by"]["role"]) for h in trail] == [
        (None, "issued", "system"),
        ("issued", "dispatched", "operator"),
        ("dispatched", "cancelled", "sponsor"),
    ]

    # print files: the order for the operator, one booklet for its sponsor
    assert api.get(f"/orders/{oid}/print.pdf", key=key).status_code == 403
    answer = api.get(f"/orders/{oid}/print.pdf", key=operator_key)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(answer.content)).pages) == 9
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=answer.content, capture_output=True, check=True
    ).stdout.decode()
    for item in issued["booklets"]:
        assert item["serial"] in text
        start = int(item["first_coupon_serial"][:-1])
        for number in range(start, start + 10):
            serial = coupon_serial(number)
            assert serial in text and security_code(secret, serial) in text
    answer = api.get(f"/booklets/{third}/print.pdf", key=key)
    assert answer.status_code == 200 and len(PdfReader(io.BytesIO(answer.content)).pages) == 3
    assert api.get(f"/booklets/{third}/print.pdf", key=other_key).status_code == 403
    assert api.get(f"/booklets/{third}/print.pdf", key=distributor_key).status_code == 403
    # once handed out, a booklet's codes are the beneficiary's: its sponsor cannot print them again
    answer = api.get(f"/booklets/{first}/print.pdf", key=key)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "booklet_handed_out")
    assert answer.json()["error"]["details"] == {"serial": first, "status": "activated"}
    assert api.get(f"/booklets/{first}/print.pdf", key=operator_key).status_code == 200
    # every print file made is in the booklet's audit trail: who obtained the codes, and when
    printed = [
        (h["by"]["role"], h["from"], h["to"])
        for h in api.get(f"/booklets/{third}", key=operator_key).json()["history"]
        if h.get("reason") == "print file"
    ]
    assert printed == [
        ("operator", "dispatched", "dispatched"),
        ("sponsor", "dispatched", "dispatched"),
    ]
    trail = api.get(f"/booklets/{first}", key=operator_key).json()["history"]
    assert [(h["by"]["role"], h["to"]) for h in trail if h.get("reason") == "print file"] == [
        ("operator", "activated"),  # the order's print file
        ("operator", "activated"),  # this booklet's, by the operator
    ]


def test_order_confirmed_by_event_and_hostile_input(api, operator_key, make_key, stack_config):
    """``order_confirmed`` dispatched into the stack as ordering would, delivered twice."""
    sponsor, sponsor_key = register_sponsor(api, operator_key, make_key, "Commune de Pessac")
    event = {
        "order_id": "ord_00000000000000000001",
        "sponsor_id": sponsor["id"],
        "sponsor_name": "Commune de Pessac",
        "sponsor_kind": "town",
        "territory": "33318",
        "lines": [
            {"line_no": 1, "coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": 2}
        ],
        "coupon_count": 10,
        "face_value_cents": 10_000,
        "fee_cents": 400,
        "state_share_cents": 0,
        "sponsor_due_cents": 10_400,
        "cofunded": False,
        "state_rate_bp": 0,
        "rules": {"territories": [], "venue_types": [], "categories": []},
        "payments": [],
        "confirmed_at": "2026-11-22T10:00:00Z",
    }
    dispatch = event_dispatcher(stack_config)
    dispatch("ordering", "order_confirmed", event)
    dispatch("ordering", "order_confirmed", event)
    issued = booklets_when_issued(api, event["order_id"], sponsor_key)
    time.sleep(0.5)
    issued = api.get(f"/orders/{event['order_id']}/booklets", key=sponsor_key).json()
    assert issued["total"] == 2 and issued["coupon_count"] == 10
    serial = issued["booklets"][0]["serial"]
    for path in (
        "/booklets/B12",
        "/booklets/" + "B" + "1" * 300,
        "/booklets/%00%01",
        "/booklets/00000000014",
    ):
        answer = api.get(path, key=operator_key)
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert "error" in answer.json()
    answer = api.post(f"/booklets/{serial}/cancellation", data=b"{not json", key=sponsor_key)
    assert answer.status_code == 400
    answer = api.post(
        f"/booklets/{serial}/cancellation",
        json={"reason": "lost", "x": "y" * 70_000},
        key=sponsor_key,
    )
    assert answer.status_code == 413
    answer = api.get(f"/orders/{event['order_id']}/booklets?limit=0", key=sponsor_key)
    assert answer.status_code == 400
    assert re.fullmatch(r"B\d{9}", serial)
