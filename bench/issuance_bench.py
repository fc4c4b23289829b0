"""Issuance of an order of 20,000 coupons (2,000 booklets of 10) through the store, then its print
file: on the storage server and on the in-process engine, side by side.

``python -m bench.issuance_bench [--booklets 2000] [--workers 0]`` (``MONGO_URI`` names a server,
else the bench starts an embedded one; no broker needed).

Steps, each timed, on each engine:

1. **issue**: ``api.issue_order`` with an ``order_confirmed`` event, the service's own path:
   allocate the serial blocks, create the booklets (``insert_many`` by 1,000), publish the
   ``booklets_issued`` batches (250 booklets each: every coupon's code made and its digest) to a
   dispatch that serialises each payload to JSON, as the broker would, and keeps it.
2. **read**: ``api.booklets_to_print``, what ``print_order`` does on the store: the order's
   booklets read back in serial order, and a print entry added to each booklet's audit trail
   (one ``update_many`` per status). The read alone (``repo.booklets_of_order``) is timed apart.
3. **print**: ``documents.print_file`` (the fast path, worker processes on every core) on the
   booklets the server gave back. Printing does not touch the store: it is measured once and
   counted in both totals. ``bench.print_bench`` compares it with naive ways of printing.

The baseline measured in the same run is the in-process engine (mongomock, the ``bench`` extra).
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402

OPERATOR = {"role": "operator", "key_id": "key_bench", "subject_id": None, "label": "bench"}
SECRET = "bench-operator-secret-0123456789"
DIGEST_KEY = "bench-digest-key-0123456789"
TARGET_PRINT_SECONDS = 60  # bench.print_bench's target, for the print file alone


def order_confirmed(order_id, booklets):
    """``common.order_confirmed`` loaded as issuance's handler receives it."""
    from shared.events import OrderConfirmed

    return OrderConfirmed().load_or_raise(common.order_confirmed(order_id, booklets))


class Dispatch:
    """Where ``booklets_issued`` goes: each payload serialised to JSON, as it would travel."""

    def __init__(self):
        self.events, self.bytes = [], 0

    def __call__(self, event_type, payload):
        self.bytes += len(json.dumps(payload))
        self.events.append((event_type, payload))


def issue(uri, booklets):
    """``{issue, read, coupons, events, mb}`` seconds and counts on one engine, and the
    booklets read."""
    from services.issuance import api
    from services.issuance.settings import Settings
    from services.issuance.store import IssuanceRepository
    from shared.mongo import get_client

    settings = Settings(operator_secret=SECRET, code_digest_key=DIGEST_KEY)
    prefix = f"bench{secrets.token_hex(3)}_"
    repo = common.repository(IssuanceRepository, uri, prefix, "issuance")
    order_id = "ord_00000000000000000001"
    dispatch = Dispatch()
    try:
        started = time.perf_counter()
        done = api.issue_order(repo, settings, order_confirmed(order_id, booklets), dispatch)
        issued = time.perf_counter() - started
        started = time.perf_counter()
        repo.booklets_of_order(order_id, history=False)
        read_alone = time.perf_counter() - started
        started = time.perf_counter()
        stored = api.booklets_to_print(repo, order_id, OPERATOR)
        read = time.perf_counter() - started
    finally:
        get_client(uri).drop_database(prefix + "issuance")
    coupons = sum(len(b["coupons"]) for _, p in dispatch.events for b in p["booklets"])
    if done["status"] != "published" or len(stored) != booklets:
        raise RuntimeError(f"issue {done['status']}, {len(stored)} booklets read")
    if coupons != booklets * 10:
        raise RuntimeError(f"{coupons} coupons published, {booklets * 10} expected")
    result = {
        "issue": issued,
        "read": read,
        "read_alone": read_alone,
        "coupons": coupons,
        "events": len(dispatch.events),
        "mb": dispatch.bytes / 1e6,
    }
    return result, stored


def print_order(stored, workers):
    from services.issuance import documents

    started = time.perf_counter()
    pdf = documents.print_file(
        stored, SECRET, "Impression bench", "https://www.aptic.fr/api/v1/map.geojson", workers
    )
    return time.perf_counter() - started, len(pdf)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.issuance_bench", description=__doc__)
    parser.add_argument("--booklets", type=int, default=2000, help="booklets of 10 coupons")
    parser.add_argument("--workers", type=int, default=0, help="print processes (0 = per core)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("weasyprint", "fontTools", "services.issuance"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    print(f"machine: {common.machine()}", flush=True)
    print(f"order: {args.booklets:,} booklets, {args.booklets * 10:,} coupons", flush=True)
    workers = args.workers or os.cpu_count() or 1

    results = {}
    with common.storage("issuance") as storage:
        results["server"], stored = issue(storage.uri, args.booklets)
        print(
            f"  server ({storage.label}): issued in {results['server']['issue']:.1f} s", flush=True
        )
    in_process = common.in_process_engine()
    if in_process:
        results["in-process"], _ = issue(in_process, args.booklets)
        print(f"  in-process: issued in {results['in-process']['issue']:.1f} s", flush=True)
    printing, size = print_order(stored, workers)
    print(f"  print file: {printing:.1f} s ({workers} processes)", flush=True)

    first = results["server"]
    print(
        f"\nissuance of {first['coupons']:,} coupons ({args.booklets:,} booklets): store, then "
        f"print ({common.machine()})"
    )
    print(
        f"publish: {first['events']} booklets_issued events, {first['mb']:.1f} MB of JSON; "
        f"print file {size / 1e6:.1f} MB, {workers} processes"
    )
    labels = {"server": "server", "in-process": "in-process (mongomock)"}
    rows = []
    for key, r in results.items():
        total = r["issue"] + r["read"] + printing
        rows.append(
            [
                labels[key],
                common.fmt(r["issue"]),
                common.fmt(r["read"]),
                common.fmt(r["read_alone"]),
                common.fmt(printing),
                common.fmt(total),
                common.fmt(r["coupons"] / total, 0),
                f"{r['issue'] / first['issue']:.2f}x",
            ]
        )
    if not in_process:
        rows.append(["in-process (mongomock)", "not installed", "-", "-", "-", "-", "-", "-"])
    common.table(
        [
            "engine",
            "issue s (allocate, create, publish)",
            "print_order's store part s (read + audit)",
            "of which the read s",
            "print s",
            "store + print s",
            "coupons/s",
            "issue vs server",
        ],
        rows,
    )
    verdict = "met" if printing <= TARGET_PRINT_SECONDS else "NOT met"
    print(
        f"print file alone within {TARGET_PRINT_SECONDS} s (bench.print_bench's target): "
        f"{verdict} ({printing:.1f} s); the store adds {first['issue'] + first['read']:.1f} s "
        "on the server"
    )
    return results


if __name__ == "__main__":
    main()
