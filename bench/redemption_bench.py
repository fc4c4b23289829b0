"""Redemption on the storage server: latency and throughput with 1,000 and 100,000 coupons in the
store, 1 and 2 instances, against a nameko echo service (the framework's floor), side by side with
the in-process engine.

``python -m bench.redemption_bench [--sizes 1000,100000] [--requests N] [--clients 8]``
(RabbitMQ on 127.0.0.1; ``BENCH_REQUESTS`` per row, default 200, and
``BENCH_IN_PROCESS_REQUESTS`` on the in-process engine, default 50; ``MONGO_URI`` names a server,
else the bench starts an embedded one; ``AMQP_URI``, else a vhost of its own).

- The store is loaded through the service's own handlers (``api.on_booklets_issued`` with events
  of 100 booklets, ``api.on_venue_changed``), as issuance and catalog would fill it.
- On the server, each instance is an OS process of its own (``aptic run --service redemption``);
  the echo service too. The clients are green threads of this process, each with its own
  connection of the platform's pika client (``shared.amqp_client.AmqpClient``, no nameko on the
  client side, as any program on the bus would call): one client in sequence gives the latency (p50, p95); 8 at once the
  throughput (half as many requests: the bench's time). Each client's first call is a warm-up,
  not counted.
- A store smaller than a row needs (1,000 coupons, 10 per request) is loaded again between two
  measurements, never during one: each measurement runs on a store of that size.
- The in-process engine (mongomock, the ``bench`` extra) runs in this process: instances are
  containers of this interpreter, so "2 instances" there shares one core's worth of Python. A
  size it would not finish in 10 minutes is not run: its cost is extrapolated from two smaller
  stores (a power law) and said so.

Also printed: the store alone (``api.redeem`` called directly, no broker: three of the four round
trips, the outbox's ``$pull`` is the service's) and where a single-coupon redemption's time goes.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from eventlet.event import Event  # noqa: E402

from bench import common  # noqa: E402
from shared.amqp_client import AmqpClient  # noqa: E402
from shared.entrypoints import rpc  # noqa: E402

SECRET = "bench-operator-secret-0123456789"
DIGEST_KEY = "bench-digest-key-0123456789"
VENUE, SERVICE = "ven_00000000000000000001", "svc_00000000000000000001"
ACTOR = {"role": "venue", "key_id": "key_bench", "subject_id": VENUE, "label": None}
FIRST_COUPON, FIRST_BOOKLET = 1_000_001, 100_001
BOOKLETS_PER_EVENT = 100
DIRECT_CALLS = 30
TARGET_RATIO = 1.5
SIZES = (1_000, 100_000)


class EchoService:
    name = "echo"

    @rpc
    def redeem(self, venue_id, payload, actor):
        """Same signature as redemption.redeem; does nothing."""
        return {"redemption": payload, "created": True}


# -- the store ------------------------------------------------------------------------------------
_codes = {}


def coupons_of(size):
    """``[(serial, code, digest)]`` of a store of ``size`` coupons (the same on every load)."""
    from shared import serials

    if size not in _codes:
        made = []
        for n in range(FIRST_COUPON, FIRST_COUPON + size):
            serial = serials.coupon_serial(n)
            code = serials.security_code(SECRET, serial)
            made.append((serial, code, serials.code_digest(DIGEST_KEY, serial, code)))
        _codes[size] = made
    return _codes[size]


def venue_event():
    from shared.events import VenueChanged

    return VenueChanged().load_or_raise(
        {
            "venue_id": VENUE,
            "version": 1,
            "status": "accredited",
            "name": "Médiathèque bench",
            "venue_type": "library",
            "department": "33",
            "town_code": "33063",
            "iban": "FR1420041010050500013M02606",
            "categories": ["smartphone_use"],
            "services": [{"service_id": SERVICE, "category": "smartphone_use", "price_coupons": 1}],
        }
    )


def issued_events(coupons):
    """``booklets_issued`` events of 100 booklets of 10 coupons, as issuance publishes them."""
    from shared import serials
    from shared.events import BookletsIssued

    booklets = [
        {
            "serial": serials.booklet_serial(FIRST_BOOKLET + i // 10),
            "coupons": [
                {"serial": s, "face_value_cents": 1000, "code_digest": d}
                for s, _, d in coupons[i : i + 10]
            ],
        }
        for i in range(0, len(coupons), 10)
    ]
    batches = [
        booklets[i : i + BOOKLETS_PER_EVENT] for i in range(0, len(booklets), BOOKLETS_PER_EVENT)
    ]
    for number, batch in enumerate(batches, start=1):
        yield BookletsIssued().load_or_raise(
            {
                "order_id": "ord_00000000000000000001",
                "sponsor_id": "spo_00000000000000000001",
                "sponsor_name": "Département de la Gironde",
                "territory": "33",
                "rules": {"territories": [], "venue_types": [], "categories": []},
                "cofunded": False,
                "state_rate_bp": 0,
                "issued_at": "2020-01-01T00:00:00Z",
                "valid_from": "2020-01-01T00:00:00Z",
                "valid_until": "2099-01-01T00:00:00Z",
                "booklets": batch,
                "batch": number,
                "batch_count": len(batches),
            }
        )


class CouponStore:
    """Redemption's database on one engine, holding ``size`` coupons; hands out coupons not yet
    redeemed, and loads the store again (dropped, then filled) when a measurement needs more."""

    def __init__(self, uri, prefix, size):
        from shared.mongo import get_client

        self.uri, self.prefix = uri, prefix
        self.client = get_client(uri)
        self.name = prefix + "redemption"
        self.size = size
        self.loads = []
        self.reload()

    def reload(self):
        from services.redemption import api
        from services.redemption.store import RedemptionRepository

        coupons = coupons_of(self.size)
        self.client.drop_database(self.name)
        self.repo = common.repository(RedemptionRepository, self.uri, self.prefix, "redemption")
        started = time.perf_counter()
        api.on_venue_changed(self.repo, venue_event())
        for event in issued_events(coupons):
            api.on_booklets_issued(self.repo, event)
        self.loads.append(time.perf_counter() - started)
        count = self.repo.db.coupons.count_documents({})
        if count != self.size:
            raise RuntimeError(f"{count} coupons in the store, {self.size} expected")
        self.fresh = [(s, c) for s, c, _ in coupons]

    def take(self, count):
        """``count`` coupons never redeemed; the store is loaded again first if it has fewer."""
        if count > self.size:
            raise ValueError(f"{count} coupons wanted from a store of {self.size}")
        if count > len(self.fresh):
            self.reload()
        taken, self.fresh = self.fresh[:count], self.fresh[count:]
        return taken

    def drop(self):
        self.client.drop_database(self.name)


def payloads(coupons, per_request):
    for i in range(0, len(coupons) - per_request + 1, per_request):
        yield {
            "service_id": SERVICE,
            "idempotency_key": uuid.uuid4().hex,
            "coupons": [{"serial": s, "code": c} for s, c in coupons[i : i + per_request]],
        }


# -- instances ------------------------------------------------------------------------------------
class ProcessInstances:
    """Redemption instances as OS processes (``aptic run --service redemption``)."""

    def __init__(self, amqp_uri, mongo_uri, prefix, folder):
        self.amqp_uri = amqp_uri
        self.env = {
            **os.environ,
            "AMQP_URI": amqp_uri,
            "MONGO_URI": mongo_uri,
            "MONGO_DB_PREFIX": prefix,
            "CODE_DIGEST_KEY": DIGEST_KEY,
            "LOG_LEVEL": "WARNING",
        }
        self.folder = folder
        self.running = []

    def scale(self, count):
        while len(self.running) < count:
            number = len(self.running) + 1
            self.env["APTIC_INSTANCE"] = f"redemption-{number}"
            log = self.folder / f"redemption-{number}.log"
            self.running.append(common.ServiceProcess.aptic("redemption", dict(self.env), log))
            self.running[-1].start()
        while len(self.running) > count:
            self.running.pop().stop()
        common.wait_for_consumers(self.amqp_uri, "redemption", count)


class ContainerInstances:
    """Redemption instances as nameko containers of this process (the in-process engine)."""

    def __init__(self, amqp_uri, mongo_uri, prefix):
        self.amqp_uri = amqp_uri
        self.config = {
            "AMQP_URI": amqp_uri,
            "MONGO_URI": mongo_uri,
            "MONGO_DB_PREFIX": prefix,
            "CODE_DIGEST_KEY": DIGEST_KEY,
            "max_workers": 10,
        }
        self.running = []

    def scale(self, count):
        from nameko.containers import ServiceContainer

        from services.redemption.service import RedemptionService

        while len(self.running) < count:
            self.running.append(ServiceContainer(RedemptionService, self.config))
            self.running[-1].start()
        while len(self.running) > count:
            self.running.pop().stop()
        common.wait_for_consumers(self.amqp_uri, "redemption", count)


# -- measuring ------------------------------------------------------------------------------------
def measure(amqp_uri, service, requests, clients):
    """``requests`` (one warm-up per client first) spread over ``clients`` green threads, each
    with its own connection; timed from when every client is warm."""
    latencies = []
    warm = []
    go = Event()

    def client(share):
        with AmqpClient(amqp_uri, timeout=120, name="bench") as amqp:
            amqp.call(service, "redeem", VENUE, share[0], ACTOR)
            warm.append(1)
            go.wait()
            for payload in share[1:]:
                started = time.perf_counter()
                answer = amqp.call(service, "redeem", VENUE, payload, ACTOR)
                latencies.append(time.perf_counter() - started)
                if not answer["created"]:
                    raise RuntimeError(f"not redeemed: {answer}")

    threads = [eventlet.spawn(client, requests[i::clients]) for i in range(clients)]
    while len(warm) < clients:
        for thread in threads:
            if thread.dead:
                thread.wait()  # raises what the client met
        eventlet.sleep(0.01)
    started = time.perf_counter()
    go.send()
    for thread in threads:
        thread.wait()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": common.percentile(latencies, 0.95) * 1000,
    }


def direct(store, per_request, calls=DIRECT_CALLS, steps=None):
    """p50 of ``api.redeem`` called on the store (no broker), ms. ``steps`` (a dict): filled
    with the mean ms of each store method ``api.redeem`` calls (its round trips)."""
    from services.redemption import api

    repo = common.Timed(store.repo) if steps is not None else store.repo
    timings = []
    for payload in payloads(store.take(calls * per_request), per_request):
        started = time.perf_counter()
        api.redeem(repo, DIGEST_KEY, VENUE, {**payload, "accepted_at": None}, ACTOR)
        timings.append(time.perf_counter() - started)
    if steps is not None:
        steps.update({name: sum(t) / len(t) * 1000 for name, t in repo.timings.items()})
    return statistics.median(timings) * 1000


def store_alone(store, calls=DIRECT_CALLS):
    steps = {}
    return {
        "load": store.loads[0],
        1: direct(store, 1, calls, steps),
        10: direct(store, 10, calls),
        "steps": steps,
    }


def run_engine(uri, amqp_uri, sizes, requests, clients, instances, prefix, echo):
    """Every row of one engine: ``{(size, instances, per_request): {seq, conc}}``, and the store
    alone: ``{size: {load, 1, 10}}``."""
    rows, alone = {}, {}
    for size in sizes:
        print(f"  {common.engine_label(uri)}: loading {size:,} coupons...", flush=True)
        load_before = os.getloadavg()[0]
        store = CouponStore(uri, prefix, size)
        alone[size] = store_alone(store)
        print(
            f"    loaded in {store.loads[0]:.1f} s; store alone p50: {alone[size][1]:.1f} ms "
            f"(1 coupon), {alone[size][10]:.1f} ms (10 coupons)",
            flush=True,
        )
        if size == sizes[0] and uri != common.IN_PROCESS:
            alone["profile"] = profile_shares(store, 60)
        for count in (1, 2):
            instances.scale(count)
            for per_request in (1, 10):
                n = min(requests, size // per_request - clients)
                seq = measure(
                    amqp_uri,
                    "redemption",
                    list(payloads(store.take((n + 1) * per_request), per_request)),
                    1,
                )
                m = max(n // 2, 2 * clients)  # throughput: half as many (the bench's time)
                conc = measure(
                    amqp_uri,
                    "redemption",
                    list(payloads(store.take((m + clients) * per_request), per_request)),
                    clients,
                )
                rows[size, count, per_request] = {"seq": seq, "conc": conc}
                over = seq["p50"] / echo[per_request, 1]["p50"] - 1
                print(
                    f"    {count} instance(s), {per_request:>2} coupon(s): p50 {seq['p50']:.1f} ms, "
                    f"p95 {seq['p95']:.1f} ms ({over:+.0%} over echo); {clients} clients: "
                    f"{conc['rps']:.0f}/s ({n} requests in sequence, {m} at once)",
                    flush=True,
                )
        alone[size]["reloads"] = len(store.loads) - 1
        alone[size]["load_avg"] = f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"
        store.drop()
    instances.scale(0)
    return rows, alone


def probe_in_process(uri, prefix, size):
    """Load time and store-alone cost of the in-process engine on a small second store."""
    store = CouponStore(uri, prefix, size)
    result = store_alone(store, calls=10)
    store.drop()
    return result


def profile_shares(store, count):
    """Where a single-coupon redemption's time goes (validation, checks, store, answer), by
    library, from a profile of direct calls."""
    import collections
    import cProfile
    import pstats

    from services.redemption import api
    from shared.contracts.schemas_redemption import RedemptionInput, RedemptionOut

    requests = list(payloads(store.take(count), 1))
    profiler = cProfile.Profile()
    profiler.enable()
    for payload in requests:
        data = RedemptionInput().load_or_raise(payload)
        redemption, _ = api.redeem(store.repo, DIGEST_KEY, VENUE, data, ACTOR)
        RedemptionOut().dump(api.out(redemption))
    profiler.disable()
    shares = collections.Counter()
    for (path, _, function), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():
        shares[_component(path, function)] += own
    total = sum(shares.values())
    return [(name, seconds / total) for name, seconds in shares.most_common()]


def _component(path, function):
    if path == "~":  # C code: socket I/O and the hub's waits are the server's round trips
        if any(word in function for word in ("socket", "epoll", "select", "greenlet")):
            return "round trips to the server (socket I/O and waits)"
        if any(word in function for word in ("bson", "pymongo")):
            return "storage driver (pymongo, bson)"
        return "builtins"
    for marker, name in (
        ("mongomock", "storage engine (mongomock)"),
        ("pymongo", "storage driver (pymongo, bson)"),
        ("bson", "storage driver (pymongo, bson)"),
        ("eventlet", "round trips to the server (socket I/O and waits)"),
        ("marshmallow", "validation and dumps (marshmallow)"),
        ("hmac", "security-code digests (hmac)"),
        ("/services/", "the service's own code"),
        ("/shared/", "the service's own code"),
    ):
        if marker in path:
            return name
    return "other (standard library)"


# -- the report -----------------------------------------------------------------------------------
def serve_echo():
    """``--serve-echo``: the echo service in this process until SIGTERM."""
    from nameko.runners import ServiceRunner

    runner = ServiceRunner({"AMQP_URI": os.environ["AMQP_URI"], "max_workers": 10})
    runner.add_service(EchoService)
    signal.signal(signal.SIGTERM, lambda *_: eventlet.spawn_n(runner.stop))
    runner.start()
    runner.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.redemption_bench", description=__doc__)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("BENCH_REQUESTS", "200"))
    )
    parser.add_argument(
        "--in-process-requests",
        type=int,
        default=int(os.environ.get("BENCH_IN_PROCESS_REQUESTS", "50")),
        help="requests per row on the in-process engine (its rows are slow)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo:
        return serve_echo()
    common.stop_on_sigterm()
    sizes = [int(s) for s in args.sizes.split(",")]
    requests, clients = args.requests, args.clients
    print(f"machine: {common.machine()}", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="aptic-bench-redemption-"))
    in_process = common.in_process_engine()
    with common.rabbit() as amqp_uri, common.storage("redemption") as storage:
        print(f"storage: {storage.label}; {requests} requests per row", flush=True)
        echo_env = {**os.environ, "AMQP_URI": amqp_uri}
        echo_argv = [sys.executable, "-m", "bench.redemption_bench", "--serve-echo"]
        echo_process = common.ServiceProcess(echo_argv, echo_env, folder / "echo.log").start()
        try:
            common.wait_for_consumers(amqp_uri, "echo", 1)
            echo_coupons = [(s, c) for s, c, _ in coupons_of(10 * (requests + clients))]
            echo = {}
            for per_request in (1, 10):
                for count in (1, clients):
                    chosen = echo_coupons[: (requests + count) * per_request]
                    echo[per_request, count] = measure(
                        amqp_uri, "echo", list(payloads(chosen, per_request)), count
                    )
            print(f"  echo floor: p50 {echo[1, 1]['p50']:.2f} ms (1 coupon)", flush=True)
            prefix = f"bench{secrets.token_hex(3)}_"
            server_rows, server_alone = run_engine(
                storage.uri,
                amqp_uri,
                sizes,
                requests,
                clients,
                ProcessInstances(amqp_uri, storage.uri, prefix, folder),
                prefix,
                echo,
            )
            memory = storage.peak_rss()
            mock_rows, mock_alone, skipped = {}, {}, {}
            if in_process:
                prefix = f"bench{secrets.token_hex(3)}_"
                small = sizes[:1]
                mock_rows, mock_alone = run_engine(
                    in_process,
                    amqp_uri,
                    small,
                    min(requests, args.in_process_requests),
                    clients,
                    ContainerInstances(amqp_uri, in_process, prefix),
                    prefix,
                    echo,
                )
                skipped = extrapolate(in_process, prefix, sizes, small, mock_alone)
        finally:
            echo_process.stop()
    shutil.rmtree(folder, ignore_errors=True)  # the services' logs (kept if the bench failed)
    report(
        sizes,
        requests,
        clients,
        echo,
        (server_rows, server_alone, memory),
        (in_process, mock_rows, mock_alone, skipped),
    )


def extrapolate(uri, prefix, sizes, measured, alone):
    """Sizes the in-process engine would not finish in 10 minutes: ``{size: estimates}``; those
    it would finish are measured after all (and added to ``alone``)."""
    base = measured[0]
    probe = 2 * base
    if probe not in alone:
        print(f"  in-process: probing a store of {probe:,} coupons...", flush=True)
        alone[probe] = probe_in_process(uri, prefix, probe)
    skipped = {}
    for size in sizes:
        if size in alone:
            continue
        estimate = {}
        for key in ("load", 1, 10):
            k, f = common.power_law(base, alone[base][key], probe, alone[probe][key])
            estimate[key], estimate[f"k_{key}"] = f(size), k
        estimate["from"] = (base, probe)
        if estimate["load"] < common.TEN_MINUTES:
            store = CouponStore(uri, prefix, size)
            alone[size] = store_alone(store)
            store.drop()
        else:
            skipped[size] = estimate
    return skipped


def report(sizes, requests, clients, echo, server, in_process):
    server_rows, server_alone, memory = server
    in_process, mock_rows, mock_alone, skipped = in_process
    print(f"\nredemption on the storage server vs the in-process engine ({common.machine()})")
    print(
        f"latency: 1 client in sequence; rps: {clients} clients at once (half as many requests); "
        "requests: in sequence, server / in-process (fewer where the store is smaller than a row "
        "needs); ms"
    )
    headers = [
        "coupons in store",
        "instances",
        "coupons/request",
        "requests",
        "echo p50",
        "server p50",
        "server p95",
        "server rps 1 client",
        f"server rps {clients} clients",
        "over echo (p50)",
        "in-process p50",
        "in-process p95",
        f"in-process rps {clients} clients",
    ]
    rows = []
    for size in sizes:
        for count in (1, 2):
            for per_request in (1, 10):
                key = (size, count, per_request)
                s = server_rows[key]
                mock_n = mock_rows[key]["seq"]["n"] if key in mock_rows else "-"
                row = [
                    f"{size:,}",
                    count,
                    per_request,
                    f"{s['seq']['n']} / {mock_n}",
                    common.fmt(echo[per_request, 1]["p50"], 2),
                    common.fmt(s["seq"]["p50"]),
                    common.fmt(s["seq"]["p95"]),
                    common.fmt(s["seq"]["rps"], 0),
                    common.fmt(s["conc"]["rps"], 0),
                    f"{s['seq']['p50'] / echo[per_request, 1]['p50'] - 1:+.0%}",
                ]
                if key in mock_rows:
                    m = mock_rows[key]
                    row += [
                        common.fmt(m["seq"]["p50"]),
                        common.fmt(m["seq"]["p95"]),
                        common.fmt(m["conc"]["rps"], 0),
                    ]
                elif not in_process:
                    row += ["not installed", "-", "-"]
                elif size in skipped:
                    est = skipped[size]
                    row += [
                        "not run: > 10 min",
                        f"(loading alone ~{common.duration(est['load'])})",
                        "-",
                    ]
                else:
                    row += ["-", "-", "-"]
                rows.append(row)
    common.table(headers, rows)

    print("\necho floor (a nameko RPC returning its payload, in its own process), ms")
    common.table(
        ["coupons/request", "p50 1 client", "p95 1 client", f"rps {clients} clients"],
        [
            [
                per_request,
                common.fmt(echo[per_request, 1]["p50"], 2),
                common.fmt(echo[per_request, 1]["p95"], 2),
                common.fmt(echo[per_request, clients]["rps"], 0),
            ]
            for per_request in (1, 10)
        ],
    )

    print("\nthe store alone: api.redeem called directly, no broker (p50 ms); load = the handlers")
    rows = []
    engines = [("server", server_alone)] + ([("in-process", mock_alone)] if in_process else [])
    for label, alone in engines:
        for size in sorted(k for k in alone if isinstance(k, int)):
            a = alone[size]
            rows.append(
                [
                    label,
                    f"{size:,}",
                    common.duration(a["load"]),
                    common.fmt(a[1]),
                    common.fmt(a[10]),
                    a.get("load_avg", "-"),
                ]
            )
    for size, est in skipped.items():
        rows.append(
            [
                "in-process",
                f"{size:,}",
                f"not run: ~{common.duration(est['load'])} (n^{est['k_load']:.1f})",
                f"~{common.fmt(est[1], 0)} (n^{est['k_1']:.1f})",
                f"~{common.fmt(est[10], 0)} (n^{est['k_10']:.1f})",
                "-",
            ]
        )
    common.table(
        ["engine", "coupons in store", "load", "1 coupon", "10 coupons", "machine load (1 min)"],
        rows,
    )
    for est in skipped.values():
        n1, n2 = est["from"]
        print(
            f"(not run: extrapolated from the stores of {n1:,} and {n2:,} coupons, "
            "f(n) = f(n1) (n/n1)^k)"
        )
        break
    if memory:
        print(f"server peak RSS: {memory / (1 << 20):.0f} MiB")

    columns = [("server", size, server_alone[size]) for size in sizes if size in server_alone]
    columns += [
        ("in-process", size, a) for size, a in sorted(mock_alone.items()) if isinstance(size, int)
    ]
    names = sorted(
        {name for _, _, a in columns for name in a.get("steps", {})},
        key=lambda name: -max(a.get("steps", {}).get(name, 0) for _, _, a in columns),
    )
    if names:
        print("\nthe store's round trips of a 1-coupon redemption: ms per call (direct calls)")
        common.table(
            ["store method"] + [f"{label} {size:,}" for label, size, _ in columns],
            [
                [name] + [common.fmt(a.get("steps", {}).get(name)) for _, _, a in columns]
                for name in names
            ],
        )

    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\ntarget: p50 at {large:,} coupons within {TARGET_RATIO}x of p50 at {small:,}")
        rows, all_met = [], True
        for count in (1, 2):
            for per_request in (1, 10):
                a = server_rows[small, count, per_request]["seq"]["p50"]
                b = server_rows[large, count, per_request]["seq"]["p50"]
                met = b / a <= TARGET_RATIO
                all_met &= met
                rows.append(
                    [
                        count,
                        per_request,
                        common.fmt(a),
                        common.fmt(b),
                        f"{b / a:.2f}",
                        "met" if met else "NOT met",
                    ]
                )
        common.table(
            ["instances", "coupons/request", f"p50 {small:,}", f"p50 {large:,}", "ratio", ""],
            rows,
        )
        print(f"cost independent of the store's size: {'met' if all_met else 'NOT met'}")

    profile = server_alone.get("profile")
    if profile:
        print("\nwhere a single-coupon redemption's time goes (profile of direct calls, server)")
        common.table(["component", "share"], [[name, f"{share:.1%}"] for name, share in profile])


if __name__ == "__main__":
    main(sys.argv[1:])
