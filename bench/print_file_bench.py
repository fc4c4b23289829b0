"""A large order's print file produced by issuance and downloaded through the gateway, with the
peak memory of both processes, against a small order in the same run.

``python -m bench.print_file_bench [--booklets 20000] [--baseline 10] [--workers 0]``
(``MONGO_URI`` names a server, else the bench starts an embedded one; ``AMQP_URI``, else a vhost
of its own on the local RabbitMQ).

The issuance service and the gateway run as OS processes (``aptic run --service ...``), as in
production. For each order (the baseline, then the large one), ``ordering.order_confirmed`` is
dispatched as ordering would; once issuance has issued the booklets:

1. **make + download**: ``GET /orders/{id}/print.pdf`` as the operator, read by the client a MiB
   at a time (never held whole): issuance makes the file (worker processes draw the pages, pikepdf
   assembles them, the file goes to GridFS a MiB at a time), the gateway streams it a chunk per
   RPC. Its sha256 is checked against the ``ETag``.
2. **download again**: the same request; the stored file is streamed, not made again.

Before each step the peak resident memory (``VmHWM``) of both processes is reset
(``/proc/<pid>/clear_refs``, Linux); after it, it is read. The print workers are processes of
their own (their memory is a chunk of 50 booklets) and are not counted.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import argparse  # noqa: E402
import secrets  # noqa: E402
import time  # noqa: E402

from bench import common  # noqa: E402
from bench.common import reset_peak, status_value  # noqa: E402

MIB = 1024 * 1024


def mb(value):
    return None if value is None else value / MIB


def wait_issued(db, order_id, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        issue = db.issues.find_one({"order_id": order_id}, {"status": 1})
        if issue and issue["status"] == "published":
            return
        time.sleep(0.5)
    raise RuntimeError(f"order {order_id} not issued within {timeout} s")


def download(url, key):
    """Read the answer a MiB at a time (its sha256 checked against the ``ETag``):
    ``(seconds to the headers, seconds in all, bytes)``."""
    import requests

    started = time.perf_counter()
    answer = requests.get(
        url, headers={"Authorization": f"Bearer {key}"}, stream=True, timeout=3600
    )
    return common.read_checked(answer, url, started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--booklets", type=int, default=20000, help="booklets of 10 (large order)")
    parser.add_argument("--baseline", type=int, default=10, help="booklets of the small order")
    parser.add_argument("--workers", type=int, default=0, help="print workers (0: one per core)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    from nameko.standalone.events import event_dispatcher

    from shared.mongo import get_database

    print(f"# print file bench: {common.machine()}", flush=True)
    with common.issuance_and_gateway("printfile", args.workers, 3600) as platform:
        config, port, processes, key = platform
        db = get_database(config, "issuance", True)
        dispatch = event_dispatcher(config)
        pids = {name: p.process.pid for name, p in processes.items()}
        idle = {name: status_value(pid, "VmRSS") for name, pid in pids.items()}
        rows = []
        for label, booklets in (("baseline", args.baseline), ("large", args.booklets)):
            order_id = f"ord_bench_{label}_{secrets.token_hex(3)}"
            started = time.perf_counter()
            dispatch("ordering", "order_confirmed", common.order_confirmed(order_id, booklets))
            wait_issued(db, order_id, timeout=3600)
            issued = time.perf_counter() - started
            url = f"http://127.0.0.1:{port}/api/v1/orders/{order_id}/print.pdf"
            for step in ("make + download", "download again"):
                resettable = all([reset_peak(pid) for pid in pids.values()])
                first, seconds, size = download(url, key)
                peaks = {name: status_value(pid, "VmHWM") for name, pid in pids.items()}
                record = db.print_files.find_one({"order_id": order_id})
                rows.append(
                    [
                        label,
                        f"{booklets:,}",
                        f"{record['pages']:,}",
                        common.fmt(mb(size)),
                        step,
                        common.fmt(first),
                        common.fmt(seconds),
                        common.fmt(mb(peaks["issuance"])),
                        common.fmt(mb(peaks["gateway"])),
                        "" if resettable else "since start",
                    ]
                )
                print(f"# {label} {step}: {rows[-1]}", flush=True)
            print(f"# {label}: issued in {issued:.1f} s", flush=True)
    print(
        f"\nIdle RSS after start: issuance {mb(idle['issuance']):.1f} MB, "
        f"gateway {mb(idle['gateway']):.1f} MB\n",
        flush=True,
    )
    common.table(
        [
            "order",
            "booklets",
            "pages",
            "file MB",
            "step",
            "headers after s",
            "seconds",
            "issuance peak RSS MB",
            "gateway peak RSS MB",
            "note",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
