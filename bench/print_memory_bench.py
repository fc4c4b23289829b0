"""Peak memory of issuance and the gateway while the print file of an order is made and downloaded,
for orders of growing size: memory bounded by the chunk, not by the order (issue 14).

``python -m bench.print_memory_bench [--sizes 1000,10000] [--workers 0]`` (``make bench-print-memory``;
``MONGO_URI`` names a server, else the bench starts an embedded one; ``AMQP_URI``, else a vhost of
its own on the local RabbitMQ). ``--sizes 1000,10000,100000`` adds the 100,000-booklet order (the
file is ~475 MB and takes tens of minutes to draw on 2 cores).

Issuance and the gateway run as OS processes (``aptic run --service ...``), as in production. Each
order (booklets of 10 coupons of 10.00) is written straight into issuance's store, as issuing it
would leave it (serial blocks allocated, booklets inserted by bulk ``insert_many``, the issue
``published``): no ``booklets_issued`` events, so only printing is measured. Then, for each order,
smallest first:

1. **make + download**: ``GET /orders/{id}/print.pdf`` as the operator, read by the client a MiB at
   a time (never held whole; sha256 checked against the ``ETag``): issuance reads the order in one
   pass, then a chunk of booklets at a time as the workers draw it (``api.OrderBooklets``), writes
   the file page by page and stores it in GridFS a MiB at a time; the gateway streams it a chunk
   per RPC. The gateway gives up on the RPC after 15 minutes (503): the request is then made
   again every 5 s until the file is answered (``note``: how many requests).
2. **download again**: the same request; the stored file is streamed, not made again.

Before each step the peak resident memory (``VmHWM``) of both processes is reset
(``/proc/<pid>/clear_refs``, Linux) and read after it; a thread also samples ``VmRSS`` every 50 ms
(the highest sample is shown when the reset is refused). The print workers are processes of their
own (their memory is one chunk of 50 booklets): their highest sampled sum is shown apart. The
baseline is the smallest order of the same run; ``x baseline`` is a peak divided by its peak.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import argparse  # noqa: E402
import secrets  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench import common  # noqa: E402
from bench.common import reset_peak, status_value  # noqa: E402

MIB = 1024 * 1024
PER_BOOKLET = 10
INSERT_BATCH = 2000


# -- memory of a process (Linux /proc) ------------------------------------------------------------
def children(pid):
    """The pids of a process's children (its print workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """``VmRSS`` of each process, and the sum over the children of ``workers_of``, every
    ``interval`` seconds; the highest of each since the last :meth:`restart`."""

    def __init__(self, pids, workers_of, interval=0.05):
        super().__init__(daemon=True)
        self.pids, self.workers_of, self.interval = pids, workers_of, interval
        self.stopped = threading.Event()
        self.restart()

    def restart(self):
        self.peaks = {name: 0 for name in self.pids}
        self.peaks["workers"] = 0

    def run(self):
        while not self.stopped.wait(self.interval):
            for name, pid in self.pids.items():
                self.peaks[name] = max(self.peaks[name], status_value(pid, "VmRSS") or 0)
            kids = children(self.workers_of)
            total = sum(status_value(kid, "VmRSS") or 0 for kid in kids)
            self.peaks["workers"] = max(self.peaks["workers"], total)


# -- an order as issuing it leaves it ---------------------------------------------------------------
def create_order(repo, order_id, booklets):
    """Write an issued order of ``booklets`` booklets straight into issuance's store: its two
    serial blocks, its booklets (``insert_many`` of ``INSERT_BATCH``), its issue ``published``."""
    from services.issuance import api, domain
    from services.issuance.domain import BOOKLETS, COUPONS
    from shared.events import OrderConfirmed
    from shared.serials import booklet_serial, coupon_serial
    from shared.times import now

    event = OrderConfirmed().load_or_raise(common.order_confirmed(order_id, booklets, PER_BOOKLET))
    issue = api.new_issue(event, now())
    blocks = {}
    for sequence, size in ((BOOKLETS, booklets), (COUPONS, booklets * PER_BOOKLET)):
        block = repo.allocate_block(sequence, order_id, size, domain.next_block)
        blocks[sequence] = {"first": block["first"], "last": block["last"]}
    shared = {  # as issuance writes them, one line of 10.00 coupons
        **api.issued_booklet_fields(issue),
        "line_no": 1,
        "coupons_per_booklet": PER_BOOKLET,
        "face_value_cents": 1000,
    }
    first_booklet, first_coupon = blocks[BOOKLETS]["first"], blocks[COUPONS]["first"]
    for start in range(0, booklets, INSERT_BATCH):
        batch = []
        for i in range(start, min(start + INSERT_BATCH, booklets)):
            seq, coupon = first_booklet + i, first_coupon + i * PER_BOOKLET
            batch.append(
                {
                    **shared,
                    "serial": booklet_serial(seq),
                    "sequence": seq,
                    "first_coupon": coupon,
                    "last_coupon": coupon + PER_BOOKLET - 1,
                    "coupon_serials": [
                        coupon_serial(n) for n in range(coupon, coupon + PER_BOOKLET)
                    ],
                }
            )
        repo.insert_booklets(batch)
    repo.insert_issue(
        {**issue, "status": "published", "blocks": blocks, "batch_count": 0, "updated_at": now()}
    )


def download(url, key, deadline=7200):
    """Read the answer a MiB at a time (its sha256 checked against the ``ETag``):
    ``(seconds to the headers, seconds in all, bytes, requests made)``. The gateway gives up
    on the RPC after ``PRINT_TIMEOUT`` (15 min; 503) and issuance then still makes the file, so
    a large order is asked again, as an operator would, until it is answered."""
    import requests

    started = time.perf_counter()
    tries = 0
    while True:
        tries += 1
        answer = requests.get(
            url, headers={"Authorization": f"Bearer {key}"}, stream=True, timeout=deadline
        )
        if answer.status_code in (409, 503, 504) and time.perf_counter() - started < deadline:
            answer.close()
            time.sleep(5)
            continue
        break
    return (*common.read_checked(answer, url, started), tries)


def mb(value):
    return None if value is None else value / MIB


def sizes_of(text):
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes: booklet counts, e.g. 1000,10000")
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.print_memory_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes",
        type=sizes_of,
        default=sizes_of("1000,10000"),
        help="booklets of 10 coupons per order, comma separated (default 1000,10000; the "
        "smallest is the baseline)",
    )
    parser.add_argument("--workers", type=int, default=0, help="print workers (0: one per core)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()

    from services.issuance.store import IssuanceRepository
    from shared.mongo import get_database

    print(f"# print memory bench: {common.machine()}; sizes {args.sizes}", flush=True)
    rows = []
    with common.issuance_and_gateway("printmemory", args.workers, 7200) as platform:
        config, port, processes, key = platform
        db = get_database(config, "issuance", True)
        IssuanceRepository.ensure_indexes(db)
        repo = IssuanceRepository(db)
        pids = {name: p.process.pid for name, p in processes.items()}
        idle = {name: status_value(pid, "VmRSS") for name, pid in pids.items()}
        sampler = Sampler(pids, pids["issuance"])
        sampler.start()
        for booklets in args.sizes:
            order_id = f"ord_bench_{booklets}_{secrets.token_hex(3)}"
            started = time.perf_counter()
            create_order(repo, order_id, booklets)
            print(
                f"# {booklets:,} booklets stored in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            url = f"http://127.0.0.1:{port}/api/v1/orders/{order_id}/print.pdf"
            for step in ("make + download", "download again"):
                resettable = all([reset_peak(pid) for pid in pids.values()])
                sampler.restart()
                first, seconds, size, tries = download(url, key)
                peaks = {
                    name: status_value(pid, "VmHWM") if resettable else sampler.peaks[name]
                    for name, pid in pids.items()
                }
                record = db.print_files.find_one({"order_id": order_id})
                rows.append(
                    {
                        "booklets": booklets,
                        "pages": record["pages"],
                        "mb": mb(size),
                        "step": step,
                        "first": first,
                        "seconds": seconds,
                        "issuance": mb(peaks["issuance"]),
                        "gateway": mb(peaks["gateway"]),
                        "workers": mb(sampler.peaks["workers"]),
                        "note": ", ".join(
                            filter(
                                None,
                                [
                                    "" if resettable else "sampled",
                                    f"{tries} requests" if tries > 1 else "",
                                ],
                            )
                        ),
                    }
                )
                print(f"# {booklets:,} {step}: {rows[-1]}", flush=True)
        sampler.stopped.set()
    print(
        f"\nIdle RSS after start: issuance {mb(idle['issuance']):.1f} MB, "
        f"gateway {mb(idle['gateway']):.1f} MB\n",
        flush=True,
    )
    base = {row["step"]: row for row in rows if row["booklets"] == args.sizes[0]}
    common.table(
        [
            "booklets",
            "x booklets",
            "pages",
            "file MB",
            "step",
            "headers after s",
            "seconds",
            "issuance peak RSS MB",
            "x baseline",
            "gateway peak RSS MB",
            "x baseline",
            "workers peak MB",
            "note",
        ],
        [
            [
                f"{row['booklets']:,}",
                common.fmt(row["booklets"] / args.sizes[0], 0),
                f"{row['pages']:,}",
                common.fmt(row["mb"]),
                row["step"],
                common.fmt(row["first"]),
                common.fmt(row["seconds"]),
                common.fmt(row["issuance"]),
                common.fmt(row["issuance"] / base[row["step"]]["issuance"], 2),
                common.fmt(row["gateway"]),
                common.fmt(row["gateway"] / base[row["step"]]["gateway"], 2),
                common.fmt(row["workers"]),
                row["note"],
            ]
            for row in rows
        ],
    )


if __name__ == "__main__":
    main()
