"""What the benchmarks share: the storage server they run on, the in-process engine beside it, a
RabbitMQ vhost of their own, service processes, and their tables.

- :func:`storage`: ``MONGO_URI`` if set, else an embedded SecantusDB server of the bench's own (a
  temporary folder, a free port), stopped cleanly at the end.
- :func:`in_process_engine`: the old in-process engine (mongomock, the ``bench`` extra) for the
  side-by-side figures. A bench-only shim: the services know no ``mongomock://`` URI; the bench puts
  a mongomock client where ``shared.mongo`` keeps its clients, under that name, in its own process.
- :func:`rabbit`: ``AMQP_URI`` if set, else a vhost of the bench's own on the local RabbitMQ (made
  through the management API and deleted at the end), so that no other platform on the same broker
  answers the bench's calls.

A module that uses eventlet must monkey-patch before it imports this one (pymongo first imported
unpatched, then patched, hangs).
"""

import contextlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IN_PROCESS = "mongomock://"
TEN_MINUTES = 600
DEFAULT_AMQP = "pyamqp://guest:guest@127.0.0.1:5672/"
DEFAULT_RABBIT_API = "http://guest:guest@127.0.0.1:15672"


# -- the machine ----------------------------------------------------------------------------------
def machine():
    """One line about where the figures come from (the load average: other work on the machine
    makes every figure slower)."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{date.today().isoformat()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {load}"
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_on_sigterm():
    """SIGTERM ends the bench as Ctrl-C does: its servers and processes are stopped on the way."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


# -- storage --------------------------------------------------------------------------------------
class Storage:
    """Where a bench stores: ``uri``, and the embedded ``server`` if the bench started it."""

    def __init__(self, uri, server=None):
        self.uri = uri
        self.server = server

    @property
    def label(self):
        return "embedded SecantusDB" if self.server else self.uri.split("@")[-1]

    def peak_rss(self):
        """The server's peak resident memory so far (bytes), if it is ours (Linux)."""
        if self.server is None or self.server.process is None:
            return None
        try:
            status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None


@contextlib.contextmanager
def storage(name):
    """``MONGO_URI`` if set; else an embedded server of this bench's own, in a temporary folder on
    a free port, removed at the end."""
    uri = os.environ.get("MONGO_URI")
    if uri:
        yield Storage(uri)
        return
    from aptic.dbserver import EmbeddedServer

    folder = Path(tempfile.mkdtemp(prefix=f"aptic-bench-{name}-"))
    server = EmbeddedServer(folder / "db", port=free_port(), log_path=folder / "secantusd.log")
    try:
        server.start(timeout=180)
        yield Storage(server.uri, server)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def in_process_engine():
    """``"mongomock://"`` once a mongomock client is registered under it in ``shared.mongo``
    (this process only); None if mongomock is not installed (``pip install -e ".[bench]"``).

    The client reads dates back aware in UTC, as the stores ask (``shared.mongo.AWARE_DATES``).
    mongomock refuses codec options that name a ``tzinfo``: the shim drops it (its aware dates
    are in UTC anyway) instead of failing."""
    try:
        import mongomock
        import mongomock.database
    except ImportError:
        return None
    from shared import mongo

    database = mongomock.database.Database
    if not getattr(database.with_options, "bench_shim", False):
        original = database.with_options

        def with_options(self, codec_options=None, *args, **kwargs):
            if getattr(codec_options, "tzinfo", None) is not None:
                codec_options = None  # aware in UTC: what the client below already does
            return original(self, codec_options, *args, **kwargs)

        with_options.bench_shim = True
        database.with_options = with_options
    with mongo._clients_lock:
        mongo._clients.setdefault(IN_PROCESS, mongomock.MongoClient(tz_aware=True))
    return IN_PROCESS


def repository(cls, uri, prefix, service):
    """``cls`` (a service's repository) on ``<prefix><service>``, its indexes made: the database
    as the service's ``Store`` provider opens it (dates aware if the store asks)."""
    from shared.mongo import get_database

    config = {"MONGO_URI": uri, "MONGO_DB_PREFIX": prefix}
    db = get_database(config, service, getattr(cls, "TZ_AWARE", False))
    cls.ensure_indexes(db)
    return cls(db)


def engine_label(uri):
    return "in-process (mongomock)" if uri == IN_PROCESS else "server"


class Timed:
    """A repository whose methods, as ``api`` calls them, are timed (wall clock, so a round
    trip's wait for the server is counted); everything else is the repository's."""

    def __init__(self, repo):
        self.repo = repo
        self.timings = {}

    def __getattr__(self, name):
        attribute = getattr(self.repo, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.timings.setdefault(name, []).append(time.perf_counter() - started)

        return timed

    def totals(self):
        """``{method: (seconds in all, calls)}``."""
        return {name: (sum(t), len(t)) for name, t in self.timings.items()}


# -- the broker -----------------------------------------------------------------------------------
@contextlib.contextmanager
def rabbit():
    """``AMQP_URI`` if set; else a fresh vhost on the local RabbitMQ, deleted at the end."""
    uri = os.environ.get("AMQP_URI")
    if uri:
        yield uri
        return
    from nameko.testing.rabbit import Client

    api = Client(os.environ.get("RABBIT_API_URI", DEFAULT_RABBIT_API))
    vhost = f"bench_{secrets.token_hex(4)}"
    api.create_vhost(vhost)
    api.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    try:
        yield DEFAULT_AMQP + vhost
    finally:
        with contextlib.suppress(Exception):
            api.delete_vhost(vhost)


def rpc_consumers(amqp_uri, service):
    """Consumers of ``rpc-<service>`` (0 if the queue does not exist yet)."""
    from kombu import Connection

    try:
        with Connection(amqp_uri, connect_timeout=5) as connection:
            channel = connection.channel()
            try:
                return channel.queue_declare(queue=f"rpc-{service}", passive=True)[2]
            finally:
                channel.close()
    except Exception:  # noqa: BLE001 (no such queue yet)
        return 0


def wait_for_consumers(amqp_uri, service, count, timeout=180):
    """Until ``rpc-<service>`` has exactly ``count`` consumers (instances started or stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rpc_consumers(amqp_uri, service) == count:
            return
        time.sleep(0.3)
    raise RuntimeError(f"rpc-{service} did not get {count} consumer(s) within {timeout} s")


class ServiceProcess:
    """One service in an OS process of its own: ``argv`` (``aptic run --service NAME``, or a
    bench's own server), its output in ``log_path``; stopped with SIGTERM, as ``aptic run``
    stops its children."""

    def __init__(self, argv, env, log_path):
        self.argv, self.env, self.log_path = argv, env, log_path
        self.process = None

    @classmethod
    def aptic(cls, service, env, log_path):
        return cls([sys.executable, "-m", "aptic.cli", "run", "--service", service], env, log_path)

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self, timeout=30):
        from aptic.dbserver import terminate

        terminate(self.process, timeout)


# -- figures --------------------------------------------------------------------------------------
def percentile(sorted_values, fraction):
    """The value below which ``fraction`` of the values are (nearest rank)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def power_law(n1, t1, n2, t2):
    """``(k, f)``: ``f(n) = t1 * (n / n1) ** k`` through two measured points."""
    import math

    k = math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and t2 > 0 and n2 != n1 else 1.0

    def f(n):
        return t1 * (n / n1) ** k

    return k, f


def duration(seconds):
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s"


def table(headers, rows):
    """A Markdown table (docs/benchmarks.md takes it as printed), columns aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append(
            "| " + " | ".join(_align(c, w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    print("\n".join(lines), flush=True)


def _align(cell, width):
    """Figures to the right, words to the left."""
    numeric = cell[:1].isdigit() or cell[:2].lstrip("+-~").replace(".", "")[:1].isdigit()
    return cell.rjust(width) if numeric else cell.ljust(width)


def fmt(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def order_confirmed(order_id, booklets, per_booklet=10):
    """``ordering.order_confirmed`` as ordering publishes it: ``booklets`` booklets of
    ``per_booklet`` coupons of 10.00 for the Gironde, no co-funding."""
    coupons = booklets * per_booklet
    return {
        "order_id": order_id,
        "sponsor_id": "spo_00000000000000000001",
        "sponsor_name": "Département de la Gironde",
        "sponsor_kind": "department",
        "territory": "33",
        "lines": [
            {
                "line_no": 1,
                "coupons_per_booklet": per_booklet,
                "face_value_cents": 1000,
                "quantity": booklets,
            }
        ],
        "coupon_count": coupons,
        "face_value_cents": coupons * 1000,
        "fee_cents": coupons * 40,
        "state_share_cents": 0,
        "sponsor_due_cents": coupons * 1040,
        "cofunded": False,
        "state_rate_bp": 0,
        "rules": {"territories": ["33"], "venue_types": [], "categories": []},
        "payments": [],
        "confirmed_at": "2026-11-22T10:00:00Z",
    }


PRINT_SECRET = "bench-operator-secret-0123456789"  # the print benches' OPERATOR_SECRET
PRINT_DIGEST_KEY = "bench-digest-key-0123456789"


@contextlib.contextmanager
def issuance_and_gateway(bench, workers, rpc_timeout):
    """Issuance and the gateway, each an ``aptic run --service`` process of its own, over a
    storage server and a RabbitMQ vhost of this bench; stopped at the end. Yields ``(config,
    port, processes, key)``: ``config`` (AMQP_URI, MONGO_URI, MONGO_DB_PREFIX), the gateway's
    port, the processes by name and an operator's API key."""
    from nameko.standalone.rpc import ClusterRpcProxy

    folder = Path(tempfile.mkdtemp(prefix=f"aptic-bench-{bench}-"))
    port = free_port()
    with storage(bench) as store, rabbit() as amqp_uri:
        prefix = f"bench_{secrets.token_hex(3)}_"
        env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "MONGO_URI": store.uri,
            "MONGO_DB_PREFIX": prefix,
            "OPERATOR_SECRET": PRINT_SECRET,
            "CODE_DIGEST_KEY": PRINT_DIGEST_KEY,
            "PRINT_WORKERS": str(workers),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "RPC_TIMEOUT": str(rpc_timeout),
            "LOG_LEVEL": "WARNING",
        }
        processes = {
            name: ServiceProcess.aptic(name, dict(env), folder / f"{name}.log").start()
            for name in ("issuance", "gateway")
        }
        try:
            for name in processes:
                wait_for_consumers(amqp_uri, name, 1)
            config = {"AMQP_URI": amqp_uri, "MONGO_URI": store.uri, "MONGO_DB_PREFIX": prefix}
            with ClusterRpcProxy(config, timeout=60) as cluster:
                key = cluster.gateway.create_api_key("operator", None, "bench")["api_key"]
            yield config, port, processes, key
        finally:
            for process in processes.values():
                process.stop()


def status_value(pid, key):
    """A ``/proc/<pid>/status`` figure in bytes (``VmRSS``, ``VmHWM``), None if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None


def reset_peak(pid):
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def read_checked(answer, url, started, block=1024 * 1024):
    """Read a file's answer a block at a time (never held whole), its sha256 checked against the
    ``ETag`` and its size against ``Content-Length``: ``(seconds to the headers, seconds in
    all, bytes)`` from ``started`` (``time.perf_counter()`` when it was asked)."""
    import hashlib

    digest, size = hashlib.sha256(), 0
    with answer:
        first = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
        for chunk in answer.iter_content(block):
            digest.update(chunk)
            size += len(chunk)
        etag = answer.headers["ETag"].strip('"')
        length = int(answer.headers["Content-Length"])
    if size != length or digest.hexdigest() != etag:
        raise RuntimeError(f"{url}: {size} bytes of {length}, digest {digest.hexdigest()}")
    return first, time.perf_counter() - started, size
