"""A venue's new service through the gateway: pending until the operator approves it, so a coupon
for it is refused at the desk, then accepted once approved; a refusal with its reason; the
operator's list of services awaiting approval. The coupons come from a ``booklets_issued`` event
dispatched into the stack as issuance publishes it; the venue and its services are the catalog's
own, and redemption learns them from the catalog's events."""

import uuid

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher

from shared.mongo import get_database
from tests.e2e.test_catalog_http import register_accredited
from tests.factories import service_payload
from tests.redemption_support import issued

pytestmark = pytest.mark.e2e


def wait_for(check, seconds=20):
    with eventlet.Timeout(seconds):
        while not check():
            eventlet.sleep(0.05)


@pytest.fixture
def desk(api, stack_config, operator_key, make_key):
    """An accredited venue, its key, coupons redemption knows, and a way to wait until
    redemption has seen the venue as the catalog has it now."""
    venue = register_accredited(api, operator_key, "bordeaux")
    key = make_key("venue", venue["id"])
    store = get_database(stack_config, "redemption")  # read to wait for events, never written
    event, codes = issued(per_booklet=5)
    event_dispatcher(stack_config)("issuance", "booklets_issued", event)
    wait_for(lambda: store.coupons.count_documents({"serial": {"$in": list(codes)}}) == len(codes))

    def caught_up():
        """Wait until redemption holds the catalog's current version of the venue."""
        version = api.get(f"/venues/{venue['id']}", key=operator_key).json()["version"]
        wait_for(
            lambda: (
                store.venues.find_one({"venue_id": venue["id"], "version": {"$gte": version}})
                is not None
            )
        )

    return venue, key, list(codes.items()), caught_up


def redeem(api, key, service_id, coupon, idem=None):
    body = {
        "service_id": service_id,
        "coupons": [{"serial": coupon[0], "code": coupon[1]}],
        "idempotency_key": idem or uuid.uuid4().hex,
    }
    return api.post("/redemptions", json=body, key=key)


def error(answer):
    return answer.status_code, answer.json()["error"]["code"]


def test_a_coupon_for_a_pending_service_is_refused_then_accepted_once_approved(
    api, operator_key, desk
):
    venue, key, coupons, caught_up = desk
    answer = api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=key)
    assert answer.status_code == 201, answer.text
    service = answer.json()
    assert service["status"] == "pending"
    assert [h["to"] for h in service["history"]] == ["pending"]

    # not offered: not on the public page, the map, nor in search; the venue sees it pending
    assert api.get(f"/venues/{venue['id']}").json()["services"] == []
    assert api.get("/map.geojson").json()["features"][0]["properties"]["services"] == []
    assert api.get("/venues", params={"category": "online_admin_procedures"}).json()["total"] == 0
    own = api.get(f"/venues/{venue['id']}", key=key).json()["services"]
    assert [(s["id"], s["status"]) for s in own] == [(service["id"], "pending")]

    caught_up()
    assert error(redeem(api, key, service["id"], coupons[0])) == (422, "service_not_offered")
    # the venue cannot approve its own service
    approve = f"/venues/{venue['id']}/services/{service['id']}/approve"
    assert error(api.post(approve, json={}, key=key)) == (403, "wrong_role")

    answer = api.post(approve, json={"reason": "programme vérifié"}, key=operator_key)
    assert answer.status_code == 200, answer.text
    approved = answer.json()
    assert approved["status"] == "approved"
    last = approved["history"][-1]
    assert (last["from"], last["to"], last["reason"]) == (
        "pending",
        "approved",
        "programme vérifié",
    )
    assert last["by"]["role"] == "operator"
    assert error(api.post(approve, json={}, key=operator_key)) == (
        409,
        "invalid_service_transition",
    )

    caught_up()
    accepted = redeem(api, key, service["id"], coupons[0])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "accepted"
    public = api.get(f"/venues/{venue['id']}").json()["services"]
    assert [s["id"] for s in public] == [service["id"]]
    found = api.get("/venues", params={"category": "online_admin_procedures"}).json()
    assert [v["id"] for v in found["venues"]] == [venue["id"]]


def test_a_refused_service_says_why_and_stays_unredeemable(api, operator_key, desk):
    venue, key, coupons, caught_up = desk
    service = api.post(
        f"/venues/{venue['id']}/services", json=service_payload("online_safety"), key=key
    ).json()
    refuse = f"/venues/{venue['id']}/services/{service['id']}/refuse"
    answer = api.post(refuse, json={}, key=operator_key)
    assert error(answer) == (400, "validation_error")
    assert "reason" in answer.json()["error"]["details"]["fields"]

    answer = api.post(refuse, json={"reason": "hors du champ du dispositif"}, key=operator_key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "refused"
    assert answer.json()["history"][-1]["reason"] == "hors du champ du dispositif"
    seen = api.get(f"/venues/{venue['id']}", key=key).json()["services"]
    assert [(s["status"], s["history"][-1]["reason"]) for s in seen] == [
        ("refused", "hors du champ du dispositif")
    ]
    caught_up()
    assert error(redeem(api, key, service["id"], coupons[1])) == (422, "service_not_offered")

    unknown = f"/venues/{venue['id']}/services/svc_0123456789abcdef0123/approve"
    assert error(api.post(unknown, json={}, key=operator_key)) == (404, "service_not_found")


def test_the_operator_lists_the_services_awaiting_approval_a_page_at_a_time(
    api, operator_key, make_key, desk
):
    venue, key, _, _ = desk
    added = [
        api.post(f"/venues/{venue['id']}/services", json=service_payload(category), key=key).json()[
            "id"
        ]
        for category in ("online_safety", "smartphone_use", "digital_parenting")
    ]
    api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=operator_key)

    page = api.get("/services", params={"limit": 2}, key=operator_key)
    assert page.status_code == 200, page.text
    body = page.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 0)
    assert [s["id"] for s in body["services"]] == added[:2]  # oldest first
    assert {s["venue_id"] for s in body["services"]} == {venue["id"]}
    assert body["services"][0]["venue_name"] == venue["name"]
    rest = api.get("/services", params={"limit": 2, "offset": 2}, key=operator_key).json()
    assert [s["id"] for s in rest["services"]] == added[2:]

    api.post(
        f"/venues/{venue['id']}/services/{added[0]}/refuse",
        json={"reason": "doublon"},
        key=operator_key,
    )
    assert api.get("/services", key=operator_key).json()["total"] == 2
    refused = api.get("/services", params={"status": "refused"}, key=operator_key).json()
    assert [s["id"] for s in refused["services"]] == [added[0]]
    assert error(api.get("/services", key=key)) == (403, "wrong_role")
    assert error(api.get("/services", params={"status": "everything"}, key=operator_key)) == (
        400,
        "validation_error",
    )
