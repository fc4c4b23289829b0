"""The ordering service on the real RabbitMQ: RPC calls, the events it emits (received by a
listener service standing for issuance and settlement) and the issuance event it consumes."""

import base64
import hashlib
import io
from datetime import datetime

import eventlet
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from pypdf import PdfReader

from services.ordering.service import OrderingService
from shared.contracts.errors_ordering import NotYours, OrderNotFound
from shared.errors import ValidationFailed
from shared.events import DistributorRegistered, OrderConfirmed
from shared.mongo import database_name, get_client
from shared.times import iso, now
from tests.factories import IBANS

pytestmark = pytest.mark.integration

OPERATOR = {"role": "operator", "key_id": "key_test", "subject_id": None, "label": "test"}
APPLICATION = {
    "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
    "geographic_area": "Gironde",
    "partners": ["CCAS de Bordeaux"],
    "budget_cents": 2_500_000,
}


class Listener:
    """Stands for issuance and settlement: counts what ordering tells them."""

    name = "ordering_listener"
    received = []

    @event_handler("ordering", "order_confirmed")
    def on_confirmed(self, payload):
        self.received.append(("order_confirmed", payload))

    @event_handler("ordering", "order_cancelled")
    def on_cancelled(self, payload):
        self.received.append(("order_cancelled", payload))

    @event_handler("ordering", "distributor_registered")
    def on_distributor(self, payload):
        self.received.append(("distributor_registered", payload))


@pytest.fixture
def ordering(container_factory, service_config):
    Listener.received = []
    container = container_factory(OrderingService, service_config)
    container.start()
    listener = container_factory(Listener, service_config)
    listener.start()
    with ServiceRpcProxy("ordering", service_config) as proxy:
        yield proxy, container, listener


def sponsor_of(proxy, kind="department", territory="33", members=()):
    payload = {
        "name": f"Sponsor {kind}",
        "kind": kind,
        "territory": territory,
        "members": list(members),
        "iban": IBANS[0],
    }
    sponsor = proxy.register_sponsor(payload, OPERATOR)
    key = {"role": "sponsor", "key_id": "key_sp", "subject_id": sponsor["id"], "label": None}
    return sponsor, key


def order_payload(sponsor, cofunded=True, quantity=200):
    payload = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "quantity": quantity}],
    }
    if cofunded:
        payload["state_cofunding"] = APPLICATION
    payload["rules"] = {"territories": ["33"], "venue_types": [], "categories": []}
    return payload


def test_order_confirmed_is_emitted_exactly_once_with_what_issuance_needs(ordering):
    proxy, _, listener = ordering
    sponsor, key = sponsor_of(proxy)
    order = proxy.create_order(order_payload(sponsor), key)
    assert order["quote"]["sponsor_due_cents"] == 1_080_000
    order = proxy.submit_order(order["id"], key)
    assert order["status"] == "cofunding_pending"
    order = proxy.decide_cofunding(
        order["id"], {"decision": "approve", "reason": "complet"}, OPERATOR
    )
    assert order["invoice"]["reference"].startswith(f"INV-{now().year}-")

    sponsor_payment = {"amount_cents": 1_080_000, "payer": "sponsor", "reference": "VIR-1"}
    state_payment = {"amount_cents": 1_000_000, "payer": "state", "reference": "ANCT-1"}
    assert proxy.record_payment(order["id"], sponsor_payment, OPERATOR)["created"] is True
    with entrypoint_waiter(listener, "on_confirmed"):
        answer = proxy.record_payment(order["id"], state_payment, OPERATOR)
    assert answer["order"]["status"] == "confirmed"
    # replays of both payments record nothing and confirm nothing again
    assert proxy.record_payment(order["id"], state_payment, OPERATOR)["created"] is False
    assert proxy.record_payment(order["id"], sponsor_payment, OPERATOR)["created"] is False
    eventlet.sleep(1)

    confirmed = [payload for kind, payload in Listener.received if kind == "order_confirmed"]
    assert len(confirmed) == 1
    event = OrderConfirmed().load(confirmed[0])
    assert event["order_id"] == order["id"] and event["sponsor_id"] == sponsor["id"]
    assert event["lines"] == [
        {"line_no": 1, "coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 200}
    ]
    assert (event["face_value_cents"], event["fee_cents"], event["state_share_cents"]) == (
        2_000_000,
        80_000,
        1_000_000,
    )
    assert event["cofunded"] and event["state_rate_bp"] == 5000
    assert event["rules"]["territories"] == ["33"]
    assert len(proxy.get_order(order["id"], key)["payments"]) == 2


def test_two_orders_racing_for_the_last_of_the_envelope(ordering, service_config):
    proxy, _, _ = ordering
    year = now().year
    campaign = proxy.set_cofunding_campaign(
        {"year": year, "rate_bp": 5000, "envelope_cents": 1_000_000}, OPERATOR
    )
    assert campaign["remaining_cents"] == 1_000_000
    first_sponsor, first_key = sponsor_of(proxy, "region", "75")
    second_sponsor, second_key = sponsor_of(proxy, "town_group", "33063", ["33063", "33281"])
    first = proxy.create_order(order_payload(first_sponsor), first_key)
    second = proxy.create_order(order_payload(second_sponsor), second_key)

    def submit(order, key):  # one proxy each: two calls truly in flight at once
        with ServiceRpcProxy("ordering", service_config) as own:
            return own.submit_order(order["id"], key)

    threads = [eventlet.spawn(submit, first, first_key), eventlet.spawn(submit, second, second_key)]
    results = [thread.wait() for thread in threads]

    assert sorted(r["status"] for r in results) == ["cofunding_pending", "cofunding_refused"]
    refused = next(r for r in results if r["status"] == "cofunding_refused")
    assert refused["cofunding"]["reason_code"] == "cofunding_envelope_exhausted"
    assert refused["quote"]["sponsor_due_cents"] == 2_080_000
    assert proxy.get_cofunding_campaign(year)["remaining_cents"] == 0

    # cancelling the winner gives the share back
    winner = next(r for r in results if r["status"] == "cofunding_pending")
    winner_key = first_key if winner["id"] == first["id"] else second_key
    proxy.cancel_order(winner["id"], {"reason": "plus besoin"}, winner_key)
    assert proxy.get_cofunding_campaign(year)["remaining_cents"] == 1_000_000


def test_booklets_issued_marks_the_order_issued_once(ordering, service_config):
    proxy, container, _ = ordering
    sponsor, key = sponsor_of(proxy, "company")
    order = proxy.submit_order(proxy.create_order(order_payload(sponsor, False, 2), key)["id"], key)
    payment = {
        "amount_cents": order["quote"]["sponsor_due_cents"],
        "payer": "sponsor",
        "reference": "V",
    }
    proxy.record_payment(order["id"], payment, OPERATOR)
    event = {
        "order_id": order["id"],
        "sponsor_id": sponsor["id"],
        "sponsor_name": sponsor["name"],
        "territory": "33",
        "rules": {},
        "cofunded": False,
        "state_rate_bp": 0,
        "issued_at": "2026-11-22T10:00:00Z",
        "valid_from": "2026-11-22T10:00:00Z",
        "valid_until": "2027-11-22T10:00:00Z",
        "booklets": [
            {"serial": "B000000011", "coupons": []},
            {"serial": "B000000029", "coupons": []},
        ],
        "batch": 1,
        "batch_count": 1,
    }
    dispatch = event_dispatcher(service_config)
    for _ in range(2):  # delivered twice
        with entrypoint_waiter(container, "handle_booklets_issued"):
            dispatch("issuance", "booklets_issued", event)
    issued = proxy.get_order(order["id"], OPERATOR)
    assert issued["status"] == "issued"
    assert issued["issuance"]["booklet_count"] == 2
    assert [h["to"] for h in issued["history"]].count("issued") == 1

    # stored as BSON dates; answered as the same ISO text as the event's
    raw = get_client(service_config["MONGO_URI"])[database_name(service_config, "ordering")]
    stored = raw.orders.find_one({"id": order["id"]})
    assert type(stored["issuance"]["issued_at"]) is datetime
    assert type(stored["created_at"]) is datetime and type(stored["confirmed_at"]) is datetime
    assert issued["issuance"]["issued_at"] == "2026-11-22T10:00:00Z"
    assert issued["issuance"]["valid_until"] == "2027-11-22T10:00:00Z"
    assert issued["created_at"] == iso(stored["created_at"])
    assert issued["payments"][0]["received_at"] == iso(stored["payments"][0]["received_at"])


def test_distributor_registered_event_and_errors_over_rpc(ordering):
    proxy, _, listener = ordering
    sponsor, key = sponsor_of(proxy)
    other, other_key = sponsor_of(proxy, "region", "75")
    with entrypoint_waiter(listener, "on_distributor"):
        found = proxy.register_distributor(
            {"name": "Mairie de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"}, key
        )
    event = DistributorRegistered().load(Listener.received[-1][1])
    assert event == {
        "distributor_id": found["id"],
        "sponsor_id": sponsor["id"],
        "name": "Mairie de Pessac",
        "town_code": "33318",
        "registered_at": found["created_at"],
    }
    order = proxy.create_order(order_payload(sponsor, False), key)
    with pytest.raises(NotYours):
        proxy.get_order(order["id"], other_key)
    with pytest.raises(OrderNotFound):
        proxy.get_order("ord_ffffffffffffffffffff", OPERATOR)
    with pytest.raises(ValidationFailed) as caught:
        proxy.create_order({**order_payload(sponsor), "lines": [{"coupons_per_booklet": 3}]}, key)
    assert "lines" in caught.value.details["fields"]
    with pytest.raises(ValidationFailed):
        proxy.get_order(order["id"], {"role": "root"})


def test_invoice_pdf_over_rpc(ordering):
    proxy, _, _ = ordering
    sponsor, key = sponsor_of(proxy, "association")
    order = proxy.submit_order(proxy.create_order(order_payload(sponsor, False, 3), key)["id"], key)
    document = proxy.invoice_pdf(order["id"], key)
    assert "content_b64" not in document  # stored by ordering, read a chunk at a time
    chunk = proxy.invoice_file_chunk(document["file_id"], 0, key)
    content = base64.b64decode(chunk["content_b64"])
    assert len(content) == document["size"] < document["chunk_bytes"]
    assert hashlib.sha256(content).hexdigest() == document["sha256"]
    text = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert document["reference"] in text and document["filename"] == f"{document['reference']}.pdf"
    assert proxy.invoice_pdf(order["id"], key)["file_id"] == document["file_id"]  # made once
    _, other_key = sponsor_of(proxy, "department", territory="40")
    with pytest.raises(NotYours):  # the stored file: who may read the order, no one else
        proxy.invoice_file_chunk(document["file_id"], 0, other_key)
    assert "312,00" in text  # 3 booklets x 10 x 10 EUR = 300.00 EUR + 4 % fee


def test_concurrent_payments_confirm_once_and_a_replayed_reference_records_once(
    ordering, service_config
):
    proxy, _, listener = ordering
    sponsor, key = sponsor_of(proxy)
    order = proxy.create_order(order_payload(sponsor), key)
    proxy.submit_order(order["id"], key)
    proxy.decide_cofunding(order["id"], {"decision": "approve", "reason": "ok ok"}, OPERATOR)
    payments = [
        {"amount_cents": 1_080_000, "payer": "sponsor", "reference": "VIR-1"},
        {"amount_cents": 1_080_000, "payer": "sponsor", "reference": "VIR-1"},
        {"amount_cents": 1_000_000, "payer": "state", "reference": "ANCT-1"},
        {"amount_cents": 1_000_000, "payer": "state", "reference": "ANCT-1"},
    ]

    def pay(payment):
        with ServiceRpcProxy("ordering", service_config) as own:
            return own.record_payment(order["id"], payment, OPERATOR)

    with entrypoint_waiter(listener, "on_confirmed"):
        answers = [thread.wait() for thread in [eventlet.spawn(pay, p) for p in payments]]
    eventlet.sleep(1)
    assert sorted(a["created"] for a in answers) == [False, False, True, True]
    final = proxy.get_order(order["id"], OPERATOR)
    assert final["status"] == "confirmed" and len(final["payments"]) == 2
    assert [kind for kind, _ in Listener.received].count("order_confirmed") == 1
