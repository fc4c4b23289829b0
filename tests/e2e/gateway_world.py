"""A small real world behind the gateway, made through the API, for the tests that go over every
route: the authorization matrix and schemathesis.

Two of each subject (the caller's own, and another), each with its key: sponsors A and B,
distributors A (of A) and B (of B), venues A and B (both accredited); an order of A confirmed and
issued (its booklets for each booklet route), a redemption of venue A, a settlement run that paid
it, an expiry run, a venue that applied (to accredit), a credit note of A (a cancelled order), a cofunding campaign, a key to revoke.
"""

import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.serials import security_code
from tests.conftest import TEST_SECRETS
from tests.factories import IBANS, service_payload, venue_payload

SECRET = TEST_SECRETS["OPERATOR_SECRET"]
PARIS = ZoneInfo("Europe/Paris")
CAMPAIGN_YEAR = 2031

# The callers of the matrix: a role, and whose key ("own": the subject the world's objects belong
# to; "other": another subject of the same role).
CALLERS = (
    "anonymous",
    "operator",
    "sponsor",
    "sponsor_other",
    "distributor",
    "distributor_other",
    "venue",
    "venue_other",
)


def ok(answer, *statuses):
    assert answer.status_code in (statuses or (200, 201)), answer.text
    return answer.json()


def wait_for(check, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _sponsor(api, operator_key, make_key, name, kind, iban):
    payload = {"name": name, "kind": kind, "territory": "33", "iban": iban}
    sponsor = ok(api.post("/sponsors", json=payload, key=operator_key))
    return sponsor, make_key("sponsor", sponsor["id"])


def _distributor(api, sponsor, sponsor_key, make_key, name):
    payload = {"name": name, "sponsor_id": sponsor["id"], "town_code": "33318"}
    distributor = ok(api.post("/distributors", json=payload, key=sponsor_key))
    return distributor, make_key("distributor", distributor["id"])


def _venue(api, operator_key, make_key, place):
    venue = ok(api.post("/venues", json=venue_payload(place), key=operator_key))
    decision = {"decision": "accredit", "reason": "label APTIC"}
    ok(api.post(f"/venues/{venue['id']}/accreditation", json=decision, key=operator_key))
    return venue, make_key("venue", venue["id"])


def _order(api, sponsor, sponsor_key, quantity):
    body = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": quantity}],
    }
    order = ok(api.post("/orders", json=body, key=sponsor_key))
    return ok(api.post(f"/orders/{order['id']}/submit", key=sponsor_key))


def make_world(api, operator_key, make_key):
    w = {"operator_key": operator_key}
    sponsor, sponsor_key = _sponsor(
        api, operator_key, make_key, "Département de la Gironde", "department", IBANS[1]
    )
    sponsor_b, sponsor_b_key = _sponsor(
        api, operator_key, make_key, "CCAS de Talence", "ccas", IBANS[2]
    )
    distributor, distributor_key = _distributor(
        api, sponsor, sponsor_key, make_key, "CCAS de Pessac"
    )
    distributor_b, distributor_b_key = _distributor(
        api, sponsor_b, sponsor_b_key, make_key, "Mairie de Talence"
    )
    venue, venue_key = _venue(api, operator_key, make_key, "bordeaux")
    venue_b, venue_b_key = _venue(api, operator_key, make_key, "merignac")
    applied = ok(api.post("/venues", json=venue_payload("pessac"), key=operator_key))
    service = ok(api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=venue_key))
    service_b = ok(
        api.post(f"/venues/{venue_b['id']}/services", json=service_payload(), key=venue_b_key)
    )
    # a venue's service is redeemable once the operator approves it; one is left pending
    for owner, added in [(venue, service), (venue_b, service_b)]:
        approve = f"/venues/{owner['id']}/services/{added['id']}/approve"
        ok(api.post(approve, json={"reason": "programme vérifié"}, key=operator_key))
    pending = ok(api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=venue_key))
    w["keys"] = {
        "anonymous": None,
        "operator": operator_key,
        "sponsor": sponsor_key,
        "sponsor_other": sponsor_b_key,
        "distributor": distributor_key,
        "distributor_other": distributor_b_key,
        "venue": venue_key,
        "venue_other": venue_b_key,
    }

    # an order of A, paid, issued: one booklet for each booklet route
    order = _order(api, sponsor, sponsor_key, 6)
    due = order["quote"]["face_value_cents"] + order["quote"]["fee_cents"]
    payment = {"amount_cents": due, "payer": "sponsor", "reference": "VIR-WORLD-1"}
    paid = ok(api.post(f"/orders/{order['id']}/payments", json=payment, key=operator_key))
    assert paid["order"]["status"] == "confirmed", paid

    def published():
        answer = api.get(f"/orders/{order['id']}/booklets", key=sponsor_key)
        return answer.ok and answer.json()["status"] == "published" and answer.json()

    serials = [b["serial"] for b in wait_for(published)["booklets"]]
    booklets = dict(
        zip(["get", "assign", "activate", "cancel", "block", "redeem"], serials, strict=True)
    )
    ok(api.post(f"/orders/{order['id']}/booklets/dispatch", key=operator_key))
    for name in ("get", "activate", "redeem"):
        assignment = {"distributor_id": distributor["id"]}
        path = f"/booklets/{booklets[name]}/assignment"
        ok(api.post(path, json=assignment, key=sponsor_key))
    coupons = ok(api.get(f"/booklets/{booklets['redeem']}", key=operator_key))["coupon_serials"]

    # a redemption of venue A, heard by settlement, then paid by a run
    def redeemed():
        body = {
            "service_id": service["id"],
            "coupons": [{"serial": coupons[0], "code": security_code(SECRET, coupons[0])}],
            "idempotency_key": uuid.uuid4().hex,
        }
        answer = api.post("/redemptions", json=body, key=venue_key)
        return answer.json() if answer.status_code == 201 else None

    redemption = wait_for(redeemed)

    def heard():
        balance = ok(api.get("/ledger/balance", key=operator_key))
        return balance["liabilities"]["venue_payable_cents"] >= 1000

    wait_for(heard)
    today = datetime.now(PARIS).date().isoformat()
    run = ok(api.post("/settlement-runs", json={"period_end": today}, key=operator_key))
    expiry = ok(api.post("/expiry-runs", json={"as_of": today}, key=operator_key))

    # a credit note of A: an order paid in part, then cancelled
    cancelled = _order(api, sponsor, sponsor_key, 2)
    partial = {"amount_cents": 1000, "payer": "sponsor", "reference": "VIR-WORLD-2"}
    ok(api.post(f"/orders/{cancelled['id']}/payments", json=partial, key=operator_key))
    ok(api.post(f"/orders/{cancelled['id']}/cancel", json={"reason": "budget"}, key=sponsor_key))

    def noted():
        answer = api.get("/credit-notes", key=sponsor_key)
        return answer.ok and answer.json()["credit_notes"]

    (note,) = wait_for(noted)

    campaign = {
        "year": CAMPAIGN_YEAR,
        "rate_bp": 5000,
        "envelope_cents": 10**9,
        "minimum_order_cents": 0,
        "minimum_order_kinds": ["town_group"],
    }
    ok(api.post("/cofunding-campaigns", json=campaign, key=operator_key))
    spare = ok(
        api.post(
            "/api-keys",
            json={"role": "sponsor", "subject_id": sponsor["id"], "label": "to revoke"},
            key=operator_key,
        )
    )
    w.update(
        sponsor=sponsor,
        sponsor_b=sponsor_b,
        distributor=distributor,
        distributor_b=distributor_b,
        venue=venue,
        venue_b=venue_b,
        service=service,
        order=order,
        booklets=booklets,
        coupons=coupons,
        redemption=redemption,
        run=run,
        expiry=expiry,
        credit_note=note,
        campaign=campaign,
        spare_key=spare,
        today=today,
    )
    # each path parameter's value: by route where names are shared, else by name
    w["by_name"] = {
        "venue_id": venue["id"],
        "sponsor_id": sponsor["id"],
        "distributor_id": distributor["id"],
        "order_id": order["id"],
        "serial": booklets["get"],
        "redemption_id": redemption["id"],
        "key_id": spare["key_id"],
        "year": str(CAMPAIGN_YEAR),
        "department": "33",
        "funder_id": f"sponsor:{sponsor['id']}",
        "reference": note["reference"],
        "run_id": run["id"],
        "service_id": pending["id"],  # approved, then refused, by the matrix
    }
    w["by_path"] = {
        "/venues/{venue_id}/accreditation": {"venue_id": applied["id"]},
        "/coupons/{serial}": {"serial": coupons[2]},
        "/booklets/{serial}/assignment": {"serial": booklets["assign"]},
        "/booklets/{serial}/activation": {"serial": booklets["activate"]},
        "/booklets/{serial}/cancellation": {"serial": booklets["cancel"]},
        "/booklets/{serial}/block": {"serial": booklets["block"]},
        "/expiry-runs/{run_id}": {"run_id": expiry["id"]},
        "/expiry-runs/{run_id}/credit-notes/{funder_id}.pdf": {"run_id": expiry["id"]},
    }
    # a valid body for each route that takes one
    w["bodies"] = {
        "/venues": venue_payload("libourne"),
        "/venues/{venue_id}/accreditation": {"decision": "accredit", "reason": "label APTIC"},
        "/venues/{venue_id}/services": service_payload("smartphone_use"),
        "/venues/{venue_id}/services/{service_id}": service_payload(title="Démarches, 2e séance"),
        "/venues/{venue_id}/opening-hours": {"opening_hours": "Mardi et jeudi, 14 h - 18 h"},
        "/venues/{venue_id}/services/{service_id}/approve": {"reason": "programme vérifié"},
        "/venues/{venue_id}/services/{service_id}/refuse": {"reason": "hors du dispositif"},
        "/sponsors": {
            "name": "Commune de Pessac",
            "kind": "town",
            "territory": "33318",
            "members": ["33318"],
            "iban": IBANS[0],
        },
        "/distributors": {
            "name": "Médiathèque de Pessac",
            "sponsor_id": sponsor["id"],
            "town_code": "33318",
        },
        "/cofunding-campaigns": campaign,
        "/orders": {
            "sponsor_id": sponsor["id"],
            "lines": [{"coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": 1}],
        },
        "/orders/{order_id}/cancel": {"reason": "budget"},
        "/orders/{order_id}/cofunding-decision": {"decision": "approve", "reason": "complet"},
        "/orders/{order_id}/payments": payment,  # the same reference: already recorded
        "/booklets/{serial}/assignment": {"distributor_id": distributor["id"]},
        "/booklets/{serial}/activation": {"profile": {"age_band": "26_35"}},
        "/booklets/{serial}/cancellation": {"reason": "lost"},
        "/redemptions": {
            "service_id": service["id"],
            "coupons": [{"serial": coupons[1], "code": security_code(SECRET, coupons[1])}],
            "idempotency_key": "world-redemption-1",
        },
        "/settlement-runs": {"period_end": today},
        "/expiry-runs": {"as_of": today},
        "/api-keys": {"role": "sponsor", "subject_id": sponsor["id"], "label": "matrix"},
    }
    w["queries"] = {
        "/coupons/{serial}": {"code": security_code(SECRET, coupons[2])},
    }
    return w


def url_for(world, path):
    """``path`` (OpenAPI style) with the world's values for its parameters."""
    values = {**world["by_name"], **world["by_path"].get(path, {})}
    url = path
    for name, value in values.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, f"no value for a parameter of {path}"
    return url
