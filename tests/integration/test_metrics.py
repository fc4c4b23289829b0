"""Metrics (docs/operations.md, "Metrics"): the services run on the real RabbitMQ, the process
serves its endpoint as ``aptic run`` does (``shared.metrics.serve``), and the test reads it over
HTTP like Prometheus, parsing the exposition format: every sample that the calls, events,
refusals, runs and dead letters should move has moved by exactly as much."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import eventlet
import pytest
import requests
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client.parser import text_string_to_metric_families

from services.gateway.service import GatewayService
from services.redemption.service import RedemptionService
from services.settlement.service import SettlementService
from services.web.service import WebService
from shared import metrics
from shared.entrypoints import MeasuredHttpHandler, event_handler, rpc
from shared.errors import AppError, InvalidInput
from tests.conftest import free_port
from tests.redemption_support import issued, venue_event, wrong

pytestmark = pytest.mark.integration
APTIC = str(Path(sys.executable).parent / "aptic")

VENUE, SERVICE = "ven_00000000000000000001", "svc_00000000000000000001"
ACTOR = {"role": "venue", "key_id": "key_t", "subject_id": VENUE, "label": None}


class Till:
    """A service of the test's own: one RPC that answers, one that refuses, an HTTP route, an
    event handler that fails on a poison event (dead-lettered at its second delivery)."""

    name = "metered_till"

    @rpc
    def add(self, a, b):
        return a + b

    @rpc
    def refuse(self):
        raise InvalidInput("no", code="till_closed")

    @event_handler("till", "paid")
    def handle_paid(self, payload):
        if payload["n"] == 13:
            raise ZeroDivisionError("a bug in the handler")

    @MeasuredHttpHandler.decorator("GET", "/till/<int:n>")
    def till_page(self, request, n):
        return 200 if n else 404, "till"


def scrape(address):
    """Every sample of the endpoint: ``{(name, frozenset(labels.items())): value}``."""
    answer = requests.get(f"http://{address[0]}:{address[1]}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def moved(before, after):
    """The samples that changed, by how much (new ones from 0)."""
    return {
        key: value - before.get(key, 0.0)
        for key, value in after.items()
        if value != before.get(key, 0.0)
    }


def sample(name, **labels):
    return name, frozenset(labels.items())


def endpoint(config):
    """The endpoint as `aptic run` starts it, on a port of its own; dead letters read afresh."""
    address = metrics.serve({**config, "METRICS_ADDRESS": f"127.0.0.1:{free_port()}"}, 0, 0.0)
    assert address is not None
    return address


def test_rpc_http_events_redemptions_refusals_and_dead_letters_are_counted(
    container_factory, service_config
):
    web = f"127.0.0.1:{free_port()}"
    config = {
        **service_config,
        "WEB_SERVER_ADDRESS": web,
        "EVENT_DELIVERY_LIMIT": 2,
        "EVENT_REQUEUE_DELAY": 0.05,
    }
    till_web = f"127.0.0.1:{free_port()}"  # nameko's own HTTP server, not the gateway's
    container_factory(Till, {**config, "WEB_SERVER_ADDRESS": till_web}).start()
    pages = f"127.0.0.1:{free_port()}"
    config["WEB_PAGES_ADDRESS"] = pages
    for cls in (RedemptionService, GatewayService, WebService):
        container_factory(cls, config).start()
    address = endpoint(config)
    before = scrape(address)
    assert before[sample("aptic_dead_letters", queue="aptic.dead-letters")] == 0
    assert before[sample("aptic_dead_letters_readable")] == 1

    # events: two handled, one refused (a malformed payload is an expected error)
    dispatch = event_dispatcher(config)
    dispatch("catalog", "venue_accredited", venue_event(VENUE))
    event, codes = issued(booklets=1, per_booklet=3)
    dispatch("issuance", "booklets_issued", event)
    dispatch("catalog", "venue_accredited", {"venue_id": "not a venue"})
    (first, code), (second, second_code) = list(codes.items())[:2]
    with ClusterRpcProxy(config) as cluster, eventlet.Timeout(15):
        assert cluster.metered_till.add(2, 3) == 5
        with pytest.raises(AppError):
            cluster.metered_till.refuse()
        while True:  # until redemption has learnt the venue and the coupons
            try:
                cluster.redemption.check_coupon(VENUE, {"serial": first, "code": code})
                break
            except AppError:
                eventlet.sleep(0.05)
        after_learning = scrape(address)
        check_refusals = sum(
            value
            for (name, labels), value in moved(before, after_learning).items()
            if name == "aptic_rpc_refusals_total" and ("method", "check_coupon") in labels
        )
        key = uuid.uuid4().hex
        payload = {
            "service_id": SERVICE,
            "idempotency_key": key,
            "coupons": [{"serial": first, "code": code}],
        }
        assert cluster.redemption.redeem(VENUE, payload, ACTOR)["created"] is True
        assert cluster.redemption.redeem(VENUE, payload, ACTOR)["created"] is False
        refused = {
            "service_id": SERVICE,
            "idempotency_key": uuid.uuid4().hex,
            "coupons": [{"serial": second, "code": wrong(second_code)}],
        }
        with pytest.raises(AppError) as refusal:
            cluster.redemption.redeem(VENUE, refused, ACTOR)
    assert refusal.value.code == "invalid_security_code"

    # HTTP: the gateway's API (a public route, one refused without a key), a web page, a route
    # of Till
    assert requests.get(f"http://{web}/api/v1/openapi.json", timeout=10).status_code == 200
    assert requests.get(f"http://{web}/api/v1/api-keys", timeout=10).status_code == 401
    assert requests.get(f"http://{pages}/connexion", timeout=10).status_code == 200
    assert requests.get(f"http://{till_web}/till/7", timeout=10).status_code == 200
    assert requests.get(f"http://{till_web}/till/0", timeout=10).status_code == 404
    # a poison event: tried, retried, given up to the dead-letter queue
    dispatch("till", "paid", {"n": 13})
    with eventlet.Timeout(15):
        while scrape(address)[sample("aptic_dead_letters", queue="aptic.dead-letters")] != 1:
            eventlet.sleep(0.1)

    changes = moved(before, scrape(address))
    rpc_count = "aptic_rpc_duration_seconds_count"
    expected = {
        sample(rpc_count, service="metered_till", method="add", outcome="ok"): 1,
        sample(rpc_count, service="metered_till", method="refuse", outcome="refused"): 1,
        sample(
            "aptic_rpc_refusals_total", service="metered_till", method="refuse", code="till_closed"
        ): 1,
        sample(rpc_count, service="redemption", method="redeem", outcome="ok"): 2,
        sample(rpc_count, service="redemption", method="redeem", outcome="refused"): 1,
        sample(
            "aptic_rpc_refusals_total",
            service="redemption",
            method="redeem",
            code="invalid_security_code",
        ): 1,
        sample("aptic_redemptions_total", outcome="created"): 1,
        sample("aptic_redemptions_total", outcome="replayed"): 1,
        sample("aptic_redeemed_coupons_total"): 1,
        sample("aptic_redemption_refusals_total", code="invalid_security_code"): 1,
        sample(
            "aptic_events_handled_total",
            service="redemption",
            source="catalog",
            event_type="venue_accredited",
            outcome="ok",
        ): 1,
        sample(
            "aptic_events_handled_total",
            service="redemption",
            source="catalog",
            event_type="venue_accredited",
            outcome="refused",
        ): 1,
        sample(
            "aptic_events_handled_total",
            service="redemption",
            source="issuance",
            event_type="booklets_issued",
            outcome="ok",
        ): 1,
        sample("aptic_dead_letters", queue="aptic.dead-letters"): 1,
    }
    for outcome in ("retried", "dead_lettered"):
        till_event = sample(
            "aptic_events_handled_total",
            service="metered_till",
            source="till",
            event_type="paid",
            outcome=outcome,
        )
        expected[till_event] = 1
    http = "aptic_http_request_duration_seconds_count"
    for route, status in (
        ("/api/v1/openapi.json", "200"),
        ("/api/v1/api-keys", "401"),
    ):
        expected[sample(http, service="gateway", method="GET", route=route, status=status)] = 1
    expected[sample(http, service="web", method="GET", route="/connexion", status="200")] = 1
    for status in ("200", "404"):
        expected[
            sample(http, service="metered_till", method="GET", route="/till/<int:n>", status=status)
        ] = 1
    for key, delta in expected.items():
        assert changes.get(key) == delta, (key, changes.get(key))
    # check_coupon: its answers while redemption was learning, and the one that said yes
    checks = {
        k: v for k, v in changes.items() if k[0] == rpc_count and ("method", "check_coupon") in k[1]
    }
    assert checks[sample(rpc_count, service="redemption", method="check_coupon", outcome="ok")] == 1
    assert sum(checks.values()) == 1 + check_refusals
    # nothing else moved than these metrics (their buckets and sums too)
    # (the process's own metrics move too; a label set's first sample has its _created time)
    names = {n for n, _ in changes if n.startswith("aptic_") and not n.endswith("_created")}
    assert names <= {
        "aptic_rpc_duration_seconds_count",
        "aptic_rpc_duration_seconds_sum",
        "aptic_rpc_duration_seconds_bucket",
        "aptic_rpc_refusals_total",
        "aptic_http_request_duration_seconds_count",
        "aptic_http_request_duration_seconds_sum",
        "aptic_http_request_duration_seconds_bucket",
        "aptic_redemptions_total",
        "aptic_redeemed_coupons_total",
        "aptic_redemption_refusals_total",
        "aptic_events_handled_total",
        "aptic_dead_letters",
    }, names
    # a bucket counts the calls that took at most its bound: the largest holds them all
    inf = sample(
        "aptic_rpc_duration_seconds_bucket",
        service="metered_till",
        method="add",
        outcome="ok",
        le="+Inf",
    )
    assert changes[inf] == 1


def test_settlement_and_expiry_runs_are_counted(container_factory, service_config):
    container_factory(SettlementService, service_config).start()
    address = endpoint(service_config)
    before = scrape(address)
    with ClusterRpcProxy(service_config) as cluster:
        assert cluster.settlement.run_settlement({"period_end": "2026-03-31"})["created"] is True
        assert cluster.settlement.run_settlement({"period_end": "2026-03-31"})["created"] is False
        assert cluster.settlement.run_expiry({"as_of": "2026-04-01"})["created"] is True
    changes = moved(before, scrape(address))
    assert changes[sample("aptic_runs_total", kind="settlement", status="completed")] == 1
    assert changes[sample("aptic_runs_total", kind="expiry", status="completed")] == 1
    count = "aptic_run_duration_seconds_count"
    assert changes[sample(count, kind="settlement", status="completed")] == 1
    assert changes[sample(count, kind="expiry", status="completed")] == 1
    assert not any(k[0] == "aptic_runs_total" and ("status", "failed") in k[1] for k in changes)
    last = scrape(address)[sample("aptic_run_last_completed_timestamp_seconds", kind="settlement")]
    assert last > 1.7e9


def test_aptic_run_serves_the_process_metrics_on_its_port(service_config):
    """`aptic run --service catalog` as `aptic run` starts it for its 2nd process: METRICS_ADDRESS
    moved on by APTIC_METRICS_OFFSET; the catalog's calls are in it."""
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URI": service_config["AMQP_URI"],
        "MONGO_URI": service_config["MONGO_URI"],
        "MONGO_DB_PREFIX": service_config["MONGO_DB_PREFIX"],
        "METRICS_ADDRESS": f"127.0.0.1:{port - 1}",
        "APTIC_METRICS_OFFSET": "1",
    }
    process = subprocess.Popen(
        [APTIC, "run", "--service", "catalog"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ClusterRpcProxy(service_config) as cluster, eventlet.Timeout(30):
            while True:  # until the catalog answers
                try:
                    assert cluster.catalog.health()["service"] == "catalog"
                    break
                except Exception:
                    assert process.poll() is None, process.stderr.read()
                    eventlet.sleep(0.2)
        samples = scrape(("127.0.0.1", port))
        health = sample(
            "aptic_rpc_duration_seconds_count", service="catalog", method="health", outcome="ok"
        )
        assert samples[health] >= 1
        assert samples[sample("aptic_dead_letters", queue="aptic.dead-letters")] == 0
    finally:
        process.kill()  # its stop is not what is tested here (and takes seconds)
        _, errors = process.communicate()
    assert f"metrics: http://127.0.0.1:{port}/metrics" in errors
