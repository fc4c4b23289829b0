"""Redemption on the real RabbitMQ, alone: ordering, issuance and catalog are not running, which is
the point — it redeems from what their events told it. Two instances race on the same coupons."""

import uuid

import eventlet
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.redemption.service import RedemptionService
from shared.errors import AppError
from shared.mongo import get_client
from tests.redemption_support import issued, venue_event, wrong

pytestmark = pytest.mark.integration

VENUE, SERVICE = "ven_00000000000000000001", "svc_00000000000000000001"
ACTOR = {"role": "venue", "key_id": "key_t", "subject_id": VENUE, "label": None}


class Settlement:
    """Stands for settlement: counts the redemption events it receives."""

    name = "settlement_listener"
    redeemed = []

    @event_handler("redemption", "coupons_redeemed")
    def handle_coupons_redeemed(self, payload):
        Settlement.redeemed.append(payload)


def feed(config, container, event_type, source, payload):
    with entrypoint_waiter(container, f"handle_{event_type}"):
        event_dispatcher(config)(source, event_type, payload)


def test_two_instances_many_clients_exactly_one_success_per_coupon(
    container_factory, service_config
):
    Settlement.redeemed = []
    first = container_factory(RedemptionService, service_config)
    second = container_factory(RedemptionService, service_config)
    first.start()
    second.start()
    listener = container_factory(Settlement, service_config)
    listener.start()
    dispatch = event_dispatcher(service_config)
    dispatch("catalog", "venue_accredited", venue_event(VENUE))
    event, codes = issued(booklets=2, per_booklet=5)
    dispatch("issuance", "booklets_issued", event)
    dispatch("issuance", "booklets_issued", event)  # redelivered, maybe to the other instance
    coupons = list(codes.items())
    last_serial, last_code = coupons[-1]
    with ClusterRpcProxy(service_config) as cluster, eventlet.Timeout(10):
        while True:  # wait until one instance has learnt venue and coupons
            try:
                cluster.redemption.check_coupon(VENUE, {"serial": last_serial, "code": last_code})
                break
            except AppError:
                eventlet.sleep(0.05)

    def client(n):
        """Each client tries three coupons, overlapping its neighbours'."""
        picked = [coupons[(n + i) % len(coupons)] for i in range(3)]
        payload = {
            "service_id": SERVICE,
            "idempotency_key": uuid.uuid4().hex,
            "coupons": [{"serial": s, "code": c} for s, c in picked],
        }
        with ClusterRpcProxy(service_config) as cluster:
            try:
                return cluster.redemption.redeem(VENUE, payload, ACTOR)["redemption"]
            except AppError as exc:
                return exc.code

    pool = eventlet.GreenPool(20)
    results = list(pool.imap(client, range(40)))
    accepted = [r for r in results if isinstance(r, dict)]
    refusals = {r for r in results if not isinstance(r, dict)}
    assert accepted and refusals <= {"coupon_already_redeemed"}

    redeemed = [c["serial"] for r in accepted for c in r["coupons"]]
    assert len(redeemed) == len(set(redeemed))  # never a coupon twice
    with eventlet.Timeout(10):
        while len(Settlement.redeemed) < len(accepted):
            eventlet.sleep(0.05)
    eventlet.sleep(0.5)
    assert len(Settlement.redeemed) == len(accepted)
    assert sorted(c["serial"] for e in Settlement.redeemed for c in e["coupons"]) == sorted(
        redeemed
    )

    # every coupon not redeemed is still usable: the refused requests released what they claimed
    with ClusterRpcProxy(service_config) as cluster:
        for serial, code in coupons:
            if serial not in redeemed:
                query = {"serial": serial, "code": code, "service_id": SERVICE}
                assert cluster.redemption.check_coupon(VENUE, query)["usable"] is True

    # every claimed coupon belongs to an accepted redemption, and every event left the outbox
    # as soon as it was written (published from memory, then pulled; not by the flush timer)
    db = get_client(service_config["MONGO_URI"])[service_config["MONGO_DB_PREFIX"] + "redemption"]
    claimed = {c["redemption_id"] for c in db.coupons.find({"status": "redeemed"})}
    assert claimed == {r["id"] for r in accepted}
    stored = list(db.redemptions.find({}, {"status": 1, "outbox": 1}))
    assert {r["status"] for r in stored} == {"accepted"} and len(stored) == len(accepted)
    assert all(r["outbox"] == [] for r in stored)


def test_duplicate_and_stale_venue_events_change_nothing(container_factory, service_config):
    container = container_factory(RedemptionService, service_config)
    container.start()
    feed(service_config, container, "venue_accredited", "catalog", venue_event(VENUE, version=5))
    # an older suspension arriving late is ignored
    feed(
        service_config,
        container,
        "venue_suspended",
        "catalog",
        venue_event(VENUE, version=4, status="suspended"),
    )
    event, codes = issued()
    feed(service_config, container, "booklets_issued", "issuance", event)
    serial, code = next(iter(codes.items()))
    with ClusterRpcProxy(service_config) as cluster:
        assert cluster.redemption.check_coupon(VENUE, {"serial": serial, "code": code})["usable"]


def test_two_instances_answer_exactly_ten_wrong_codes_then_lock_the_venue(
    container_factory, service_config
):
    """The lock is checked and the failure counted in one atomic update: concurrent wrong codes
    on two instances get exactly the threshold of answers, the rest are refused."""
    for _ in range(2):
        container_factory(RedemptionService, service_config).start()
    dispatch = event_dispatcher(service_config)
    dispatch("catalog", "venue_accredited", venue_event(VENUE))
    event, codes = issued(booklets=3, per_booklet=10)
    dispatch("issuance", "booklets_issued", event)
    coupons = list(codes.items())
    db = get_client(service_config["MONGO_URI"])[service_config["MONGO_DB_PREFIX"] + "redemption"]
    with eventlet.Timeout(10):  # known to redemption (read in its store: no guess counted)
        while db.venues.count_documents({}) < 1 or db.coupons.count_documents({}) < len(coupons):
            eventlet.sleep(0.05)

    def guess(coupon):
        serial, code = coupon
        with ClusterRpcProxy(service_config) as cluster:
            try:
                cluster.redemption.check_coupon(VENUE, {"serial": serial, "code": wrong(code)})
            except AppError as exc:
                return exc.code
        return "ok"

    answers = list(eventlet.GreenPool(len(coupons)).imap(guess, coupons))
    assert answers.count("invalid_security_code") == 10, answers
    assert answers.count("too_many_attempts") == len(coupons) - 10
    with ClusterRpcProxy(service_config) as cluster:
        locks = cluster.redemption.list_locks()["locks"]
    assert [(lock["kind"], lock["venue_id"], lock["wrong_codes"]) for lock in locks] == [
        ("venue", VENUE, 10)
    ]
