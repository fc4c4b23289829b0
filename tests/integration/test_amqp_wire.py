"""The AMQP wire contract (docs/amqp.md) from programs that are not nameko services.

The services run in this process on the real RabbitMQ (a fresh vhost per test); the program that
talks to them is another process that imports pika and ``shared.amqp_client`` only
(tests/amqp_wire_program.py, which checks that neither nameko nor eventlet came in). It calls every
service, records a payment, checks and redeems coupons it made known by publishing events, gets
error envelopes, and follows ``redemption.coupons_redeemed`` at least once (a consumer killed
before its acknowledgement: the event comes again, and nothing is lost).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import eventlet
import pika
import pytest
import requests

from aptic.registry import SERVICES, all_service_classes
from services.redemption.service import RedemptionService
from shared.amqp_client import (
    AmqpClient,
    EventConsumer,
    InvalidInput,
    NotFound,
    RpcTimeout,
    UnknownService,
    connection_parameters,
)
from tests.conftest import free_port
from tests.factories import IBANS
from tests.redemption_support import issued, venue_event, wrong

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = {"role": "operator", "key_id": "key_wire", "subject_id": None, "label": "wire test"}
VENUE, SERVICE = "ven_00000000000000000001", "svc_00000000000000000001"
VENUE_ACTOR = {"role": "venue", "key_id": "key_v", "subject_id": VENUE, "label": None}
CONSUMER = "wire_test.follow_redemptions"


def program(scenario, rabbit_config):
    """The nameko-free program, started (stdin open for its data, stdout read line by line)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.amqp_wire_program", scenario],
        cwd=ROOT,
        env={**os.environ, "AMQP_URI": rabbit_config["AMQP_URI"]},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def lines(process, data, count=None, timeout=60):
    """Give ``data`` to the program and read its JSON lines (``count`` of them, or all)."""
    process.stdin.write(json.dumps(data))
    process.stdin.close()
    read = []
    with eventlet.Timeout(timeout):
        while count is None or len(read) < count:
            line = process.stdout.readline()
            if not line:
                break
            read.append(json.loads(line))
    if count is None:
        assert process.wait(timeout=timeout) == 0, process.stderr.read()[-3000:]
        assert read[-1]["forbidden"] == [], read[-1]  # never nameko, never eventlet
    return read


def merged(read):
    return {key: value for line in read for key, value in line.items()}


def test_a_program_without_nameko_calls_every_service(
    runner_factory, service_config, rabbit_manager
):
    config = {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    runner = runner_factory(config, *all_service_classes())
    runner.start()
    data = {
        "services": list(SERVICES),
        "operator": OPERATOR,
        "sponsor": {
            "name": "Entreprise Solidaire",
            "kind": "company",
            "territory": "33",
            "members": [],
            "iban": IBANS[0],
        },
        "order": {
            "lines": [{"coupons_per_booklet": 10, "quantity": 2}],
            "rules": {"territories": ["33"], "venue_types": [], "categories": []},
        },
        "payment_reference": "VIR-WIRE-1",
        "correlation_id": "bank-import-0001",
    }
    out = merged(lines(program("platform", config), data))

    # pika alone, as docs/amqp.md says: the reply comes on nameko-rpc to the reply key, JSON
    raw = out["raw"]
    assert raw["exchange"] == "nameko-rpc" and raw["content_type"] == "application/json"
    assert raw["reply"] == {"result": {"service": "catalog", "store": True}, "error": None}

    assert set(out["health"]) == set(SERVICES)
    for name, answer in out["health"].items():
        assert answer["service"] == name, answer
    assert out["unknown_service"] == {"class": "UnknownService", "exc_type": None}
    assert out["unknown_method"] == {"class": "RemoteError", "exc_type": "MethodNotFound"}

    # a payment recorded (the order is paid: confirmed), and its replay records nothing
    assert out["submitted"] == "submitted"
    assert out["recorded"] == {"created": True, "status": "confirmed"}
    assert out["replayed"] == {"created": False, "status": "confirmed"}

    # the error envelope: the class, its kind, its stable code, the details as JSON text
    not_found = out["not_found"]
    assert (not_found["class"], not_found["kind"], not_found["code"]) == (
        "OrderNotFound",
        "NotFound",
        "order_not_found",
    )
    envelope = not_found["envelope"]
    assert set(envelope) == {"exc_type", "exc_path", "exc_args", "value"}
    assert envelope["exc_path"] == "shared.contracts.errors_ordering.OrderNotFound"
    message, details, code = envelope["exc_args"]
    assert code == "order_not_found" and json.loads(details) == not_found["details"]
    assert envelope["value"] == f"order_not_found: {message}"
    invalid = out["invalid"]
    assert (invalid["class"], invalid["kind"], invalid["code"]) == (
        "ValidationFailed",
        "InvalidInput",
        "validation_error",
    )
    assert {"amount_cents", "payer", "reference"} <= set(invalid["details"]["fields"])

    # what the broker holds is what docs/amqp.md says (durable exchanges and queues)
    _assert_declarations(rabbit_manager, config["vhost"])

    # `aptic keys` goes through the pika client: no eventlet, no nameko messaging in its process
    _assert_aptic_keys_without_nameko(config)


def _assert_declarations(api, vhost):
    exchanges = {e["name"]: e for e in api.get_exchanges(vhost)}
    assert (exchanges["nameko-rpc"]["type"], exchanges["nameko-rpc"]["durable"]) == ("topic", True)
    for source in ("catalog", "ordering", "issuance", "redemption", "settlement"):
        exchange = exchanges[f"{source}.events"]
        assert (exchange["type"], exchange["durable"], exchange["auto_delete"]) == (
            "topic",
            True,
            False,
        )
    queues = {q["name"]: q for q in api.get_queues(vhost)}
    for name in SERVICES:
        queue = queues[f"rpc-{name}"]
        assert queue["durable"] and not queue["auto_delete"] and not queue["exclusive"]
        bindings = api.get_queue_bindings(vhost, f"rpc-{name}")
        assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {
            ("nameko-rpc", f"{name}.*")
        }
    handler = queues["evt-redemption-coupons_redeemed--settlement.handle_coupons_redeemed"]
    assert handler["durable"] and not handler["auto_delete"] and not handler["exclusive"]


def _assert_aptic_keys_without_nameko(config):
    script = textwrap.dedent(
        """
        import json, sys
        from click.testing import CliRunner
        import aptic.cli
        runner = CliRunner()
        created = runner.invoke(aptic.cli.main, ["keys", "create", "--role", "operator", "--label", "wire"])
        listed = runner.invoke(aptic.cli.main, ["keys", "list"])
        bad = runner.invoke(aptic.cli.main, ["keys", "revoke", "key_nope"])
        print(json.dumps({
            "created": [created.exit_code, created.output],
            "listed": [listed.exit_code, listed.output],
            "bad": [bad.exit_code, bad.output],
            "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("nameko", "eventlet")),
        }))
        """
    )
    env = {**os.environ, "AMQP_URI": config["AMQP_URI"], "MONGO_URI": config["MONGO_URI"]}
    env.pop("APTIC_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    # of nameko, only the config loader (shared/config.py reads ${VAR:default} with nameko's own):
    # no container, no messaging, no eventlet
    loader = {"nameko", "nameko.exceptions", "nameko.cli", "nameko.cli.main"}
    loader |= {"nameko.cli.actions", "nameko.cli.commands"}
    assert set(out["modules"]) <= loader, out["modules"]
    exit_code, output = out["created"]
    assert exit_code == 0 and output.splitlines()[-1].startswith("ak_"), output
    key_id = output.splitlines()[0].removeprefix("key_id: ")
    exit_code, output = out["listed"]
    assert exit_code == 0 and key_id in output and "operator" in output, output
    exit_code, output = out["bad"]
    assert exit_code == 1 and "key_not_found" in output, output


def test_coupons_checked_redeemed_refused_and_events_at_least_once(
    container_factory, service_config
):
    container = container_factory(RedemptionService, service_config)
    container.start()
    event, codes = issued(booklets=1, per_booklet=5)
    pairs = list(codes.items())

    # a follower of redemptions (a sponsor's system) declares its queue, takes the first event
    # and is killed before acknowledging it
    first = program("consume", service_config)
    try:
        ready = lines(first, {"consumer": CONSUMER, "ack": False}, count=1)[0]
        assert ready == {"ready": f"evt-redemption-coupons_redeemed--{CONSUMER}", "forbidden": []}

        out = merged(
            lines(
                program("coupons", service_config),
                {
                    "venue_id": VENUE,
                    "service_id": SERVICE,
                    "actor": VENUE_ACTOR,
                    "venue_event": venue_event(VENUE),
                    "booklets_event": event,
                    "coupons": pairs,
                    "wrong_code": wrong(pairs[0][1]),
                },
            )
        )
        assert out["check"]["usable"] is True
        wrong_code = out["wrong_code"]
        assert (wrong_code["class"], wrong_code["kind"], wrong_code["code"]) == (
            "InvalidSecurityCode",
            "Refused",
            "invalid_security_code",
        )
        assert out["redeemed"]["created"] is True and out["redeemed"]["serials"] == [pairs[0][0]]
        again = out["again"]
        assert (again["class"], again["kind"], again["code"]) == (
            "CouponAlreadyRedeemed",
            "Conflict",
            "coupon_already_redeemed",
        )
        assert again["envelope"]["exc_type"] == "CouponAlreadyRedeemed"
        assert again["envelope"]["exc_path"] == (
            "shared.contracts.errors_redemption.CouponAlreadyRedeemed"
        )
        assert again["envelope"]["exc_args"][2] == "coupon_already_redeemed"

        received = _next_line(first)
        assert received["event"]["redemption_id"] == out["redeemed"]["id"]
        assert received["redelivered"] is False
        assert (received["exchange"], received["event_type"]) == (
            "redemption.events",
            "coupons_redeemed",
        )
        assert received["content_type"] == "application/json"
        assert received["correlation_id"] and received["headers"]["nameko.correlation_id"]
    finally:
        first.send_signal(signal.SIGKILL)  # before its acknowledgement
        first.wait(timeout=10)

    # another instance of the follower gets the same event again (redelivered), then the next
    second = merged(lines(program("consume", service_config), {"consumer": CONSUMER, "ack": True}))
    assert second["event"] == received["event"] and second["redelivered"] is True
    assert second["acked"] is True
    assert [d["event"]["redemption_id"] for d in second["drained"]] == [out["second"]["id"]]
    assert second["left"] is None  # acknowledged: gone, nothing lost, nothing left


def _next_line(process, timeout=30):
    with eventlet.Timeout(timeout):
        return json.loads(process.stdout.readline())


def test_client_and_consumer_reconnect_when_the_broker_drops_them(
    container_factory, service_config, rabbit_manager
):
    """In this (eventlet) process too, as a benchmark's load generator would use them."""
    container = container_factory(RedemptionService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]
    with (
        AmqpClient(uri, timeout=10, name="wire_reconnect") as client,
        EventConsumer(uri, "wire_test", "ping", "wire_test.reconnect") as consumer,
    ):
        assert client.call("redemption", "health")["service"] == "redemption"
        client.publish_event("wire_test", "ping", {"n": 1})
        first = consumer.get(timeout=10)
        assert first.payload == {"n": 1} and first.ack()

        _close_connections(rabbit_manager, service_config["vhost"], "wire_")
        assert client.call("redemption", "health")["service"] == "redemption"  # reconnected
        client.publish_event("wire_test", "ping", {"n": 2})
        second = consumer.get(timeout=20)  # reconnected, queue kept (durable)
        assert second.payload == {"n": 2} and second.ack()

        # its queue deleted under it: the broker cancels the consumer, which declares it again
        with pika.BlockingConnection(connection_parameters(uri)) as connection:
            connection.channel().queue_delete(consumer.queue)
        assert consumer.get(timeout=1) is None  # notices the cancel, declares the queue again
        client.publish_event("wire_test", "ping", {"n": 3})
        third = consumer.get(timeout=20)
        assert third.payload == {"n": 3} and third.ack()
        with pytest.raises(NotFound) as refused:
            client.call("redemption", "get_redemption", "red_00000000000000000000")
        assert refused.value.code == "redemption_not_found"

        # several calls in flight on one connection, each answered to its own reply
        replies = [client.call_async("redemption", "health") for _ in range(5)]
        replies.append(client.call_async("redemption", "check_coupon", VENUE, {}))
        assert [r.result()["service"] for r in replies[:5]] == ["redemption"] * 5
        with pytest.raises(InvalidInput):
            replies[-1].result()

        # a queue nobody consumes: the request is routed, no reply comes, the call times out
        with pika.BlockingConnection(connection_parameters(uri)) as connection:
            channel = connection.channel()
            channel.queue_declare("rpc-silent", auto_delete=False)
            channel.queue_bind("rpc-silent", "nameko-rpc", routing_key="silent.*")
        started = time.monotonic()
        with pytest.raises(RpcTimeout):
            client.request("silent", "anything", timeout=0.5).result()
        assert time.monotonic() - started < 5
        with pytest.raises(UnknownService):
            client.call("nobody", "health")
        assert client.call("redemption", "health")["service"] == "redemption"  # still usable


def _close_connections(rabbit_manager, vhost, prefix):
    deadline = time.monotonic() + 30
    closed = 0
    while time.monotonic() < deadline:
        for connection in rabbit_manager.get_connections() or []:
            name = (connection.get("client_properties") or {}).get("connection_name") or ""
            if connection.get("vhost") == vhost and name.startswith(prefix):
                try:
                    rabbit_manager.delete_connection(connection["name"])
                    closed += 1
                except requests.HTTPError:
                    pass
        if closed >= 2:
            return
        eventlet.sleep(0.5)
    raise AssertionError(f"closed {closed} connections")
