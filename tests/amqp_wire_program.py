"""A program outside nameko, on the platform's AMQP wire (docs/amqp.md): what a bank's statement
importer, a sponsor's system or a service in another language does. It imports pika, the standard
library and ``shared.amqp_client`` only, and checks that nothing brought nameko or eventlet in.

``python -m tests.amqp_wire_program SCENARIO`` with ``AMQP_URI`` in the environment and the
scenario's data as JSON on stdin; prints one JSON object a line (tests/integration/test_amqp_wire.py
reads them). Scenarios: ``platform`` (every service's health, a payment recorded, error envelopes),
``coupons`` (coupons learnt from published events, checked, redeemed, refused), ``consume`` (one
``redemption.coupons_redeemed`` event from a durable queue, acknowledged or not).
"""

import json
import os
import sys
import time
import uuid

import pika

from shared import amqp_client
from shared.amqp_client import AmqpClient, AppError, EventConsumer, RemoteError, UnknownService

FORBIDDEN = ("nameko", "eventlet")


def forbidden_modules():
    return sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)


def emit(**data):
    print(json.dumps(data), flush=True)


def envelope_of(call):
    """Run ``call``; the error it raised as the test checks it (class, kind, code, envelope)."""
    try:
        call()
    except AppError as exc:
        kinds = [c.__name__ for c in type(exc).__mro__ if c in amqp_client.KINDS.values()]
        return {
            "class": type(exc).__name__,
            "kind": kinds[0],
            "code": exc.code,
            "message": exc.message,
            "details": exc.details,
            "envelope": exc.envelope,
        }
    except (RemoteError, UnknownService) as exc:
        return {"class": type(exc).__name__, "exc_type": getattr(exc, "exc_type", None)}
    return None


def raw_health(uri, service):
    """``<service>.health()`` with pika alone, following docs/amqp.md step by step."""
    connection = pika.BlockingConnection(amqp_client.connection_parameters(uri))
    channel = connection.channel()
    channel.exchange_declare("nameko-rpc", exchange_type="topic", durable=True)
    reply_key = str(uuid.uuid4())
    queue = f"rpc.reply-raw-{reply_key}"
    channel.queue_declare(queue, exclusive=True, auto_delete=True)
    channel.queue_bind(queue, "nameko-rpc", routing_key=reply_key)
    call_id = str(uuid.uuid4())
    channel.basic_publish(
        "nameko-rpc",
        f"{service}.health",
        json.dumps({"args": [], "kwargs": {}}).encode(),
        pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            reply_to=reply_key,
            correlation_id=call_id,
            headers={"nameko.correlation_id": "raw-pika-health"},
        ),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            connection.sleep(0.05)
            continue
        if properties.correlation_id == call_id:
            connection.close()
            return {
                "reply": json.loads(body),
                "content_type": properties.content_type,
                "routing_key": method.routing_key,
                "exchange": method.exchange,
            }
    raise TimeoutError(service)


def platform(uri, data):
    emit(raw=raw_health(uri, "catalog"))
    operator = data["operator"]
    with AmqpClient(uri, timeout=20, name="wire_test") as client:
        emit(health={name: client.call(name, "health") for name in data["services"]})
        emit(
            unknown_service=envelope_of(lambda: client.call("no_such_service", "health")),
            unknown_method=envelope_of(lambda: client.call("ordering", "no_such_method")),
        )
        ordering = client.service("ordering")
        sponsor = ordering.register_sponsor(data["sponsor"], operator)
        sponsor_actor = {
            "role": "sponsor",
            "key_id": "k",
            "subject_id": sponsor["id"],
            "label": None,
        }
        order = ordering.create_order({**data["order"], "sponsor_id": sponsor["id"]}, sponsor_actor)
        order = ordering.submit_order(order["id"], sponsor_actor)
        payment = {
            "amount_cents": order["quote"]["sponsor_due_cents"],
            "payer": "sponsor",
            "reference": data["payment_reference"],
        }
        # the statement importer's correlation id follows the payment through the logs
        recorded = client.request(
            "ordering",
            "record_payment",
            (order["id"], payment, operator),
            correlation_id=data["correlation_id"],
        ).result()
        replayed = ordering.record_payment(order["id"], payment, operator)
        emit(
            order_id=order["id"],
            submitted=order["status"],
            recorded={"created": recorded["created"], "status": recorded["order"]["status"]},
            replayed={"created": replayed["created"], "status": replayed["order"]["status"]},
            not_found=envelope_of(lambda: ordering.get_order("ord_00000000000000000000", operator)),
            invalid=envelope_of(lambda: ordering.record_payment(order["id"], {}, operator)),
        )


def coupons(uri, data):
    venue_id, service_id, actor = data["venue_id"], data["service_id"], data["actor"]
    (serial, code), (other_serial, other_code) = data["coupons"][:2]
    with AmqpClient(uri, timeout=20, name="wire_test") as client:
        client.publish_event("catalog", "venue_accredited", data["venue_event"])
        client.publish_event("issuance", "booklets_issued", data["booklets_event"])
        redemption = client.service("redemption")
        deadline = time.monotonic() + 20
        while True:  # redemption learns venue and coupons from the events, at its pace
            try:
                check = redemption.check_coupon(venue_id, {"serial": serial, "code": code})
                break
            except AppError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        wrong = envelope_of(
            lambda: redemption.check_coupon(
                venue_id, {"serial": serial, "code": data["wrong_code"]}
            )
        )

        def redeem(pairs, key):
            payload = {
                "service_id": service_id,
                "idempotency_key": key,
                "coupons": [{"serial": s, "code": c} for s, c in pairs],
            }
            return redemption.redeem(venue_id, payload, actor)

        redeemed = redeem([(serial, code)], uuid.uuid4().hex)
        emit(
            check=check,
            wrong_code=wrong,
            redeemed={
                "created": redeemed["created"],
                "id": redeemed["redemption"]["id"],
                "serials": [c["serial"] for c in redeemed["redemption"]["coupons"]],
            },
            again=envelope_of(lambda: redeem([(serial, code)], uuid.uuid4().hex)),
        )
        second = redeem([(other_serial, other_code)], uuid.uuid4().hex)
        emit(second={"id": second["redemption"]["id"]})


def consume(uri, data):
    consumer = EventConsumer(uri, "redemption", "coupons_redeemed", data["consumer"])
    with consumer:
        emit(ready=consumer.queue, forbidden=forbidden_modules())
        delivery = consumer.get(timeout=30)
        emit(
            event=delivery and delivery.payload,
            redelivered=delivery and delivery.redelivered,
            correlation_id=delivery and delivery.correlation_id,
            headers=delivery and delivery.headers,
            content_type=delivery and delivery.content_type,
            exchange=delivery and delivery.exchange,
            event_type=delivery and delivery.event_type,
        )
        if not data["ack"]:
            time.sleep(600)  # killed here, before the acknowledgement
            return
        acked = delivery.ack()
        delivery = consumer.get(timeout=float(data.get("drain_seconds", 2)))
        drained = []
        while delivery is not None:  # what else the queue held (each acknowledged)
            drained.append({"event": delivery.payload, "redelivered": delivery.redelivered})
            delivery.ack()
            delivery = consumer.get(timeout=float(data.get("drain_seconds", 2)))
        emit(acked=acked, drained=drained)
    # a new connection: nothing is left on the queue once acknowledged
    with EventConsumer(uri, "redemption", "coupons_redeemed", data["consumer"]) as again:
        left = again.get(timeout=1)
        emit(left=left and left.payload)


SCENARIOS = {"platform": platform, "coupons": coupons, "consume": consume}


def main(scenario):
    assert not forbidden_modules(), forbidden_modules()
    data = json.loads(sys.stdin.read() or "{}")
    SCENARIOS[scenario](os.environ["AMQP_URI"], data)
    emit(done=scenario, forbidden=forbidden_modules())


if __name__ == "__main__":
    main(sys.argv[1])
