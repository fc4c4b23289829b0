"""Redemption throughput and latency against a nameko echo service (the framework's floor).

``python -m bench.redemption_bench`` (RabbitMQ on 127.0.0.1; ``MONGO_URI`` selects the store, default
the in-process engine). Everything runs in this one process: the services, their instances and the
clients (green threads). With the in-process engine two instances share one interpreter, so "2
instances" measures the protocol (a shared queue, conditional updates), not two cores; with a real
MongoDB, run instances as separate processes for that.

Rows: echo (a nameko RPC that returns its payload), redeem with 1 and 10 coupons per request, with 1
and 2 instances, sequential (latency) and with 8 concurrent clients (throughput). Then the store's
share: the same redemptions called directly on the store, without the broker; and a profile of them
by library (where the time goes).
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from nameko.containers import ServiceContainer  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from services.redemption import api  # noqa: E402
from services.redemption.service import RedemptionService  # noqa: E402
from services.redemption.store import RedemptionRepository  # noqa: E402
from shared import serials  # noqa: E402
from shared.entrypoints import rpc  # noqa: E402
from shared.mongo import get_client  # noqa: E402

SECRET = "bench-operator-secret-0123456789"
DIGEST_KEY = "bench-digest-key-0123456789"
VENUE, SERVICE = "ven_00000000000000000001", "svc_00000000000000000001"
ACTOR = {"role": "venue", "key_id": "key_bench", "subject_id": VENUE, "label": None}
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))


class EchoService:
    name = "echo"

    @rpc
    def redeem(self, venue_id, payload, actor):
        """Same signature as redemption.redeem; does nothing."""
        return {"redemption": payload, "created": True}


def config(prefix):
    return {
        "AMQP_URI": os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"),
        "MONGO_URI": os.environ.get("MONGO_URI", "mongomock://"),
        "MONGO_DB_PREFIX": prefix,
        "CODE_DIGEST_KEY": DIGEST_KEY,
        "max_workers": 20,
    }


def issue(repo, count, start):
    """``count`` coupons known to redemption, as booklets_issued would make them."""
    coupons = []
    for n in range(start, start + count):
        serial = serials.coupon_serial(n)
        code = serials.security_code(SECRET, serial)
        coupons.append((serial, code))
    event = {
        "order_id": "ord_bench",
        "sponsor_id": "spo_bench",
        "territory": "33",
        "rules": {"territories": [], "venue_types": [], "categories": []},
        "valid_from": "2020-01-01T00:00:00Z",
        "valid_until": "2099-01-01T00:00:00Z",
        "booklets": [
            {
                "serial": serials.booklet_serial(start // 10 + i + 1),
                "coupons": [
                    {
                        "serial": s,
                        "face_value_cents": 1000,
                        "code_digest": serials.code_digest(DIGEST_KEY, s, c),
                    }
                    for s, c in coupons[i * 10 : (i + 1) * 10]
                ],
            }
            for i in range((count + 9) // 10)
        ],
    }
    api.on_booklets_issued(repo, event)
    api.on_venue_changed(
        repo,
        {
            "venue_id": VENUE,
            "version": 1,
            "status": "accredited",
            "venue_type": "library",
            "department": "33",
            "town_code": "33063",
            "services": [{"service_id": SERVICE, "category": "smartphone_use", "price_coupons": 1}],
        },
    )
    return coupons


def payloads(coupons, per_request):
    for i in range(0, len(coupons) - per_request + 1, per_request):
        yield {
            "service_id": SERVICE,
            "idempotency_key": uuid.uuid4().hex,
            "coupons": [{"serial": s, "code": c} for s, c in coupons[i : i + per_request]],
        }


def measure(cfg, service, requests, concurrency):
    """Each client (green thread) has its own connection and sends its share in sequence."""
    latencies = []

    def client(share):
        with ClusterRpcProxy(cfg) as cluster:
            target = getattr(cluster, service)
            target.redeem(VENUE, share[0], ACTOR)  # warm-up: the reply queue exists
            for payload in share[1:]:
                started = time.perf_counter()
                target.redeem(VENUE, payload, ACTOR)
                latencies.append(time.perf_counter() - started)

    shares = [requests[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    threads = [eventlet.spawn(client, share) for share in shares]
    for thread in threads:
        thread.wait()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main(argv=None):
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    cfg = config(prefix)
    db = get_client(cfg["MONGO_URI"])[prefix + "redemption"]
    RedemptionRepository.ensure_indexes(db)
    repo = RedemptionRepository(db)
    pool_size = 45 * REQUESTS + 1110
    print(f"preparing {pool_size} coupons in the store ({cfg['MONGO_URI']})...", flush=True)
    coupons = iter(issue(repo, pool_size, 1_000_000))
    take = lambda n: [next(coupons) for _ in range(n)]  # noqa: E731
    echo_coupons = take(REQUESTS)  # the echo service checks nothing: the same ones serve again

    containers = [ServiceContainer(EchoService, cfg)]
    containers += [ServiceContainer(RedemptionService, cfg) for _ in range(2)]
    containers[0].start()
    containers[1].start()
    rows = []
    try:
        for instances in (1, 2):
            if instances == 2:
                containers[2].start()
            for per_request in (1, 10):
                for concurrency in (1, 8):
                    echo = measure(
                        cfg,
                        "echo",
                        list(payloads(echo_coupons * per_request, per_request)),
                        concurrency,
                    )
                    real = measure(
                        cfg,
                        "redemption",
                        list(payloads(take(REQUESTS * per_request), per_request)),
                        concurrency,
                    )
                    rows.append((instances, per_request, concurrency, echo, real))
    finally:
        for container in containers:
            container.stop()

    print(f"\n{REQUESTS} requests per row; latency in ms; overhead = redemption p50 / echo p50 - 1")
    print(
        f"{'inst':>4} {'coupons':>7} {'clients':>7} | {'echo rps':>8} {'p50':>6} {'p99':>6} | "
        f"{'redeem rps':>10} {'p50':>6} {'p99':>6} | {'overhead':>8}"
    )
    for instances, per_request, concurrency, echo, real in rows:
        overhead = real["p50"] / echo["p50"] - 1
        print(
            f"{instances:>4} {per_request:>7} {concurrency:>7} | {echo['rps']:>8.0f} "
            f"{echo['p50']:>6.2f} {echo['p99']:>6.2f} | {real['rps']:>10.0f} {real['p50']:>6.2f} "
            f"{real['p99']:>6.2f} | {overhead:>7.0%}"
        )

    # the store's share: the same work without the broker, on the full store and on a small one
    # (the in-process engine scans every document; a real MongoDB reads one indexed key)
    small_db = get_client(cfg["MONGO_URI"])[prefix + "small"]
    RedemptionRepository.ensure_indexes(small_db)
    small = RedemptionRepository(small_db)
    small_coupons = iter(issue(small, 220, 5_000_000))
    alone = {}
    for label, target, source in (("full", repo, take), ("small", small, None)):
        for per_request in (1, 10):
            count = 10 if label == "small" else 100
            chosen = (
                source(count * per_request)
                if source
                else [next(small_coupons) for _ in range(count * per_request)]
            )
            started = time.perf_counter()
            for payload in payloads(chosen, per_request):
                api.redeem(target, DIGEST_KEY, VENUE, {**payload, "accepted_at": None}, ACTOR)
            per_call = (time.perf_counter() - started) / count * 1000
            alone[label, per_request] = per_call
            size = target.db.coupons.estimated_document_count()
            print(
                f"store + domain alone, {per_request:>2} coupon(s), {size:>5} coupons in the "
                f"store: {per_call:7.2f} ms per redemption"
            )
    outside = profile_shares(small, [next(small_coupons) for _ in range(60)])
    echo_floor = rows[0][3]["p50"]  # 1 instance, 1 coupon, 1 client
    estimate = alone["small", 1] * outside
    print(
        f"outside the storage engine: {outside:.0%} of {alone['small', 1]:.2f} ms = "
        f"{estimate:.2f} ms per single-coupon redemption, {estimate / echo_floor:+.0%} of the "
        f"echo floor ({echo_floor:.2f} ms); the rest is the store's"
    )
    get_client(cfg["MONGO_URI"]).drop_database(prefix + "small")
    get_client(cfg["MONGO_URI"]).drop_database(prefix + "redemption")


def profile_shares(repo, coupons):
    """Where a single-coupon redemption's time goes (validation, checks, store, answer), by
    library, from a profile of direct calls on ``repo``."""
    import collections
    import cProfile
    import pstats

    from services.redemption.schemas import RedemptionInput, RedemptionOut

    requests = list(payloads(coupons, 1))
    profiler = cProfile.Profile()
    profiler.enable()
    for payload in requests:
        data = RedemptionInput().load_or_raise(payload)
        redemption, _ = api.redeem(repo, DIGEST_KEY, VENUE, data, ACTOR)
        RedemptionOut().dump(api.out(redemption))
    profiler.disable()
    stats = pstats.Stats(profiler)
    shares = collections.Counter()
    for (path, _, function), (_, _, own, _, _) in stats.stats.items():
        shares[_component(path, function)] += own
    total = sum(shares.values())
    print("where a single-coupon redemption's time goes (profiled, direct calls):")
    for component, seconds in shares.most_common():
        print(f"  {component:<40} {seconds / total:6.1%}")
    store = sum(v for k, v in shares.items() if k.startswith(("storage", "builtins")))
    return 1 - store / total


def _component(path, function):
    for marker, name in (
        ("mongomock", "storage engine (mongomock)"),
        ("pymongo", "storage driver (pymongo)"),
        ("bson", "storage engine (bson)"),
        ("marshmallow", "validation and dumps (marshmallow)"),
        ("hmac", "security-code digests (hmac)"),
        ("/services/", "the service's own code"),
        ("/shared/", "the service's own code"),
    ):
        if marker in path:
            return name
    if path.endswith("copy.py"):
        return "storage engine (mongomock)"  # its deep copies of documents
    if path == "~":
        return "builtins (mostly called by the engine)"
    return "other"


if __name__ == "__main__":
    main()
