"""``aptic run`` as operators run it: its own embedded storage server, one supervised process per
service. Stopped and started again on the same data, it has lost nothing; a redemption process
killed while venues redeem is restarted, and the venues' retries (same idempotency keys) redeem
every coupon exactly once."""

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict

import pymongo
import pytest
import requests

from shared.serials import security_code
from tests.conftest import TEST_SECRETS, Api, free_port
from tests.e2e.platform_support import APTIC, Platform, platform_env, port_is_open
from tests.factories import IBANS, service_payload, venue_payload

pytestmark = pytest.mark.e2e
SECRET = TEST_SECRETS["OPERATOR_SECRET"]


def wait_for(check, seconds=30, what="the condition", every=0.2):
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"timed out ({seconds} s) waiting for {what}"
        time.sleep(every)


def error(answer):
    return answer.status_code, answer.json()["error"]["code"]


@pytest.fixture
def launch(rabbit_config, tmp_path):
    """``launch(name, **env)``: start ``aptic run`` on its own embedded server (data in
    ``tmp_path/db``, kept from one launch to the next) and the test's RabbitMQ vhost. Whatever
    the test leaves running is stopped at the end."""
    started = []

    def launch(name, **extra):
        env = platform_env(
            rabbit_config,
            free_port(),
            APTIC_DATA_DIR=tmp_path / "db",
            RPC_TIMEOUT=10,
            **TEST_SECRETS,
            **extra,
        )
        platform = Platform(env, tmp_path / f"{name}.log")
        started.append(platform)
        return platform.start()

    yield launch
    for platform in started:
        platform.cleanup()


def operator_key_from_cli(platform):
    """The first operator key, as a newcomer makes it: ``aptic keys create`` (last line)."""
    done = subprocess.run(
        [APTIC, "keys", "create", "--role", "operator", "--label", "restart test"],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("ak_"), done.stdout
    return key


def make_key(api, operator_key, role, subject_id):
    answer = api.post(
        "/api-keys",
        json={"role": role, "subject_id": subject_id, "label": f"{role} {subject_id}"},
        key=operator_key,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["api_key"]


def prepare(api, operator_key, booklets, per_booklet, storage_uri):
    """An accredited venue with a service, a sponsor, its order paid and issued: ids, keys and
    the coupon serials of each booklet."""
    venue = api.post("/venues", json=venue_payload("merignac"), key=operator_key)
    assert venue.status_code == 201, venue.text
    venue = venue.json()
    accredited = api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "accredit", "reason": "label APTIC"},
        key=operator_key,
    )
    assert accredited.status_code == 200, accredited.text
    venue_key = make_key(api, operator_key, "venue", venue["id"])
    service = api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=venue_key)
    assert service.status_code == 201, service.text
    approve = f"/venues/{venue['id']}/services/{service.json()['id']}/approve"
    approved = api.post(approve, json={}, key=operator_key)  # redeemable once approved
    assert approved.status_code == 200, approved.text
    sponsor = api.post(
        "/sponsors",
        json={"name": "Département de la Gironde", "kind": "department", "territory": "33"}
        | {"iban": IBANS[1]},
        key=operator_key,
    )
    assert sponsor.status_code == 201, sponsor.text
    sponsor = sponsor.json()
    sponsor_key = make_key(api, operator_key, "sponsor", sponsor["id"])
    order = api.post(
        "/orders",
        json={
            "sponsor_id": sponsor["id"],
            "lines": [
                {"coupons_per_booklet": per_booklet, "face_value_cents": 1000, "quantity": booklets}
            ],
        },
        key=sponsor_key,
    )
    assert order.status_code == 201, order.text
    order = order.json()
    assert api.post(f"/orders/{order['id']}/submit", key=sponsor_key).status_code == 200
    due = order["quote"]["sponsor_due_cents"]
    paid = api.post(
        f"/orders/{order['id']}/payments",
        json={"amount_cents": due, "payer": "sponsor", "reference": f"VIR-{order['id']}"},
        key=operator_key,
    )
    assert paid.status_code == 201 and paid.json()["order"]["status"] == "confirmed", paid.text

    def issued():
        answer = api.get(f"/orders/{order['id']}/booklets", key=sponsor_key)
        return answer.ok and answer.json()["status"] == "published" and answer.json()

    serials = [b["serial"] for b in wait_for(issued, 60, "the booklets")["booklets"]]
    coupons = {}
    for serial in serials:
        booklet = api.get(f"/booklets/{serial}", key=operator_key)
        assert booklet.status_code == 200, booklet.text
        coupons[serial] = booklet.json()["coupon_serials"]
    assert sum(len(c) for c in coupons.values()) == booklets * per_booklet

    # redemption learns the venue and the coupons from events: wait until its store holds them
    # all (read there: probing unknown serials at the desk counts as guessing against the venue)
    wanted = [c for booklet in coupons.values() for c in booklet]
    with pymongo.MongoClient(storage_uri, serverSelectionTimeoutMS=5000) as client:
        store = client["aptic_redemption"]

        def known():
            venue_known = store.venues.count_documents({"venue_id": venue["id"]}) == 1
            return venue_known and store.coupons.count_documents(
                {"serial": {"$in": wanted}}
            ) == len(wanted)

        wait_for(known, 60, "redemption to know the venue and every coupon")
    serial = wanted[0]
    answer = api.get(
        f"/coupons/{serial}",
        params={"code": security_code(SECRET, serial), "service_id": service.json()["id"]},
        key=venue_key,
    )
    assert answer.status_code == 200 and answer.json()["usable"], answer.text
    return {
        "venue": venue,
        "venue_key": venue_key,
        "service": service.json(),
        "sponsor": sponsor,
        "sponsor_key": sponsor_key,
        "order": order,
        "due_cents": due,
        "booklets": serials,
        "coupons": coupons,
    }


def redemption_body(scheme, serial, idempotency_key=None):
    return {
        "service_id": scheme["service"]["id"],
        "coupons": [{"serial": serial, "code": security_code(SECRET, serial)}],
        "idempotency_key": idempotency_key or uuid.uuid4().hex,
    }


def ledger(api, operator_key):
    answer = api.get("/ledger/balance", key=operator_key)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_nothing_is_lost_when_the_platform_stops_and_starts_again(launch):
    first = launch("first")
    uri, db_port = first.storage()
    assert f"data in {first.env['APTIC_DATA_DIR']}" in first.output()
    assert len(first.service_pids("redemption")) == 2  # REDEMPTION_INSTANCES' default
    api = Api(first.base)
    operator_key = operator_key_from_cli(first)
    scheme = prepare(api, operator_key, booklets=1, per_booklet=5, storage_uri=uri)
    venue_key, booklet = scheme["venue_key"], scheme["booklets"][0]
    one, two = scheme["coupons"][booklet][:2]
    redeemed = api.post("/redemptions", json=redemption_body(scheme, one), key=venue_key)
    assert redeemed.status_code == 201, redeemed.text
    redeemed = redeemed.json()

    # settlement has heard of the payment and of the redemption before the stop
    def heard():
        body = ledger(api, operator_key)
        return body["liabilities"]["venue_payable_cents"] == 1000 and body

    before = wait_for(heard, 30, "the ledger")
    assert before["money_in_cents"] == scheme["due_cents"] and before["balanced"]
    order_before = api.get(f"/orders/{scheme['order']['id']}", key=operator_key).json()
    booklets_before = api.get(
        f"/orders/{scheme['order']['id']}/booklets", key=scheme["sponsor_key"]
    ).json()

    # SIGTERM: every child stops, then the server; exit code 0
    children = first.children()
    assert len(children) == 9, children  # 5 services (redemption twice), gateway, web, server
    assert first.stop(signal.SIGTERM, timeout=60) == 0, first.tail()
    assert "stopped." in first.output()
    assert not first.leftovers(), first.leftovers()
    assert not port_is_open(first.port) and not port_is_open(db_port)

    # started again on the same data and vhost (the gateway on another port)
    second = launch("second")
    assert f"data in {first.env['APTIC_DATA_DIR']}" in second.output()
    api = Api(second.base)
    venue = api.get(f"/venues/{scheme['venue']['id']}")
    assert venue.status_code == 200 and venue.json()["status"] == "accredited", venue.text
    order = api.get(f"/orders/{scheme['order']['id']}", key=operator_key)  # the key still works
    assert order.status_code == 200, order.text
    assert order.json()["status"] == order_before["status"]
    assert order.json()["payments"] == order_before["payments"]
    booklets = api.get(f"/orders/{scheme['order']['id']}/booklets", key=scheme["sponsor_key"])
    assert booklets.status_code == 200 and booklets.json() == booklets_before
    listed = api.get("/redemptions", key=venue_key)
    assert listed.status_code == 200, listed.text
    assert [(r["id"], r["status"]) for r in listed.json()["redemptions"]] == [
        (redeemed["id"], "accepted")
    ]
    assert ledger(api, operator_key) == before

    # it works as before: another coupon redeemed, the first one refused
    again = api.post("/redemptions", json=redemption_body(scheme, two), key=venue_key)
    assert again.status_code == 201, again.text
    refused = api.post("/redemptions", json=redemption_body(scheme, one), key=venue_key)
    assert error(refused) == (409, "coupon_already_redeemed")
    wait_for(
        lambda: ledger(api, operator_key)["liabilities"]["venue_payable_cents"] == 2000,
        30,
        "the second redemption in the ledger",
    )
    assert second.stop(signal.SIGTERM, timeout=60) == 0, second.tail()
    assert not second.leftovers(), second.leftovers()


# -- a redemption process killed while venues redeem ------------------------------------------
CLIENTS = 8
COUPONS = 80
RETRY_FOR = 150  # seconds a client keeps retrying one coupon (a claim a crash left behind is
# given back by the recovery timer, after up to two minutes: see services/redemption/domain.py)
RETRIED = {"request_in_progress"}  # 409s that say "the same request is still being made"


class Desk(threading.Thread):
    """A venue's desk: one request per coupon, each with its own idempotency key, retried the same
    (same key, same body) on a connection error, a time-out, a 5xx or a request in progress."""

    def __init__(self, base, scheme, serials, pause, done):
        super().__init__(daemon=True)
        self.api = Api(base)
        self.scheme, self.serials, self.pause, self.done = scheme, serials, pause, done
        self.attempts = defaultdict(list)  # serial -> [(status or exception, body or text)]
        self.slowest = 0.0  # seconds, of one attempt
        self.spent = {}  # serial -> seconds from its first attempt to its answer
        self.final = {}  # serial -> the last answer (status, body)

    def run(self):
        for serial in self.serials:
            body = redemption_body(self.scheme, serial, idempotency_key=f"desk-{serial}")
            first = time.monotonic()
            deadline = first + RETRY_FOR
            while True:
                started = time.monotonic()
                try:
                    answer = self.api.post(
                        "/redemptions", json=body, key=self.scheme["venue_key"], timeout=45
                    )
                    self.slowest = max(self.slowest, time.monotonic() - started)
                except requests.RequestException as exc:
                    self.attempts[serial].append((type(exc).__name__, None))
                else:
                    try:
                        payload = answer.json()
                    except ValueError:
                        payload = answer.text
                    self.attempts[serial].append((answer.status_code, payload))
                    code = (
                        payload.get("error", {}).get("code") if isinstance(payload, dict) else None
                    )
                    if answer.status_code < 500 and code not in RETRIED:
                        self.final[serial] = (answer.status_code, payload)
                        self.done.append(serial)
                        break
                if time.monotonic() > deadline:
                    self.final[serial] = self.attempts[serial][-1]
                    break
                time.sleep(0.5)
            self.spent[serial] = time.monotonic() - first
            time.sleep(self.pause)


def test_a_killed_redemption_process_is_restarted_and_retries_redeem_each_coupon_once(
    launch, rabbit_config, rabbit_manager
):
    platform = launch("kill", REDEMPTION_INSTANCES=2)
    api = Api(platform.base)
    operator_key = operator_key_from_cli(platform)
    scheme = prepare(
        api, operator_key, booklets=COUPONS // 10, per_booklet=10, storage_uri=platform.storage()[0]
    )
    serials = [serial for booklet in scheme["coupons"].values() for serial in booklet]
    assert len(serials) == COUPONS
    instances = platform.service_pids("redemption")
    assert len(instances) == 2, platform.children()

    done = []
    desks = [
        Desk(platform.base, scheme, serials[n::CLIENTS], pause=0, done=done) for n in range(CLIENTS)
    ]
    for desk in desks:
        desk.start()
    wait_for(lambda: len(done) >= COUPONS // 4, 60, "the first redemptions", every=0.01)
    victim = instances[0]
    os.kill(victim, signal.SIGKILL)
    killed_at_done = len(done)
    for desk in desks:
        desk.join(RETRY_FOR + 60)
        assert not desk.is_alive(), "a desk is still retrying"

    # every request finally got its redemption: 201 the first time, or 200 replaying it
    answers = {serial: answer for desk in desks for serial, answer in desk.final.items()}
    attempts = {serial: tries for desk in desks for serial, tries in desk.attempts.items()}
    failed = {s: attempts[s] for s, (status, _) in answers.items() if status not in (200, 201)}
    assert not failed, f"coupons never redeemed (every attempt): {failed}"
    assert sorted(answers) == sorted(serials)
    ids = {serial: body["id"] for serial, (_, body) in answers.items()}
    for serial, (_, body) in answers.items():
        assert [c["serial"] for c in body["coupons"]] == [serial], body
        # every success answer for a coupon (a 201, replays) names the same redemption
        seen = {b["id"] for status, b in attempts[serial] if status in (200, 201)}
        assert seen == {ids[serial]}, (serial, attempts[serial])
    assert len(set(ids.values())) == len(serials)

    # the venue's list: one accepted redemption per coupon, none twice, nothing else
    listed = api.get("/redemptions?limit=500", key=scheme["venue_key"])
    assert listed.status_code == 200, listed.text
    listed = listed.json()["redemptions"]
    per_coupon = Counter(c["serial"] for r in listed for c in r["coupons"])
    assert per_coupon == Counter(serials), per_coupon
    assert {r["id"] for r in listed} == set(ids.values())
    assert {r["status"] for r in listed} == {"accepted"}
    again = api.post(
        "/redemptions", json=redemption_body(scheme, serials[0]), key=scheme["venue_key"]
    )
    assert error(again) == (409, "coupon_already_redeemed")

    # the ledger heard of each redemption once: 40 coupons owed to the venue
    wait_for(
        lambda: ledger(api, operator_key)["liabilities"]["venue_payable_cents"] == COUPONS * 1000,
        30,
        "every redemption in the ledger",
    )
    assert ledger(api, operator_key)["balanced"]

    # the supervisor logged the kill and started the process again
    def restarted():
        pids = platform.service_pids("redemption")
        return len(pids) == 2 and victim not in pids and pids

    wait_for(restarted, 30, "the killed redemption process to be started again")
    assert re.search(r"redemption-\d exited with code -9 after", platform.output()), platform.tail()
    assert requests.get(platform.base + "/health", timeout=10).status_code == 200
    spent = {serial: seconds for desk in desks for serial, seconds in desk.spent.items()}
    retried = {
        f"{serial} ({spent[serial]:.0f} s)": Counter(
            status if not isinstance(body, dict) or "error" not in body else body["error"]["code"]
            for status, body in tries
        )
        for serial, tries in attempts.items()
        if len(tries) > 1
    }
    slowest = max(desk.slowest for desk in desks)
    queue = rabbit_manager.get_queue(rabbit_config["vhost"], "rpc-redemption")
    redelivered = queue.get("message_stats", {}).get("redeliver", "?")
    print(
        f"killed {victim} after {killed_at_done} of {COUPONS} redemptions; {len(retried)} coupons "
        f"retried by the client {retried}; {redelivered} requests redelivered by RabbitMQ; slowest answer "
        f"{slowest:.1f} s"
    )
    assert platform.stop(signal.SIGTERM, timeout=60) == 0, platform.tail()
    assert not platform.leftovers(), platform.leftovers()
