"""The issuance service on the real RabbitMQ: ``ordering.order_confirmed`` and
``ordering.distributor_registered`` dispatched as ordering would, the events issuance emits
received by a listener service (standing for redemption and ordering), RPC as the gateway calls it.
"""

import base64
import hashlib
import io
import subprocess
from datetime import datetime

import eventlet
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from PIL import Image
from pypdf import PdfReader
from pyzbar.pyzbar import decode

from services.issuance.domain import BOOKLETS, COUPONS
from services.issuance.service import IssuanceService
from shared.contracts.errors_issuance import DistributorOfAnotherSponsor, NotYours
from shared.events import BookletsIssued
from shared.mongo import database_name, get_client, get_database
from shared.serials import booklet_serial, code_matches, coupon_serial, security_code
from shared.times import iso
from tests.conftest import TEST_SECRETS

pytestmark = pytest.mark.integration

OPERATOR = {"role": "operator", "key_id": "key_op", "subject_id": None, "label": "test"}


def sponsor(sponsor_id):
    return {"role": "sponsor", "key_id": "key_sp", "subject_id": sponsor_id, "label": None}


def distributor(distributor_id):
    return {"role": "distributor", "key_id": "key_di", "subject_id": distributor_id, "label": None}


class Listener:
    """Stands for redemption and ordering: records what issuance tells them."""

    name = "issuance_listener"
    received = []

    @event_handler("issuance", "booklets_issued")
    def on_issued(self, payload):
        self.received.append(("booklets_issued", payload))

    @event_handler("issuance", "booklet_activated")
    def on_activated(self, payload):
        self.received.append(("booklet_activated", payload))

    @event_handler("issuance", "booklet_cancelled")
    def on_cancelled(self, payload):
        self.received.append(("booklet_cancelled", payload))


def confirmed(order_id, sponsor_id="spo_1", lines=((10, 3),)):
    return {
        "order_id": order_id,
        "sponsor_id": sponsor_id,
        "sponsor_name": "Département de la Gironde",
        "sponsor_kind": "department",
        "territory": "33",
        "lines": [
            {"line_no": i, "coupons_per_booklet": per, "face_value_cents": 1000, "quantity": q}
            for i, (per, q) in enumerate(lines, start=1)
        ],
        "coupon_count": sum(per * q for per, q in lines),
        "face_value_cents": sum(per * q * 1000 for per, q in lines),
        "fee_cents": 0,
        "state_share_cents": 0,
        "sponsor_due_cents": 0,
        "cofunded": False,
        "state_rate_bp": 0,
        "rules": {"territories": ["33"], "venue_types": [], "categories": []},
        "payments": [],
        "confirmed_at": "2026-11-22T10:00:00Z",
    }


@pytest.fixture
def listener(container_factory, service_config):
    Listener.received = []
    container = container_factory(Listener, service_config)
    container.start()
    return container


@pytest.fixture
def issuance(container_factory, service_config, listener):
    container = container_factory(IssuanceService, service_config)
    container.start()
    with ServiceRpcProxy("issuance", service_config) as proxy:
        yield proxy


def wait_published(proxy, order_ids, seconds=30):
    for _ in range(seconds * 10):
        states = []
        for order_id in order_ids:
            try:
                states.append(proxy.order_booklets(order_id, {}, OPERATOR)["status"])
            except Exception:  # noqa: BLE001 - not recorded yet
                states.append(None)
        if all(state == "published" for state in states):
            return
        eventlet.sleep(0.1)
    raise AssertionError(f"not issued in {seconds} s: {states}")


def issued_events(order_id=None):
    return [
        BookletsIssued().load(p)
        for kind, p in Listener.received
        if kind == "booklets_issued" and (order_id is None or p["order_id"] == order_id)
    ]


def test_confirmed_order_is_issued_and_announced_with_code_digests(issuance, service_config):
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", confirmed("ord_a", lines=((10, 2), (5, 1))))
    wait_published(issuance, ["ord_a"])
    eventlet.sleep(0.5)

    found = issuance.order_booklets("ord_a", {}, sponsor("spo_1"))
    assert [b["serial"] for b in found["booklets"]] == [booklet_serial(n) for n in (1, 2, 3)]
    assert found["coupon_range"] == {"first": coupon_serial(1), "last": coupon_serial(25)}
    assert [b["status"] for b in found["booklets"]] == ["issued"] * 3
    (event,) = issued_events("ord_a")
    assert event["sponsor_id"] == "spo_1" and event["rules"]["territories"] == ["33"]
    coupons = [c for b in event["booklets"] for c in b["coupons"]]
    assert [c["serial"] for c in coupons] == [coupon_serial(n) for n in range(1, 26)]
    for coupon in coupons:
        code = security_code(TEST_SECRETS["OPERATOR_SECRET"], coupon["serial"])
        assert code_matches(
            TEST_SECRETS["CODE_DIGEST_KEY"], coupon["serial"], code, coupon["code_digest"]
        )
    # the JSON API never shows a code
    booklet = issuance.get_booklet(booklet_serial(1), OPERATOR)
    text = repr(booklet)
    assert all(
        security_code(TEST_SECRETS["OPERATOR_SECRET"], s) not in text
        for s in booklet["coupon_serials"]
    )


def test_a_redelivered_order_confirmed_issues_nothing_twice(issuance, service_config, listener):
    event = confirmed("ord_dup", lines=((10, 4),))
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", event)
    wait_published(issuance, ["ord_dup"])
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", event)
    dispatch("ordering", "order_confirmed", event)
    dispatch("ordering", "order_confirmed", confirmed("ord_next", lines=((10, 1),)))
    wait_published(issuance, ["ord_next"])
    eventlet.sleep(1)
    assert issuance.order_booklets("ord_dup", {}, OPERATOR)["total"] == 4
    assert len(issued_events("ord_dup")) == 1
    nxt = issuance.order_booklets("ord_next", {}, OPERATOR)["booklets"]
    assert nxt[0]["first_coupon_serial"] == coupon_serial(41)  # right after ord_dup's 40


def test_two_instances_racing_give_every_order_its_own_serials_without_gap(
    container_factory, service_config, listener
):
    for _ in range(2):  # two containers of the service share its queues, like two instances
        container_factory(IssuanceService, service_config).start()
    orders = {f"ord_r{i}": ((10, 1 + i % 4), (5, 1 + i % 2)) for i in range(12)}
    dispatch = event_dispatcher(service_config)
    for order_id, lines in orders.items():
        dispatch("ordering", "order_confirmed", confirmed(order_id, lines=lines))
    dispatch("ordering", "order_confirmed", confirmed("ord_r0", lines=orders["ord_r0"]))
    with ServiceRpcProxy("issuance", service_config) as proxy:
        wait_published(proxy, list(orders), seconds=60)
        booklets = {o: proxy.order_booklets(o, {}, OPERATOR)["booklets"] for o in orders}

    db = get_database(service_config, "issuance", tz_aware=True)  # as the service's Store
    for sequence in (BOOKLETS, COUPONS):
        blocks = sorted(db.serial_blocks.find({"sequence": sequence}), key=lambda b: b["first"])
        assert sorted(b["order_id"] for b in blocks) == sorted(orders)
        assert blocks[0]["first"] == 1
        for before, after in zip(blocks, blocks[1:], strict=False):
            assert after["first"] == before["last"] + 1  # no gap, no overlap
    coupon_serials = [s for doc in db.booklets.find() for s in doc["coupon_serials"]]
    total = sum(per * q for lines in orders.values() for per, q in lines)
    assert sorted(coupon_serials) == [coupon_serial(n) for n in range(1, total + 1)]
    for order_id, lines in orders.items():
        assert len(booklets[order_id]) == sum(q for _, q in lines)
        assert len(issued_events(order_id)) == 1


def test_lifecycle_events_and_distributor_checks(issuance, service_config, listener):
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", confirmed("ord_l", lines=((10, 2),)))
    for dist, spo in (("dis_1", "spo_1"), ("dis_2", "spo_2")):
        registered = {
            "distributor_id": dist,
            "sponsor_id": spo,
            "name": "CCAS",
            "town_code": "33318",
            "registered_at": "2026-11-22T10:00:00Z",
        }
        dispatch("ordering", "distributor_registered", registered)
        dispatch("ordering", "distributor_registered", registered)  # redelivered
    wait_published(issuance, ["ord_l"])
    eventlet.sleep(0.5)
    first, second = booklet_serial(1), booklet_serial(2)
    assert issuance.dispatch_order("ord_l", OPERATOR)["dispatched"] == 2
    with pytest.raises(DistributorOfAnotherSponsor):
        issuance.assign_booklet(first, {"distributor_id": "dis_2"}, sponsor("spo_1"))
    with pytest.raises(NotYours):
        issuance.assign_booklet(first, {"distributor_id": "dis_2"}, sponsor("spo_2"))
    issuance.assign_booklet(first, {"distributor_id": "dis_1"}, sponsor("spo_1"))
    with pytest.raises(NotYours):
        issuance.activate_booklet(first, {}, distributor("dis_2"))
    with entrypoint_waiter(listener, "on_activated"):
        booklet = issuance.activate_booklet(
            first, {"profile": {"age_band": "26_35", "postcode": "33600"}}, distributor("dis_1")
        )
    assert booklet["status"] == "activated" and booklet["valid_from"] == booklet["activated_at"]
    # stored as BSON dates; answered and announced as the same ISO text
    raw = get_client(service_config["MONGO_URI"])[database_name(service_config, "issuance")]
    stored = raw.booklets.find_one({"serial": first})
    assert type(stored["activated_at"]) is datetime and type(stored["valid_until"]) is datetime
    assert booklet["activated_at"] == iso(stored["activated_at"])
    assert booklet["valid_until"] == iso(stored["valid_until"])
    with entrypoint_waiter(listener, "on_cancelled"):
        issuance.cancel_booklet(second, {"reason": "lost"}, OPERATOR)
    activated = [p for k, p in Listener.received if k == "booklet_activated"]
    cancelled = [p for k, p in Listener.received if k == "booklet_cancelled"]
    assert activated[0]["booklet_serial"] == first and activated[0]["distributor_id"] == "dis_1"
    assert activated[0]["profile"] == {"age_band": "26_35", "postcode": "33600"}
    assert activated[0]["activated_at"] == booklet["activated_at"]
    assert activated[0]["valid_until"] == booklet["valid_until"]
    assert cancelled[0]["coupon_serials"] == [coupon_serial(n) for n in range(11, 21)]
    assert cancelled[0]["reason"] == "lost"


def download(issuance, record, actor=OPERATOR):
    """A stored print file read back a chunk per RPC, as the gateway does."""
    assert record["status"] == "ready"
    chunks = []
    for index in range(-(-record["size"] // record["chunk_bytes"])):
        answer = issuance.print_file_chunk(record["file_id"], index, actor)
        assert answer["index"] == index
        chunks.append(base64.b64decode(answer["content_b64"]))
    content = b"".join(chunks)
    assert len(content) == record["size"]
    assert hashlib.sha256(content).hexdigest() == record["sha256"]
    return content


def test_print_file_of_an_order_over_rpc_is_read_back_by_zbar_and_pdftotext(
    issuance, service_config, tmp_path
):
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", confirmed("ord_p", lines=((10, 2), (5, 1))))
    wait_published(issuance, ["ord_p"])
    document = issuance.print_order("ord_p", OPERATOR)
    pdf = download(issuance, document)
    assert document["coupon_count"] == 25 and document["filename"] == "print-ord_p.pdf"
    assert len(PdfReader(io.BytesIO(pdf)).pages) == document["pages"] == 3 + 3 + 2
    path = tmp_path / "order.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", path, "-"], capture_output=True, check=True).stdout.decode()
    secret = TEST_SECRETS["OPERATOR_SECRET"]
    expected = {
        f"{coupon_serial(n)}:{security_code(secret, coupon_serial(n))}" for n in range(1, 26)
    }
    assert all(item.split(":")[0] in text and item.split(":")[1] in text for item in expected)
    subprocess.run(["pdftoppm", "-png", "-r", "150", path, tmp_path / "page"], check=True)
    found = set()
    for png in sorted(tmp_path.glob("page-*.png")):
        with Image.open(png) as image:
            found |= {symbol.data.decode() for symbol in decode(image)}
    assert found == expected
    with pytest.raises(NotYours):
        issuance.print_order("ord_p", sponsor("spo_1"))
    one = issuance.print_booklet(booklet_serial(3), sponsor("spo_1"))
    assert one["coupon_count"] == 5
    assert len(PdfReader(io.BytesIO(download(issuance, one, sponsor("spo_1")))).pages) == 2
    with pytest.raises(NotYours):
        issuance.print_booklet(booklet_serial(3), sponsor("spo_2"))
    with pytest.raises(NotYours):  # another sponsor cannot read the stored file either
        issuance.print_file_chunk(one["file_id"], 0, sponsor("spo_2"))
    with pytest.raises(NotYours):  # nor a sponsor the order's file
        issuance.print_file_chunk(document["file_id"], 0, sponsor("spo_1"))
    # made once: asked again, the same stored file (and its bytes) comes back
    again = issuance.print_order("ord_p", OPERATOR)
    assert again["file_id"] == document["file_id"] and again["sha256"] == document["sha256"]


def test_a_large_order_is_printed_by_worker_processes_while_the_service_answers(
    issuance, service_config
):
    dispatch = event_dispatcher(service_config)
    dispatch("ordering", "order_confirmed", confirmed("ord_big", lines=((5, 150),)))
    wait_published(issuance, ["ord_big"], seconds=60)
    printing = eventlet.spawn(issuance.print_order, "ord_big", OPERATOR)
    answers = 0
    with ServiceRpcProxy("issuance", service_config) as other:
        while not printing.dead:
            assert other.health()["service"] == "issuance"  # the service is not blocked
            answers += 1
            eventlet.sleep(0.2)
    document = printing.wait()
    assert document["coupon_count"] == 750
    pdf = download(issuance, document)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 150 * 2
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert all(coupon_serial(n) in text for n in range(1, 751))
    assert answers >= 1
