"""Redemption through the gateway: every refusal with its code, all or none, idempotent retries,
void and redeem again, brute-force lock. Upstream state comes from real events dispatched into
the stack, as issuance and catalog publish them."""

import uuid
from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher

from shared import serials
from shared.mongo import get_database
from tests.factories import venue_payload
from tests.redemption_support import iso, issued, venue_event, wrong

pytestmark = pytest.mark.e2e

SERVICE = "svc_00000000000000000001"


def registered_venue(api, operator_key):
    """A venue the catalog knows (a key is bound to a venue that exists), registered but not
    accredited: redemption learns of it only from the events each test publishes."""
    answer = api.post("/venues", json=venue_payload(), key=operator_key)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


@pytest.fixture
def venue_id(api, operator_key):
    return registered_venue(api, operator_key)


@pytest.fixture
def world(api, stack_config, make_key, venue_id):
    """A venue known to redemption, a venue key, and a function to publish upstream events."""
    dispatch = event_dispatcher(stack_config)

    def publish(source, event, payload, wait_for=None):
        dispatch(source, event, payload)
        if wait_for:
            with eventlet.Timeout(10):
                while not wait_for():
                    eventlet.sleep(0.05)

    key = make_key("venue", venue_id)
    publish("catalog", "venue_accredited", venue_event(venue_id))
    # redemption's store, read to wait for events (asking with the venue's key would count
    # each "coupon_not_found" as a guess against the venue)
    store = get_database(stack_config, "redemption")

    def issue(**kwargs):
        event, codes = issued(**kwargs)
        serial = next(iter(codes))
        publish(
            "issuance",
            "booklets_issued",
            event,
            wait_for=lambda: store.coupons.find_one({"serial": serial}) is not None,
        )
        return event, codes

    return publish, key, issue


def check(api, key, serial, code, **params):
    return api.get(f"/coupons/{serial}", params={"code": code, **params}, key=key)


def redeem(api, key, coupons, service=SERVICE, idem=None, **extra):
    body = {
        "service_id": service,
        "coupons": [{"serial": s, "code": c} for s, c in coupons],
        "idempotency_key": idem or uuid.uuid4().hex,
        **extra,
    }
    return api.post("/redemptions", json=body, key=key)


def error(answer):
    return answer.status_code, answer.json()["error"]["code"]


def test_redeem_once_then_refused_void_and_redeem_again(api, world, operator_key, venue_id):
    publish, key, issue = world
    _, codes = issue()
    (s1, c1), (s2, c2) = list(codes.items())[:2]
    answer = check(api, key, s1, c1, service_id=SERVICE)
    assert answer.status_code == 200 and answer.json()["usable"] is True

    first = redeem(api, key, [(s1, c1), (s2, c2)], idem="desk-0001-a")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "accepted" and body["total_cents"] == 2000
    assert {c["serial"] for c in body["coupons"]} == {s1, s2}
    assert "code" not in str(body["coupons"])

    again = redeem(api, key, [(s1, c1)])
    assert error(again) == (409, "coupon_already_redeemed")
    assert again.json()["error"]["details"]["redeemed_at"].endswith("Z")
    assert "venue" not in str(again.json()["error"]["details"])  # when, never by whom

    replay = redeem(api, key, [(s1, c1), (s2, c2)], idem="desk-0001-a")
    assert replay.status_code == 200 and replay.json()["id"] == body["id"]
    reused = redeem(api, key, [(s1, c1)], idem="desk-0001-a")
    assert error(reused) == (409, "idempotency_key_reused")

    voided = api.post(f"/redemptions/{body['id']}/void", key=key)
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    assert voided.json()["history"][-1]["by"]["role"] == "venue"
    assert error(api.post(f"/redemptions/{body['id']}/void", key=key)) == (
        409,
        "redemption_not_voidable",
    )
    assert redeem(api, key, [(s1, c1)]).status_code == 201

    listed = api.get("/redemptions", key=key).json()["redemptions"]
    assert [r["status"] for r in listed] == ["voided", "accepted"]
    assert (
        len(
            api.get("/redemptions", params={"venue_id": venue_id}, key=operator_key).json()[
                "redemptions"
            ]
        )
        == 2
    )


def test_all_or_none(api, world):
    _, key, issue = world
    _, codes = issue()
    (s1, c1), (s2, c2), (s3, c3) = list(codes.items())[:3]
    assert redeem(api, key, [(s2, c2)]).status_code == 201
    answer = redeem(api, key, [(s1, c1), (s2, c2), (s3, c3)])
    assert error(answer) == (409, "coupon_already_redeemed")
    assert answer.json()["error"]["details"]["serial"] == s2
    # s1 and s3 were not consumed by the refused request
    assert redeem(api, key, [(s1, c1), (s3, c3)]).status_code == 201


def test_every_refusal_reason(api, world, make_key, operator_key, venue_id):
    publish, key, issue = world
    _, codes = issue()
    serial, code = next(iter(codes.items()))

    assert error(check(api, key, serial[:-1] + str((int(serial[-1]) + 1) % 10), code)) == (
        400,
        "invalid_serial",
    )
    assert error(check(api, key, serial, "O0O0O0O0")) == (400, "invalid_code_format")
    unknown = serials.coupon_serial(99)  # well formed, never issued
    assert error(check(api, key, unknown, code)) == (404, "coupon_not_found")
    assert error(check(api, key, serial, wrong(code))) == (422, "invalid_security_code")
    assert error(redeem(api, key, [(serial, code)], service="svc_ffffffffffffffffffff")) == (
        422,
        "service_not_offered",
    )
    assert error(redeem(api, key, [(serial, code), (serial, code)])) == (400, "validation_error")

    # sponsors' rules
    for rules, rule in [
        ({"territories": ["40"]}, "rule_territory"),
        ({"venue_types": ["fablab"]}, "rule_venue_type"),
        ({"categories": ["digital_parenting"]}, "rule_category"),
    ]:
        _, ruled = issue(rules={"territories": [], "venue_types": [], "categories": [], **rules})
        s, c = next(iter(ruled.items()))
        assert error(redeem(api, key, [(s, c)])) == (422, rule)

    # validity
    past = datetime.now(UTC) - timedelta(days=500)
    _, old = issue(valid_from=past, valid_until=past + timedelta(days=365))
    s, c = next(iter(old.items()))
    assert error(redeem(api, key, [(s, c)])) == (422, "coupon_expired")
    soon = datetime.now(UTC) + timedelta(days=3)
    _, future = issue(valid_from=soon)
    s, c = next(iter(future.items()))
    assert error(redeem(api, key, [(s, c)])) == (422, "coupon_not_yet_valid")
    ended = datetime.now(UTC) - timedelta(days=5)
    _, late = issue(valid_from=ended - timedelta(days=365), valid_until=ended)
    s, c = next(iter(late.items()))
    assert error(redeem(api, key, [(s, c)])) == (422, "coupon_expired")
    answer = redeem(api, key, [(s, c)], accepted_at=iso(ended - timedelta(days=2)))
    assert answer.status_code == 201, answer.text  # grace month: accepted in time

    # cancelled booklet
    event, cancelled = issue()
    booklet = event["booklets"][0]
    publish(
        "issuance",
        "booklet_cancelled",
        {
            "booklet_serial": booklet["serial"],
            "order_id": event["order_id"],
            "sponsor_id": event["sponsor_id"],
            "coupon_serials": [c["serial"] for c in booklet["coupons"]],
            "reason": "stolen",
            "cancelled_at": iso(datetime.now(UTC)),
        },
    )
    s, c = next(iter(cancelled.items()))
    with eventlet.Timeout(10):
        while check(api, key, s, c).status_code == 200:
            eventlet.sleep(0.05)
    assert error(redeem(api, key, [(s, c)])) == (422, "booklet_cancelled")

    # suspended venue; an unknown venue's key
    publish("catalog", "venue_suspended", venue_event(venue_id, version=3, status="suspended"))
    with eventlet.Timeout(10):
        while check(api, key, serial, code).status_code == 200:
            eventlet.sleep(0.05)
    assert error(redeem(api, key, [(serial, code)])) == (422, "venue_not_accredited")
    stranger = make_key("venue", registered_venue(api, operator_key))
    assert error(redeem(api, stranger, [(serial, code)])) == (422, "venue_not_accredited")


def test_roles_and_forged_ids(api, world, make_key, operator_key, venue_id):
    _, key, issue = world
    _, codes = issue()
    serial, code = next(iter(codes.items()))
    assert redeem(api, None, [(serial, code)]).status_code == 401
    assert error(redeem(api, operator_key, [(serial, code)])) == (403, "wrong_role")
    done = redeem(api, key, [(serial, code)]).json()
    other = make_key("venue", registered_venue(api, operator_key))
    assert error(api.post(f"/redemptions/{done['id']}/void", key=other)) == (403, "not_yours")
    assert error(api.get("/redemptions", params={"venue_id": venue_id}, key=other)) == (
        403,
        "not_yours",
    )
    assert error(api.post("/redemptions/red_0123456789abcdef0123/void", key=key)) == (
        404,
        "redemption_not_found",
    )
    assert error(api.get("/redemptions/../../x", key=key))[0] == 404
    assert api.post("/redemptions", data="[" * 100_000, key=key).status_code == 413
    too_many = [(f"{i:011d}", "ABCDEFGH") for i in range(51)]
    assert error(redeem(api, key, too_many)) == (400, "validation_error")


def test_brute_force_lock(api, world, operator_key, venue_id):
    """10 failed guesses from a venue (wrong codes, unknown serials) lock the venue."""
    _, key, issue = world
    _, codes = issue(per_booklet=10)
    coupons = list(codes.items())
    for serial, code in coupons[:8]:  # one wrong code each: the venue's count, not a coupon's
        assert error(check(api, key, serial, wrong(code))) == (422, "invalid_security_code")
    for n in range(2):
        unknown = serials.coupon_serial(99 + n)  # well formed, never issued
        assert error(check(api, key, unknown, coupons[0][1])) == (404, "coupon_not_found")
    serial, code = coupons[-1]
    answer = check(api, key, serial, code)
    assert error(answer) == (429, "too_many_attempts")
    assert answer.json()["error"]["details"]["locked_until"].endswith("Z")
    assert error(redeem(api, key, [(serial, code)])) == (429, "too_many_attempts")
    locks = api.get("/redemption-locks", key=operator_key).json()["locks"]
    assert [
        (lock["kind"], lock["venue_id"], lock["wrong_codes"], lock["unknown_serials"])
        for lock in locks
    ] == [("venue", venue_id, 8, 2)]


def test_a_coupon_guessed_from_several_venues_locks(
    api, world, make_key, operator_key, stack_config
):
    """5 wrong codes at one coupon, from any venues, lock the coupon for everyone."""
    publish, key, issue = world
    _, codes = issue()
    (serial, code), (other, other_code) = list(codes.items())[:2]
    guessers = sorted(registered_venue(api, operator_key) for _ in range(3))
    venues = get_database(stack_config, "redemption").venues
    for guesser in guessers:
        publish(
            "catalog",
            "venue_accredited",
            venue_event(guesser),
            wait_for=lambda guesser=guesser: venues.find_one({"venue_id": guesser}) is not None,
        )
    guesser_keys = [make_key("venue", guesser) for guesser in guessers]
    answers = []
    for _ in range(3):
        for guesser_key in guesser_keys:
            answers.append(error(check(api, guesser_key, serial, wrong(code))))
    assert answers == [(422, "invalid_security_code")] * 5 + [(429, "coupon_locked")] * 4
    refused = redeem(api, key, [(serial, code)])  # the right code, from a venue that never guessed
    assert error(refused) == (429, "coupon_locked")
    assert refused.json()["error"]["details"]["serial"] == serial
    assert refused.json()["error"]["details"]["locked_until"].endswith("Z")
    assert redeem(api, key, [(other, other_code)]).status_code == 201  # the venue is not locked
    locks = api.get("/redemption-locks", key=operator_key).json()["locks"]
    assert [(lock["kind"], lock["serial"], lock["wrong_codes"]) for lock in locks] == [
        ("coupon", serial, 5)
    ]
    assert locks[0]["venue_ids"] == guessers
