"""The outbox: an event recorded with its change is published, even after a failed first try."""

import pytest

from shared import times
from shared.mongo import get_client
from shared.outbox import OutboxHandle, outbox_entry


class Broker:
    """Stands for RabbitMQ: refuses while down, records what it accepted."""

    def __init__(self):
        self.down = False
        self.accepted = []

    def dispatch(self, event_type, payload):
        if self.down:
            raise ConnectionError("broker unreachable")
        self.accepted.append((event_type, payload))


@pytest.fixture
def db(mongo_config):
    return get_client(mongo_config["MONGO_URI"])[mongo_config["MONGO_DB_PREFIX"] + "outbox"]


def test_event_left_behind_by_a_broker_outage_is_published_by_the_flush(db):
    broker = Broker()
    db.orders.insert_one({"id": "ord_1", "status": "submitted"})
    db.orders.update_one(
        {"id": "ord_1"},
        {
            "$set": {"status": "confirmed"},
            "$push": {"outbox": outbox_entry("order_confirmed", {"order_id": "ord_1"})},
        },
    )
    handle = OutboxHandle(db, ["orders"], grace_seconds=0)
    broker.down = True
    with pytest.raises(ConnectionError):
        handle.publish_pending(broker.dispatch, "orders", {"id": "ord_1"})
    assert db.orders.find_one({"id": "ord_1"})["outbox"]  # still owed

    broker.down = False
    assert handle.flush(broker.dispatch) == 1
    assert broker.accepted == [("order_confirmed", {"order_id": "ord_1"})]
    assert db.orders.find_one({"id": "ord_1"})["outbox"] == []
    assert handle.flush(broker.dispatch) == 0  # published once, not again


def test_flush_waits_for_the_grace_period(db):
    broker = Broker()
    db.venues.insert_one({"id": "ven_1", "outbox": [outbox_entry("venue_updated", {"v": 1})]})
    assert OutboxHandle(db, ["venues"], grace_seconds=60).flush(broker.dispatch) == 0
    assert OutboxHandle(db, ["venues"], grace_seconds=0).flush(broker.dispatch) == 1


def test_two_workers_on_one_document_publish_its_event_once(db):
    """A request and a replay of it (or the timer) look at the same order at the same moment."""
    broker = Broker()
    entry = outbox_entry("order_confirmed", {"order_id": "ord_2"})
    db.orders.insert_one({"id": "ord_2", "outbox": [entry]})
    first, second = OutboxHandle(db, ["orders"], 60), OutboxHandle(db, ["orders"], 60)
    seen = db.orders.find_one({"id": "ord_2"})  # both read the entry before either publishes
    assert first._publish(broker.dispatch, "orders", seen) == 1
    assert second._publish(broker.dispatch, "orders", seen) == 0
    assert broker.accepted == [("order_confirmed", {"order_id": "ord_2"})]


def test_a_claim_whose_publisher_died_lapses_and_the_flush_publishes(db):
    broker = Broker()
    entry = outbox_entry("order_confirmed", {"order_id": "ord_3"})
    db.orders.insert_one({"id": "ord_3", "outbox": [entry]})
    dying = OutboxHandle(db, ["orders"], 60)
    assert dying._claim("orders", db.orders.find_one({"id": "ord_3"})["_id"], entry["event_id"])
    # ...and the process dies before dispatching: while the claim holds, nobody publishes
    assert OutboxHandle(db, ["orders"], 60).publish_pending(broker.dispatch, "orders", {}) == 0
    db.orders.update_one({"id": "ord_3"}, {"$set": {"outbox.0.claimed_until": times.now()}})
    assert OutboxHandle(db, ["orders"], 0).flush(broker.dispatch) == 1  # lapsed: published
    assert broker.accepted == [("order_confirmed", {"order_id": "ord_3"})]
