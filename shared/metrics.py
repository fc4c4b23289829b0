"""The platform's Prometheus metrics (prometheus-client), and the endpoint that serves them.

Every service gets its RPC, HTTP and event metrics from the entrypoints of
:mod:`shared.entrypoints` (no code of its own); redemptions and refusals are counted from the
answers of ``redemption.redeem`` (:func:`rpc_answered`); settlement and expiry runs by the run
lock they all take (``services/settlement/progress.py``). The dead letters are read from the
broker when the endpoint is scraped.

One endpoint per process (``METRICS_ADDRESS``, ``host:port``; unset: none), however many services
the process runs; ``aptic run`` gives each process it supervises its own port (the first
``METRICS_ADDRESS``'s, then the next ones: ``APTIC_METRICS_OFFSET``). See docs/operations.md, "Metrics".
"""

import logging
import os
import time
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

METRICS_ADDRESS_KEY = "METRICS_ADDRESS"

# seconds: an RPC or a page takes milliseconds; a PDF or a long list, seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# seconds: a run takes seconds to an hour (its lock's lifetime)
RUN_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)

RPC_DURATION = Histogram(
    "aptic_rpc_duration_seconds",
    "RPC handling time, from the request's delivery to its answer; outcome: ok, refused (an "
    "expected error, with its code in aptic_rpc_refusals_total) or error (unexpected)",
    ["service", "method", "outcome"],
    buckets=LATENCY_BUCKETS,
)
RPC_REFUSALS = Counter(
    "aptic_rpc_refusals_total",
    "RPC answered with an expected error (a refusal), by its stable error code",
    ["service", "method", "code"],
)
HTTP_DURATION = Histogram(
    "aptic_http_request_duration_seconds",
    "HTTP request handling time (gateway and web pages) until the answer's headers, by route "
    "(the route's pattern, not the path) and status",
    ["service", "method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
EVENTS_HANDLED = Counter(
    "aptic_events_handled_total",
    "Events handled; outcome: ok, refused (an expected error: acknowledged, not retried), "
    "retried (an unexpected error: put back to be tried again) or dead_lettered (given up)",
    ["service", "source", "event_type", "outcome"],
)
REDEMPTIONS = Counter(
    "aptic_redemptions_total",
    "Redemptions answered by redemption.redeem; outcome: created, or replayed (the same "
    "idempotency key again: the first answer, nothing redeemed twice)",
    ["outcome"],
)
REDEEMED_COUPONS = Counter(
    "aptic_redeemed_coupons_total", "Coupons redeemed by the redemptions created"
)
REDEMPTION_REFUSALS = Counter(
    "aptic_redemption_refusals_total",
    "Redemptions refused by redemption.redeem, by error code (invalid_security_code, "
    "coupon_already_redeemed, venue_locked...)",
    ["code"],
)
RUNS = Counter(
    "aptic_runs_total",
    "Settlement and expiry runs made (kind: settlement, expiry); status: completed, failed "
    "(an error stopped it: asking again resumes it) or locked (another run held the lock)",
    ["kind", "status"],
)
RUN_DURATION = Histogram(
    "aptic_run_duration_seconds",
    "Duration of the runs made (completed or failed)",
    ["kind", "status"],
    buckets=RUN_BUCKETS,
)
RUN_LAST_COMPLETED = Gauge(
    "aptic_run_last_completed_timestamp_seconds",
    "When this process last completed a run of this kind (Unix time)",
    ["kind"],
)


def _outcome(exc_info, expected):
    if exc_info is None:
        return "ok", None
    if expected and isinstance(exc_info[1], expected):
        return "refused", getattr(exc_info[1], "code", None) or type(exc_info[1]).__name__
    return "error", None


def rpc_answered(service, method, seconds, result, exc_info, expected=()):
    """Count an RPC's answer: its latency and outcome, its refusal's code; and, for
    ``redemption.redeem``, the redemption or its refusal."""
    outcome, code = _outcome(exc_info, expected)
    RPC_DURATION.labels(service, method, outcome).observe(seconds)
    if code is not None:
        RPC_REFUSALS.labels(service, method, code).inc()
    if (service, method) == ("redemption", "redeem"):
        if code is not None:
            REDEMPTION_REFUSALS.labels(code).inc()
        elif outcome == "ok" and isinstance(result, dict):
            created = bool(result.get("created"))
            REDEMPTIONS.labels("created" if created else "replayed").inc()
            if created:
                coupons = (result.get("redemption") or {}).get("coupons") or ()
                REDEEMED_COUPONS.inc(len(coupons))


def http_answered(service, method, route, status, seconds):
    HTTP_DURATION.labels(service, method, route, str(status)).observe(seconds)


def event_handled(service, source, event_type, outcome):
    EVENTS_HANDLED.labels(service, source, event_type, outcome).inc()


def run_kind(holder):
    """A run's kind from its id (``SR-...``: settlement, ``EXP-...``: expiry)."""
    return "expiry" if str(holder).startswith("EXP-") else "settlement"


def run_locked(kind):
    RUNS.labels(kind, "locked").inc()


@contextmanager
def measured_run(kind):
    """Around the work of a run: counted completed or failed, timed."""
    started = time.perf_counter()
    status = "failed"
    try:
        yield
        status = "completed"
    finally:
        RUNS.labels(kind, status).inc()
        RUN_DURATION.labels(kind, status).observe(time.perf_counter() - started)
        if status == "completed":
            RUN_LAST_COMPLETED.labels(kind).set_to_current_time()


# -- dead letters: read from the broker when scraped ------------------------------------------------
class DeadLetterCollector:
    """``aptic_dead_letters{queue}``: the events waiting in the platform's dead-letter queue
    (``aptic events dead`` lists them), read from the broker at most every ``cache_seconds``;
    absent while the broker does not answer (``aptic_dead_letters_readable`` is then 0)."""

    def __init__(self, amqp_uri, cache_seconds=10.0):
        self.amqp_uri = amqp_uri
        self.cache_seconds = cache_seconds
        self._read_at, self._count = None, None

    def _read(self):
        from kombu import Connection

        from shared.entrypoints import dead_letter_count

        with Connection(self.amqp_uri, connect_timeout=3) as connection:
            return dead_letter_count(connection)

    def count(self):
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.cache_seconds:
            try:
                self._count = self._read()
            except Exception as exc:  # the broker out of reach: said by the metrics, not raised
                log.warning("metrics: could not count the dead letters: %r", exc)
                self._count = None
            self._read_at = now
        return self._count

    def describe(self):
        return []  # read at scrape time only, not when registered

    def collect(self):
        from shared.amqp_client import DEAD_LETTER_QUEUE

        count = self.count()
        readable = GaugeMetricFamily(
            "aptic_dead_letters_readable",
            "1 if the broker answered how many events wait in the dead-letter queue, else 0",
        )
        readable.add_metric([], 0 if count is None else 1)
        yield readable
        if count is not None:
            gauge = GaugeMetricFamily(
                "aptic_dead_letters",
                "Events waiting in a dead-letter queue (given up by their handler or by the "
                "broker's delivery limit): `aptic events dead` lists them",
                labels=["queue"],
            )
            gauge.add_metric([DEAD_LETTER_QUEUE], count)
            yield gauge


# -- the endpoint -----------------------------------------------------------------------------------
def metrics_address(config, offset=0):
    """``METRICS_ADDRESS`` (``host:port``, or a port alone: every interface) from the config,
    else the environment, moved ``offset`` ports on: ``(host, port)``, or None if unset."""
    raw = (config or {}).get(METRICS_ADDRESS_KEY) or os.environ.get(METRICS_ADDRESS_KEY)
    if raw in (None, ""):
        return None
    host, _, port = str(raw).strip().rpartition(":")
    port = int(port)
    return (host or "0.0.0.0"), (port + offset if port else 0)


class _Everything:
    """The process's metrics (prometheus-client's default registry), as one collector."""

    def __init__(self, registry):
        self.registry = registry

    def describe(self):
        return []

    def collect(self):
        return self.registry.collect()


_served = {}


def serve(config, offset=0, dead_letter_cache=10.0):
    """Serve the process's metrics at ``http://METRICS_ADDRESS/metrics`` in a green thread
    (eventlet's WSGI server), with the dead-letter count of the config's broker (read at most
    every ``dead_letter_cache`` seconds). Returns the ``(host, port)`` bound (port 0: one the
    system chose), or None if no address is set; once per address and process."""
    address = metrics_address(config, offset)
    if address is None:
        return None
    if address in _served and address[1]:
        return _served[address]
    import eventlet
    import eventlet.wsgi

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Everything(REGISTRY))
    registry.register(DeadLetterCollector(config["AMQP_URI"], dead_letter_cache))
    app = make_wsgi_app(registry)

    def metrics_only(environ, start_response):
        if environ.get("PATH_INFO") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        return app(environ, start_response)

    sock = eventlet.listen(address)
    # no access log: a scrape every 15 s would fill the log
    eventlet.spawn_n(eventlet.wsgi.server, sock, metrics_only, log_output=False)
    bound = sock.getsockname()[:2]
    _served[address] = bound
    log.info("metrics at http://%s:%s/metrics", *bound)
    return bound
