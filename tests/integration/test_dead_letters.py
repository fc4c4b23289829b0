"""Poison events: a handler that always fails gives its event up to the dead-letter queue after
``EVENT_DELIVERY_LIMIT`` deliveries while the other events keep flowing; the operator lists it
and, once the handler is fixed, replays it: delivered once. Classic queues of an older release
are upgraded in place, their events kept."""

import json
import subprocess
import sys
import time
from pathlib import Path

import eventlet
import pika
import pytest
from nameko.standalone.events import event_dispatcher

from shared import amqp_client
from shared.amqp_client import AmqpClient, DeadLetters, EventConsumer, connection_parameters
from shared.entrypoints import DeadLetterCount, event_handler, rpc

pytestmark = pytest.mark.integration
APTIC = str(Path(sys.executable).parent / "aptic")
LIMIT = 3


class Ledgerish:
    name = "ledgerish"
    handled = []  # every call: (n, outcome)
    broken = True

    @event_handler("till", "paid")
    def handle_paid(self, payload):
        if payload["n"] == 13 and Ledgerish.broken:
            Ledgerish.handled.append((13, "failed"))
            raise ZeroDivisionError("a bug in the handler")
        Ledgerish.handled.append((payload["n"], "ok"))


def wait_until(check, seconds=20):
    with eventlet.Timeout(seconds):
        while not check():
            eventlet.sleep(0.05)


@pytest.fixture
def poison_config(rabbit_config):
    return {**rabbit_config, "EVENT_DELIVERY_LIMIT": LIMIT, "EVENT_REQUEUE_DELAY": 0.05}


def test_a_poison_event_is_dead_lettered_the_others_flow_and_a_replay_delivers_it_once(
    container_factory, poison_config, rabbit_manager
):
    Ledgerish.handled, Ledgerish.broken = [], True
    container = container_factory(Ledgerish, poison_config)
    container.start()
    dispatch = event_dispatcher(poison_config)
    uri = poison_config["AMQP_URI"]
    dispatch("till", "paid", {"n": 13, "note": "poison"})
    for n in range(100, 120):
        dispatch("till", "paid", {"n": n})

    wait_until(lambda: sum(1 for n, outcome in Ledgerish.handled if outcome == "ok") == 20)
    with DeadLetters(uri) as dead:
        wait_until(lambda: dead.count() == 1)
        eventlet.sleep(0.5)  # nothing more comes: given up, not requeued
        assert Ledgerish.handled.count((13, "failed")) == LIMIT
        assert dead.count() == 1
        (letter,) = dead.list()
        assert dead.count() == 1  # listing takes nothing away
    queue = "evt-till-paid--ledgerish.handle_paid"
    assert (letter.queue, letter.source, letter.event_type) == (queue, "till", "paid")
    assert letter.consumer == "ledgerish.handle_paid"
    assert letter.error == "ZeroDivisionError: a bug in the handler"
    assert letter.deliveries == LIMIT and letter.replays == 0
    assert letter.payload == {"n": 13, "note": "poison"}
    assert letter.at.startswith("20")
    info = rabbit_manager.get_queue(poison_config["vhost"], queue)
    assert info["arguments"]["x-queue-type"] == "quorum"
    with pika.BlockingConnection(connection_parameters(uri)) as connection:
        waiting = connection.channel().queue_declare(queue, passive=True).method.message_count
    assert waiting == 0  # nothing stuck behind it

    # the handler fixed: replayed by id, delivered once, to its own queue only
    Ledgerish.broken = False
    with DeadLetters(uri) as dead:
        replayed, missing = dead.replay(ids={"no-such-id"})
        assert (replayed, missing) == ([], []) and dead.count() == 1
        replayed, missing = dead.replay(ids={letter.id})
        assert [r.id for r in replayed] == [letter.id] and missing == []
        assert dead.count() == 0
    wait_until(lambda: (13, "ok") in Ledgerish.handled)
    eventlet.sleep(0.5)
    assert Ledgerish.handled.count((13, "ok")) == 1
    assert len(Ledgerish.handled) == 20 + LIMIT + 1


def test_aptic_events_dead_and_replay_without_nameko(
    container_factory, poison_config, rabbit_config, tmp_path
):
    Ledgerish.handled, Ledgerish.broken = [], True
    container_factory(Ledgerish, poison_config).start()
    event_dispatcher(poison_config)("till", "paid", {"n": 13, "venue_id": "ven_x" * 40})
    uri = poison_config["AMQP_URI"]
    with DeadLetters(uri) as dead:
        wait_until(lambda: dead.count() == 1)
    config = tmp_path / "config.yml"
    config.write_text(f"AMQP_URI: {uri}\n")

    def aptic(*args):
        done = subprocess.run(
            [APTIC, "--config", str(config), "events", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = aptic("dead")
    assert "1 dead-lettered event" in listed
    assert "ledgerish.handle_paid" in listed and "till.paid" in listed
    assert "ZeroDivisionError: a bug in the handler" in listed
    assert "…" in listed  # the payload summarised
    (letter,) = json.loads(aptic("dead", "--json"))
    assert letter["payload"]["n"] == 13 and letter["deliveries"] == LIMIT
    assert "nothing replayed" in aptic("replay", "--id", "nope")

    Ledgerish.broken = False
    assert "1 event(s) sent again" in aptic("replay", "--all")
    wait_until(lambda: (13, "ok") in Ledgerish.handled)
    assert "0 dead-lettered events" in aptic("dead")
    assert aptic("dead", "--json").strip() == "[]"


def test_a_pika_consumer_dead_letters_too(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    calls = []

    def always_fails(delivery):
        calls.append(delivery.deliveries)
        raise RuntimeError("cannot take it")

    with (
        amqp_client.AmqpClient(uri, name="poison_test") as client,
        EventConsumer(uri, "till", "paid", "wire.poison", delivery_limit=2) as consumer,
    ):
        client.publish_event("till", "paid", {"n": 1})
        consumer.run(always_fails, max_events=1, idle_timeout=10, requeue_pause=0)
    assert calls == [1, 2]
    with DeadLetters(uri) as dead:
        (letter,) = dead.list()
    assert letter.queue == "evt-till-paid--wire.poison"
    assert letter.error == "RuntimeError: cannot take it" and letter.deliveries == 2


def test_a_classic_queue_of_an_older_release_is_upgraded_with_its_events(
    container_factory, poison_config, rabbit_manager
):
    """Before this release event queues were classic: declaring them as quorum queues is refused
    (406 PRECONDITION_FAILED). The service upgrades them when it starts, losing nothing."""
    Ledgerish.handled, Ledgerish.broken = [], False
    queue = "evt-till-paid--ledgerish.handle_paid"
    with pika.BlockingConnection(connection_parameters(poison_config["AMQP_URI"])) as connection:
        channel = connection.channel()
        channel.exchange_declare("till.events", exchange_type="topic", durable=True)
        channel.queue_declare(queue, durable=True)  # as nameko 2.14 declares it
        channel.queue_bind(queue, "till.events", routing_key="paid")
    dispatch = event_dispatcher(poison_config)
    for n in range(5):
        dispatch("till", "paid", {"n": n})  # waiting in the classic queue

    container_factory(Ledgerish, poison_config).start()
    wait_until(lambda: len(Ledgerish.handled) >= 5)
    dispatch("till", "paid", {"n": 5})
    wait_until(lambda: len(Ledgerish.handled) >= 6)
    assert sorted(n for n, _ in Ledgerish.handled) == list(range(6))
    queues = {q["name"]: q for q in rabbit_manager.get_queues(poison_config["vhost"])}
    assert queues[queue]["arguments"]["x-queue-type"] == "quorum"
    assert queue + amqp_client.UPGRADE_SUFFIX not in queues


class Busy:
    name = "busy"
    failures = []

    @event_handler("till", "paid")
    def handle_paid(self, payload):
        Busy.failures.append(payload["n"])
        raise ConnectionError("store unreachable")

    @rpc
    def ping(self):
        return "pong"


def test_events_waiting_to_be_retried_hold_no_worker(container_factory, rabbit_config):
    """RPC and event handlers share a service's workers: an event waiting for its next try
    must not hold one, or a few failing events would stop the service answering."""
    Busy.failures = []
    config = {**rabbit_config, "max_workers": 2, "EVENT_REQUEUE_DELAY": 5}
    container_factory(Busy, config).start()
    dispatch = event_dispatcher(config)
    for n in range(4):
        dispatch("till", "paid", {"n": n})
    wait_until(lambda: len(Busy.failures) >= 2)
    with AmqpClient(config["AMQP_URI"], timeout=10, name="busy_test") as client:
        started = time.monotonic()
        assert client.call("busy", "ping") == "pong"
        assert time.monotonic() - started < 2  # not after the 5 s pause
    assert len(set(Busy.failures)) == len(Busy.failures)  # none tried twice yet


class Counted:
    name = "counted"
    dead_letters = DeadLetterCount()

    @event_handler("till", "paid")
    def handle_paid(self, payload):
        raise RuntimeError("always")

    @rpc
    def health(self):
        return {"service": self.name, "dead_letters": self.dead_letters()}


def test_health_counts_the_dead_letters(container_factory, poison_config):
    container_factory(Counted, poison_config).start()
    with AmqpClient(poison_config["AMQP_URI"], timeout=10, name="count_test") as client:
        assert client.call("counted", "health") == {"service": "counted", "dead_letters": 0}
        dispatch = event_dispatcher(poison_config)
        dispatch("till", "paid", {"n": 1})
        dispatch("till", "paid", {"n": 2})
        wait_until(lambda: client.call("counted", "health")["dead_letters"] == 2)


def test_an_upgrade_interrupted_midway_is_finished_at_the_next_start(
    container_factory, poison_config
):
    """The old queue deleted, its events in the holding queue still bound: the next start moves
    them to the new queue and deletes the holding queue."""
    Ledgerish.handled, Ledgerish.broken = [], False
    queue = "evt-till-paid--ledgerish.handle_paid"
    holding = queue + amqp_client.UPGRADE_SUFFIX
    uri = poison_config["AMQP_URI"]
    with pika.BlockingConnection(connection_parameters(uri)) as connection:
        channel = connection.channel()
        amqp_client.declare_event_queue(channel, "till", "paid", holding)  # as the upgrade does
    dispatch = event_dispatcher(poison_config)
    for n in range(3):
        dispatch("till", "paid", {"n": n})  # only the holding queue is bound

    container_factory(Ledgerish, poison_config).start()
    wait_until(lambda: len(Ledgerish.handled) >= 3)
    dispatch("till", "paid", {"n": 3})
    wait_until(lambda: len(Ledgerish.handled) >= 4)
    eventlet.sleep(0.5)
    assert sorted(n for n, _ in Ledgerish.handled) == [0, 1, 2, 3]  # each once
    with pika.BlockingConnection(connection_parameters(uri)) as connection:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            connection.channel().queue_declare(holding, passive=True)


def test_an_event_that_keeps_killing_its_consumer_is_dead_lettered_by_the_broker(rabbit_config):
    """No exception to catch (the process dies holding the event): the quorum queue's own
    delivery limit gives it up, with the broker's x-death header; listed and replayed the same."""
    uri = rabbit_config["AMQP_URI"]
    queue = "evt-till-paid--crashy.handle_paid"
    with pika.BlockingConnection(connection_parameters(uri)) as connection:
        amqp_client.declare_event_queue(connection.channel(), "till", "paid", queue)
    with amqp_client.AmqpClient(uri, name="crash_test") as client:
        client.publish_event("till", "paid", {"n": 7})
    for _ in range(amqp_client.BROKER_DELIVERY_LIMIT + 1):  # taken, never acknowledged: a crash
        with pika.BlockingConnection(connection_parameters(uri)) as connection:
            method, _, _ = connection.channel().basic_get(queue, auto_ack=False)
            assert method is not None
    with DeadLetters(uri) as dead:
        wait_until(lambda: dead.count() == 1)
        (letter,) = dead.list()
        assert (letter.queue, letter.source, letter.event_type) == (queue, "till", "paid")
        assert letter.consumer == "crashy.handle_paid"
        assert letter.error.startswith("delivery_limit: delivered more than 20 times")
        assert letter.payload == {"n": 7} and letter.at.startswith("20")
        replayed, _ = dead.replay({letter.id})
        assert [r.id for r in replayed] == [letter.id] and dead.count() == 0
    with pika.BlockingConnection(connection_parameters(uri)) as connection:
        method, properties, body = connection.channel().basic_get(queue, auto_ack=True)
    assert json.loads(body) == {"n": 7}
    assert "x-death" not in properties.headers
    assert properties.headers[amqp_client.REPLAYS_HEADER] == 1
