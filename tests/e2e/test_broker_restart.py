"""The broker drops every connection while venues redeem, the operator records payments and events
flow (``aptic run``, the whole platform as processes). Nothing is restarted: every service and the
gateway reconnect by themselves; the clients' retries (same idempotency keys, same payment
references) redeem each coupon once and record each payment once; settlement books each
redemption once and its ledger balances; nothing is left in an outbox or dead-lettered.

The connections are cut on the test's own vhost through the management API (what
``rabbitmqctl close_all_connections`` does to a whole node), so that the other tests sharing the
broker are not disturbed."""

import threading
import time
from collections import Counter

import pymongo
import pytest
import requests

from shared.amqp_client import DeadLetters
from tests.conftest import Api
from tests.e2e.test_platform_restart import (  # noqa: F401  (launch: a fixture)
    Desk,
    launch,
    ledger,
    operator_key_from_cli,
    prepare,
    wait_for,
)

pytestmark = pytest.mark.e2e
CLIENTS = 4
COUPONS = 40
ORDERS = 4  # orders paid while the broker drops its connections
OUTAGE_SECONDS = 12  # then no connection at all for that long
SERVICES = ("catalog", "ordering", "issuance", "redemption", "settlement")


def cut_every_connection(rabbit_manager, vhost, at_least=1, seconds=10):
    """Close every connection of ``vhost`` (the services', the gateway's) that the management API
    lists, again until ``at_least`` were closed (its list lags up to a few seconds); how many."""
    closed = set()
    deadline = time.monotonic() + seconds
    while True:
        for connection in rabbit_manager._get("vhosts", vhost, "connections") or []:
            try:
                rabbit_manager.delete_connection(connection["name"])
                closed.add(connection["name"])
            except requests.HTTPError:  # gone meanwhile
                pass
        if len(closed) >= at_least or time.monotonic() > deadline:
            return len(closed)
        time.sleep(0.2)


def outage(rabbit_manager, vhost, seconds):
    """The broker out of reach for ``vhost`` during ``seconds``: no connection allowed (a limit of
    0 connections), every connection cut; then allowed again."""
    rabbit_manager._put("vhost-limits", vhost, "max-connections", json={"value": 0})
    closed = 0
    try:
        until = time.monotonic() + seconds
        while time.monotonic() < until:  # the API lists a connection up to 5 s late
            closed += cut_every_connection(rabbit_manager, vhost, seconds=0)
            time.sleep(0.5)
    finally:
        rabbit_manager._delete("vhost-limits", vhost, "max-connections")
    return closed


def submitted_orders(api, scheme, count):
    orders = []
    for _ in range(count):
        answer = api.post(
            "/orders",
            json={
                "sponsor_id": scheme["sponsor"]["id"],
                "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 1}],
            },
            key=scheme["sponsor_key"],
        )
        assert answer.status_code == 201, answer.text
        order = answer.json()
        submitted = api.post(f"/orders/{order['id']}/submit", key=scheme["sponsor_key"])
        assert submitted.status_code == 200, submitted.text
        orders.append(submitted.json())
    return orders


class Cashier(threading.Thread):
    """The operator recording bank transfers: one payment per order, retried the same (same
    reference, same amount) on a connection error, a time-out or a 5xx."""

    def __init__(self, base, operator_key, orders, cut):
        super().__init__(daemon=True)
        self.api = Api(base)
        self.operator_key, self.orders, self.cut = operator_key, orders, cut
        self.final = {}  # order id -> (status, body)
        self.attempts = Counter()

    def run(self):
        for n, order in enumerate(self.orders):
            if n == 1:
                self.cut.wait(120)  # the first before the cut, the others while it reconnects
            body = {
                "amount_cents": order["quote"]["sponsor_due_cents"],
                "payer": "sponsor",
                "reference": f"VIR-{order['id']}",
            }
            deadline = time.monotonic() + 90
            while True:
                self.attempts[order["id"]] += 1
                try:
                    answer = self.api.post(
                        f"/orders/{order['id']}/payments",
                        json=body,
                        key=self.operator_key,
                        timeout=30,
                    )
                except requests.RequestException:
                    answer = None
                if answer is not None and answer.status_code < 500:
                    self.final[order["id"]] = (answer.status_code, answer.json())
                    break
                if time.monotonic() > deadline:
                    self.final[order["id"]] = (answer and answer.status_code, None)
                    break
                time.sleep(0.5)
            time.sleep(1)


def outbox_leftovers(storage_uri):
    """Documents of any service whose outbox still holds events."""
    found = {}
    with pymongo.MongoClient(storage_uri, serverSelectionTimeoutMS=5000) as client:
        for service in SERVICES:
            db = client[f"aptic_{service}"]
            for name in db.list_collection_names():
                count = db[name].count_documents({"outbox.0": {"$exists": True}})
                if count:
                    found[f"{service}.{name}"] = count
    return found


def test_every_service_reconnects_when_the_broker_drops_every_connection_under_load(
    launch,  # noqa: F811
    rabbit_config,
    rabbit_manager,
):
    platform = launch("broker", REDEMPTION_INSTANCES=2)
    api = Api(platform.base)
    operator_key = operator_key_from_cli(platform)
    storage_uri = platform.storage()[0]
    scheme = prepare(
        api, operator_key, booklets=COUPONS // 10, per_booklet=10, storage_uri=storage_uri
    )
    serials = [serial for booklet in scheme["coupons"].values() for serial in booklet]
    orders = submitted_orders(api, scheme, ORDERS)
    pids = {service: platform.service_pids(service) for service in (*SERVICES, "gateway")}

    done = []
    desks = [
        Desk(platform.base, scheme, serials[n::CLIENTS], pause=0.5, done=done)
        for n in range(CLIENTS)
    ]
    cut = threading.Event()
    cashier = Cashier(platform.base, operator_key, orders, cut)
    for desk in desks:
        desk.start()
    cashier.start()
    wait_for(lambda: len(done) >= COUPONS // 4, 60, "the first redemptions", every=0.01)
    cut_at = len(done)
    processes = len(platform.children()) - 1  # all but the storage server
    closed = cut_every_connection(rabbit_manager, rabbit_config["vhost"], at_least=processes)
    assert closed >= processes, closed  # at least one per process
    cut.set()
    time.sleep(1)  # again while they reconnect and catch up, and for a while: an outage
    outage_at = len(done)
    closed += outage(rabbit_manager, rabbit_config["vhost"], OUTAGE_SECONDS)
    assert outage_at < COUPONS, "the desks were done before the outage: slow them down"
    for desk in desks:
        desk.join(150)
        assert not desk.is_alive(), "a desk is still retrying"
    cashier.join(120)
    assert not cashier.is_alive(), "the cashier is still retrying"
    assert len(done) > cut_at  # redemptions went on after the cut

    # nothing was restarted: the same processes reconnected by themselves
    assert {s: platform.service_pids(s) for s in pids} == pids, platform.tail()
    health = requests.get(platform.base + "/health", timeout=30)
    assert health.status_code == 200, health.text

    # each coupon redeemed once: every success answer for it names one redemption
    answers = {serial: answer for desk in desks for serial, answer in desk.final.items()}
    attempts = {serial: tries for desk in desks for serial, tries in desk.attempts.items()}
    failed = {s: attempts[s] for s, (status, _) in answers.items() if status not in (200, 201)}
    assert not failed, f"coupons never redeemed (every attempt): {failed}"
    assert sorted(answers) == sorted(serials)
    for serial, (_, body) in answers.items():
        seen = {b["id"] for status, b in attempts[serial] if status in (200, 201)}
        assert seen == {body["id"]}, (serial, attempts[serial])
    listed = api.get("/redemptions", key=scheme["venue_key"])
    assert listed.status_code == 200, listed.text
    listed = listed.json()["redemptions"]
    assert Counter(c["serial"] for r in listed for c in r["coupons"]) == Counter(serials)
    assert {r["status"] for r in listed} == {"accepted"}

    # each payment recorded once, each order confirmed
    assert sorted(cashier.final) == sorted(o["id"] for o in orders)
    for order in orders:
        status, body = cashier.final[order["id"]]
        assert status in (200, 201), (order["id"], status, body)
        stored = api.get(f"/orders/{order['id']}", key=operator_key).json()
        assert len(stored["payments"]) == 1, stored["payments"]
        assert stored["status"] in ("confirmed", "issued"), stored["status"]

    # settlement heard of each redemption and each payment once; its ledger balances
    money_in = scheme["due_cents"] + sum(o["quote"]["sponsor_due_cents"] for o in orders)

    def settled():
        body = ledger(api, operator_key)
        owed = body["liabilities"]["venue_payable_cents"]
        return owed >= COUPONS * 1000 and body["money_in_cents"] >= money_in and body

    wait_for(settled, 60, "every redemption and payment in the ledger")
    time.sleep(2)  # a redelivered event booked twice would show now
    final = ledger(api, operator_key)
    assert final["liabilities"]["venue_payable_cents"] == COUPONS * 1000, final
    assert final["money_in_cents"] == money_in, final
    assert final["balanced"], final

    # nothing left behind: every outbox published, no event given up
    wait_for(lambda: not outbox_leftovers(storage_uri), 30, "the outboxes to empty")
    with DeadLetters(rabbit_config["AMQP_URI"]) as dead:
        assert dead.count() == 0, [d.to_dict() for d in dead.list()]
    # and the paid orders' booklets issued (order_confirmed, booklets_issued flowed). An issue
    # whose booklets_issued could not be published during the outage keeps its right to publish
    # for a minute (services/issuance resume_after_seconds), then its timer takes it up
    for order in orders:

        def issued(order_id=order["id"]):
            answer = api.get(f"/orders/{order_id}/booklets", key=scheme["sponsor_key"])
            return answer.ok and answer.json()["status"] == "published"

        wait_for(issued, 120, f"the booklets of {order['id']}", every=1)
    print(
        f"cut {closed} connections after {cut_at} of {COUPONS} redemptions, then an outage "
        f"after {outage_at}; "
        f"payment attempts {dict(cashier.attempts)}; retried coupons "
        f"{sum(1 for tries in attempts.values() if len(tries) > 1)}; answers "
        f"{Counter(status for tries in attempts.values() for status, _ in tries)}"
    )
