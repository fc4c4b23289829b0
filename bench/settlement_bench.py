"""A settlement run of 100,000 redemptions through the store, on the storage server and on the
in-process engine side by side: time and peak memory. Optionally, the run's computation and
documents over 1,000,000 in-memory redemptions, streaming vs loading everything.

``python -m bench.settlement_bench [--store 100000] [--venues 2000] [--in-memory 0]``
(``MONGO_URI`` names a server, else the bench starts an embedded one; no broker needed;
``BENCH_IN_MEMORY=1000000`` or ``--in-memory 1000000`` adds the in-memory comparison).

**Through the store** (what ``aptic settle`` does): the venues come through ``api.on_venue_changed``;
the first ``--sample`` redemptions (300) through the real ``api.on_coupons_redeemed`` (their coupons
issued first through ``api.on_booklets_issued``), which gives the intake's cost per event; the rest
are bulk-loaded (``insert_many`` by 1,000): copies of the documents the handler creates for a
template line (one ``payables`` line and one journal entry today), with each line's values (see
:class:`Cloner`), checked against what the handler wrote for a fed line. Their coupons are not
marked redeemed: the run does not read them. Then ``api.settlement_run`` (claim the lines, stream them
by venue, one payout, ledger entry and statement snapshot per venue, the ledger's balance, the
summary) in a child process of its own, so that its peak memory is its own. On the in-process
engine the store lives in the run's process (load and run in one child: its peak includes the
engine's copy of the data), and every line is bulk-loaded (the handler books a redemption in a
transaction; mongomock has none). A size it would not finish in 10 minutes is not run: its time is
extrapolated from two smaller runs (a power law) and said so.

**In memory** (``--in-memory N``), each way in its own child process:

1. **streaming** (what the service does): the run's lines arrive sorted by venue, as the store's
   cursor gives them; per venue the gross is summed, the payout computed (4 % fee, rounded once), then the
   SEPA file (pain.001, validated) and the operator's summary PDF are made, and one venue's
   statement PDF (the statements are rendered when asked for, from their snapshot).
2. **baseline, loading everything** (measured in the same run): the same lines loaded into a list,
   grouped in a dict of lists, then the same payouts and documents.

Targets: under 60 s and under 1 GiB for the computation and documents of 1,000,000 redemptions (in
memory); on the store, reported as measured.
"""

import argparse
import multiprocessing
import os
import resource
import time
from datetime import UTC, date, datetime, timedelta

TARGET_SECONDS = 60
TARGET_BYTES = 1 << 30
FACE = 1000
MIB = 1 << 20
PERIOD_END, TODAY = date(2026, 10, 31), date(2026, 11, 2)
SERVICE = "svc_00000000000000000001"
CATEGORY = "online_procedures"
ORDER, SPONSOR = "ord_00000000000000000001", "spo_00000000000000000001"
CHUNK = 1000


def lines(redemptions, venues):
    """The run's lines sorted by venue then date, as the store's cursor streams them."""
    per_venue, extra = divmod(redemptions, venues)
    start = datetime(2026, 10, 1)
    for v in range(venues):
        venue_id = f"ven_{v:020d}"
        for i in range(per_venue + (1 if v < extra else 0)):
            coupons = 1 + (i % 3 == 0)
            yield {
                "id": f"red_{v:08d}{i:012d}",
                "redemption_id": f"red_{v:08d}{i:012d}",
                "venue_id": venue_id,
                "kind": "redemption",
                "coupon_count": coupons,
                "amount_cents": coupons * FACE,
                "redeemed_at": start + timedelta(seconds=i),
                "serials": [f"{v:05d}{i:06d}{k}" for k in range(coupons)],
            }


def payout_rows(totals):
    from services.settlement import domain

    rows = []
    for venue_id, gross, count, coupons in totals:
        p = domain.payout(venue_id, gross)
        rows.append(
            {
                "venue_id": venue_id,
                "name": f"Espace numérique {venue_id[-6:]}",
                "iban": "FR1420041010050500013M02606",
                "gross_cents": p.gross_cents,
                "fee_cents": p.fee_cents,
                "net_cents": p.net_cents,
                "line_count": count,
                "coupon_count": coupons,
                "statement_reference": f"REL-2026-{len(rows) + 1:06d}",
            }
        )
    return rows


def documents(payouts, sample_lines):
    """SEPA file (validated), the run's summary PDF, one statement PDF: seconds of each."""
    from services.settlement import api
    from services.settlement.documents import render_run_summary_pdf, render_statement_pdf
    from services.settlement.sepa import credit_transfer_xml, validate_pain001
    from services.settlement.settings import Settings

    settings = Settings()
    run = {"id": "SR-2026-10-31", "period_end": "2026-10-31", "payouts": payouts, "refunds": []}
    timings = {}
    started = time.perf_counter()
    xml = credit_transfer_xml(
        settings.debtor(), api.sepa_transfers(run), "SR-2026-10-31", date(2026, 11, 2)
    )
    validate_pain001(xml)
    timings["sepa"] = time.perf_counter() - started
    totals = {k: sum(p[k] for p in payouts) for k in ("gross_cents", "fee_cents", "net_cents")}
    started = time.perf_counter()
    render_run_summary_pdf(
        {
            "reference": "SYN-2026-000001",
            "run_id": run["id"],
            "period_end": run["period_end"],
            "issued_at": "2026-11-02T08:00:00Z",
            "issuer": settings.issuer(),
            "payouts": payouts,
            "totals": totals,
            "refunds": [],
            "refunds_total_cents": 0,
            "fund_by_territory": [{"territory": "33", "balance_cents": 1_000_000}],
            "fee_income_cents": totals["fee_cents"],
            "carried_forward": [],
            "ledger_balanced": True,
        }
    )
    timings["summary_pdf"] = time.perf_counter() - started
    first = payouts[0]
    started = time.perf_counter()
    render_statement_pdf(
        {
            "reference": first["statement_reference"],
            "run_id": run["id"],
            "period_end": run["period_end"],
            "issued_at": "2026-11-02T08:00:00Z",
            "issuer": settings.issuer(),
            "venue": {
                "venue_id": first["venue_id"],
                "name": first["name"],
                "town_code": "33063",
                "department": "33",
                "iban": first["iban"],
            },
            **{k: first[k] for k in ("gross_cents", "fee_cents", "net_cents")},
            "fee_bp": 400,
            "line_count": first["line_count"],
            "coupon_count": first["coupon_count"],
        },
        api.statement_lines(sample_lines),
    )
    timings["statement_pdf"] = time.perf_counter() - started
    return totals, timings


def streaming(redemptions, venues, queue):
    from services.settlement import api

    started = time.perf_counter()
    payouts = payout_rows(api.venue_totals(lines(redemptions, venues)))
    compute = time.perf_counter() - started
    sample = [
        line for line in lines(redemptions, venues) if line["venue_id"] == payouts[0]["venue_id"]
    ]
    totals, timings = documents(payouts, sample)
    queue.put(_result(compute, totals, timings))


def loading_everything(redemptions, venues, queue):
    started = time.perf_counter()
    everything = list(lines(redemptions, venues))
    grouped = {}
    for line in everything:
        grouped.setdefault(line["venue_id"], []).append(line)
    totals = (
        (v, sum(x["amount_cents"] for x in ls), len(ls), sum(x["coupon_count"] for x in ls))
        for v, ls in grouped.items()
    )
    payouts = payout_rows(totals)
    compute = time.perf_counter() - started
    totals, timings = documents(payouts, grouped[payouts[0]["venue_id"]])
    queue.put(_result(compute, totals, timings))


def _result(compute, totals, timings):
    return {
        "compute": compute,
        "totals": totals,
        **timings,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


# -- through the store ----------------------------------------------------------------------------
def venue_event(venue_id):
    from shared.events import VenueChanged

    return VenueChanged().load_or_raise(
        {
            "venue_id": venue_id,
            "version": 1,
            "status": "accredited",
            "name": f"Espace numérique {venue_id[-6:]}",
            "venue_type": "library",
            "department": "33",
            "town_code": "33063",
            "iban": "FR1420041010050500013M02606",
            "categories": [CATEGORY],
            "services": [],
        }
    )


def booklet_of(serial):
    """The booklet of a coupon of :func:`lines` (one per line: the serial less its last digit)."""
    return f"B{serial[:-1]}"


def issued_event(sample_lines):
    """``booklets_issued`` for the coupons of the handler-fed lines (one booklet per line)."""
    from shared.events import BookletsIssued

    return BookletsIssued().load_or_raise(
        {
            "order_id": ORDER,
            "sponsor_id": SPONSOR,
            "sponsor_name": "Département de la Gironde",
            "territory": "33",
            "rules": {"territories": [], "venue_types": [], "categories": []},
            "cofunded": False,
            "state_rate_bp": 0,
            "issued_at": "2026-01-10T00:00:00Z",
            "valid_from": "2026-01-10T00:00:00Z",
            "valid_until": "2027-01-10T00:00:00Z",
            "booklets": [
                {
                    "serial": booklet_of(line["serials"][0]),
                    "coupons": [
                        {"serial": s, "face_value_cents": FACE, "code_digest": "-"}
                        for s in line["serials"]
                    ],
                }
                for line in sample_lines
            ],
            "batch": 1,
            "batch_count": 1,
        }
    )


def redeemed_event(line):
    from shared.events import CouponsRedeemed

    return CouponsRedeemed().load_or_raise(
        {
            "redemption_id": line["redemption_id"],
            "venue_id": line["venue_id"],
            "service_id": SERVICE,
            "category": CATEGORY,
            "coupons": [
                {
                    "serial": s,
                    "face_value_cents": FACE,
                    "order_id": ORDER,
                    "sponsor_id": SPONSOR,
                    "booklet_serial": booklet_of(s),
                }
                for s in line["serials"]
            ],
            "total_cents": line["amount_cents"],
            "redeemed_at": line["redeemed_at"].replace(tzinfo=UTC).isoformat(),
        }
    )


def template_line(coupons):
    """A line with values found nowhere else (its id, venue, serials, date), whose documents as
    the handler writes them are the pattern of every bulk-loaded line with as many coupons."""
    return {
        "redemption_id": f"red_{99_999_999:08d}{coupons:012d}",
        "venue_id": f"ven_{99_999 + coupons:020d}",
        "coupon_count": coupons,
        "amount_cents": coupons * FACE,
        "redeemed_at": datetime(2001, 2, 3, 4, 5, coupons),
        "serials": [f"{99_999:05d}{999_990 + coupons:06d}{k}" for k in range(coupons)],
    }


def _values(line):
    """What differs from line to line: ``{template value: value}`` (strings; longest first)."""
    pairs = {line["redemption_id"]: None, line["venue_id"]: None}
    for serial in line["serials"]:
        pairs[serial] = None
        pairs[booklet_of(serial)] = None
    return list(pairs)


class Cloner:
    """The documents ``api.on_coupons_redeemed`` creates for a line, made for any line without
    running it: the handler is run once per coupon count on a template line, in a scratch
    database; every document it created that names the template redemption is kept, and each
    line's copy gets the line's values in place of the template's (its id, venue, serials and
    their booklets, date). Whatever the handler writes (fields added since), the copies follow.
    Documents it only changed (the coupons, marked redeemed) are not copied."""

    def __init__(self, uri, prefix):
        from bench import common
        from services.settlement import api
        from services.settlement.store import SettlementRepository
        from shared.mongo import get_client

        self.patterns = {}
        for coupons in (1, 2):
            line = template_line(coupons)
            scratch = f"{prefix}tpl{coupons}_"
            repo = common.repository(SettlementRepository, uri, scratch, "settlement")
            api.on_venue_changed(repo, venue_event(line["venue_id"]))
            api.on_booklets_issued(repo, issued_event([line]))
            names = repo.db.list_collection_names()
            before = {
                name: {d["_id"] for d in repo.db[name].find({}, {"_id": 1})} for name in names
            }
            api.on_coupons_redeemed(repo, redeemed_event(line))
            created = {}
            for name in repo.db.list_collection_names():
                for doc in repo.db[name].find():
                    if doc["_id"] not in before.get(name, ()) and _names(doc, line):
                        created.setdefault(name, []).append({**doc, "_id": None})
            get_client(uri).drop_database(scratch + "settlement")
            self.patterns[coupons] = (line, created)

    def documents(self, line):
        """``{collection: [documents]}`` of ``line``, as the handler would write them."""
        template, created = self.patterns[line["coupon_count"]]
        swaps = sorted(zip(_values(template), _values(line), strict=True), key=lambda p: -len(p[0]))
        moment = template["redeemed_at"]
        at = line["redeemed_at"]

        def swap(value):
            if isinstance(value, str):
                for old, new in swaps:
                    if old in value:
                        value = value.replace(old, new)
                return value
            if isinstance(value, datetime) and value.replace(tzinfo=None) == moment:
                return at.replace(tzinfo=value.tzinfo)
            if isinstance(value, dict):
                return {k: swap(v) for k, v in value.items() if k != "_id"}
            if isinstance(value, list):
                return [swap(v) for v in value]
            return value

        return {name: [swap(doc) for doc in docs] for name, docs in created.items()}


def _names(doc, line):
    """Whether ``doc`` mentions the line's redemption (in any string, at any depth)."""
    if isinstance(doc, str):
        return line["redemption_id"] in doc
    if isinstance(doc, dict):
        return any(_names(v, line) for v in doc.values())
    if isinstance(doc, list):
        return any(_names(v, line) for v in doc)
    return False


def _shape(doc):
    """Field names and value types, nested (what a bulk document must share with the handler's)."""
    if isinstance(doc, dict):
        return {k: _shape(v) for k, v in doc.items() if k != "_id"}
    if isinstance(doc, list):
        return [_shape(doc[0])] if doc else []
    return type(doc).__name__


def load_store(uri, prefix, redemptions, venues, sample, cloner):
    """Fill settlement's store: ``{venues, handlers, bulk}`` seconds and the handler's cost."""
    from bench import common
    from services.settlement import api
    from services.settlement.store import SettlementRepository

    repo = common.repository(SettlementRepository, uri, prefix, "settlement")
    db = repo.db
    timings = {}
    started = time.perf_counter()
    for v in range(venues):
        api.on_venue_changed(repo, venue_event(f"ven_{v:020d}"))
    timings["venues"] = time.perf_counter() - started

    every = lines(redemptions, venues)
    # the handler-fed lines are spread over the venues, one in every ``step``
    step = max(1, redemptions // max(1, sample))
    fed, bulk = [], []
    for i, line in enumerate(every):
        (fed if i % step == 0 and len(fed) < sample else bulk).append(line)
    if fed:
        api.on_booklets_issued(repo, issued_event(fed))
        started = time.perf_counter()
        for line in fed:
            api.on_coupons_redeemed(repo, redeemed_event(line))
        timings["handlers"] = time.perf_counter() - started
        timings["per_event"] = timings["handlers"] / len(fed) * 1000
        for name, docs in cloner.documents(fed[0]).items():  # the copies are the handler's
            for doc in docs:
                written = db[name].find_one({"_id": {"$exists": True}, **_key(doc)})
                if written is None or _shape(written) != _shape(doc):
                    raise RuntimeError(f"{name}: the handler wrote {written}, the copy is {doc}")
    started = time.perf_counter()
    for i in range(0, len(bulk), CHUNK):
        batch = {}
        for line in bulk[i : i + CHUNK]:
            for name, docs in cloner.documents(line).items():
                batch.setdefault(name, []).extend(docs)
        for name, docs in batch.items():
            db[name].insert_many(docs, ordered=False)
    timings["bulk"] = time.perf_counter() - started
    timings["fed"], timings["bulked"] = len(fed), len(bulk)
    timings["collections"] = sorted(cloner.patterns[1][1])
    count = db.payables.count_documents({})
    if count != redemptions:
        raise RuntimeError(f"{count} payables, {redemptions} expected")
    return timings


def _key(doc):
    """A query that finds ``doc`` among the handler's: its plain string fields."""
    return {k: v for k, v in doc.items() if isinstance(v, str)}


def run_store(uri, prefix):
    """``api.settlement_run`` on the store: seconds, payouts, gross, peak RSS of this process."""
    from bench import common
    from services.settlement import api
    from services.settlement.settings import Settings
    from services.settlement.store import SettlementRepository

    repo = common.Timed(common.repository(SettlementRepository, uri, prefix, "settlement"))
    started = time.perf_counter()
    run = api.settlement_run(repo, Settings(), PERIOD_END, today=TODAY)
    elapsed = time.perf_counter() - started
    return {
        "steps": repo.totals(),
        "run": elapsed,
        "status": run["status"],
        "lines": run["progress"]["done"],
        "payouts": len(run["payouts"]),
        "carried": len(run["carried_forward"]),
        "gross": run["totals"]["gross_cents"],
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_child(uri, prefix, queue):
    """The server's run, in a process of its own."""
    queue.put(run_store(uri, prefix))


def load_and_run_child(redemptions, venues, sample, cloner, queue):
    """The in-process engine's load and run, in a process of its own (the store lives there)."""
    import secrets

    from bench import common

    uri = common.in_process_engine()
    prefix = f"bench{secrets.token_hex(3)}_"
    timings = load_store(uri, prefix, redemptions, venues, sample, cloner)
    queue.put({**timings, **run_store(uri, prefix)})


def expected_gross(redemptions, venues):
    return sum(line["amount_cents"] for line in lines(redemptions, venues))


def through_the_store(redemptions, venues, sample):
    """The server's and the in-process engine's figures: ``(server, in_process, skipped)``."""
    import secrets

    from bench import common
    from shared.mongo import get_client

    gross = expected_gross(redemptions, venues)
    with common.storage("settlement") as storage:
        prefix = f"bench{secrets.token_hex(3)}_"
        print(f"  server ({storage.label}): loading {redemptions:,} redemptions...", flush=True)
        cloner = Cloner(storage.uri, prefix)  # the handler's documents, for the bulk loads
        server = load_store(storage.uri, prefix, redemptions, venues, sample, cloner)
        print(
            f"    venues {server['venues']:.1f} s, {server['fed']} through the handlers "
            f"({server.get('per_event', 0):.1f} ms each), {server['bulked']:,} bulk-loaded in "
            f"{server['bulk']:.1f} s; the run...",
            flush=True,
        )
        server.update(in_child(run_child, storage.uri, prefix))
        server["server_rss"] = storage.peak_rss()
        get_client(storage.uri).drop_database(prefix + "settlement")
        print(f"    run: {server['run']:.1f} s", flush=True)
    check(server, redemptions, gross)
    report_steps(server)

    in_process, skipped = {}, None
    try:
        import mongomock  # noqa: F401
    except ImportError:
        return server, None, None
    small = [min(1_000, redemptions // 4), min(2_000, redemptions // 2)]
    for size in small:
        v = max(1, venues * size // redemptions)
        print(f"  in-process: {size:,} redemptions, {v} venues...", flush=True)
        try:
            in_process[size] = in_child(load_and_run_child, size, v, 0, cloner)
        except RuntimeError as exc:  # the engine lacks what the run uses
            reason = str(exc).strip().splitlines()[-1]
            print(f"    cannot run: {reason}", flush=True)
            return server, {}, {"error": reason}
        check(in_process[size], size, expected_gross(size, v))
        print(f"    run {in_process[size]['run']:.1f} s", flush=True)
    estimate = {}
    for key in ("bulk", "run"):
        k, f = common.power_law(
            small[0], in_process[small[0]][key], small[1], in_process[small[1]][key]
        )
        estimate[key], estimate[f"k_{key}"] = f(redemptions), k
    if estimate["bulk"] + estimate["run"] < common.TEN_MINUTES:
        print(f"  in-process: {redemptions:,} redemptions...", flush=True)
        in_process[redemptions] = in_child(load_and_run_child, redemptions, venues, 0, cloner)
        check(in_process[redemptions], redemptions, gross)
    else:
        skipped = {**estimate, "from": tuple(small)}
    return server, in_process, skipped


def report_steps(result):
    """Where the server's run spends its time: the store's methods as the run calls them."""
    from bench import common

    total = result["run"]
    steps = sorted(result["steps"].items(), key=lambda item: -item[1][0])
    rows = [
        [name, f"{seconds:.1f}", f"{calls:,}", f"{seconds / total:.0%}"]
        for name, (seconds, calls) in steps[:8]
    ]
    rest = total - sum(seconds for _, (seconds, _) in steps)
    rows.append(
        ["(streaming the lines, computing, the rest)", f"{rest:.1f}", "-", f"{rest / total:.0%}"]
    )
    print(f"\nthe server's run of {result['lines']:,} lines: {total:.1f} s, by store method")
    common.table(["store method", "seconds", "calls", "share"], rows)


def check(result, redemptions, gross):
    if (
        result["status"] != "completed"
        or result["lines"] != redemptions
        or result["gross"] != gross
    ):
        raise RuntimeError(f"the run is not what was loaded: {result}")


def in_child(target, *args):
    """``target(*args, queue)`` in a fresh process (its peak memory its own); what it put in the
    queue. A child that dies without an answer is an error here, not a wait forever."""
    import queue as queues

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_guarded, args=(target, *args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=1)
            break
        except queues.Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} died ({process.exitcode})") from None
    process.join()
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(f"{target.__name__} failed:\n{result['error']}")
    return result


def _guarded(target, *args):
    """In the child: the target's answer, or its traceback as an answer."""
    import traceback

    queue = args[-1]
    try:
        target(*args)
    except Exception:  # the parent raises it
        queue.put({"error": traceback.format_exc()})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.settlement_bench", description=__doc__)
    parser.add_argument("--store", type=int, default=100_000, help="redemptions on the store")
    parser.add_argument("--venues", type=int, default=2_000)
    parser.add_argument("--sample", type=int, default=300, help="redemptions fed by the handler")
    parser.add_argument(
        "--in-memory",
        type=int,
        default=int(os.environ.get("BENCH_IN_MEMORY", "0")),
        help="redemptions of the in-memory comparison (0: not run; 1000000: the old figure)",
    )
    args = parser.parse_args(argv)
    from bench import common

    common.stop_on_sigterm()
    print(f"machine: {common.machine()}", flush=True)
    if args.store:
        print(f"settlement run: {args.store:,} redemptions at {args.venues:,} venues", flush=True)
        server, in_process, skipped = through_the_store(args.store, args.venues, args.sample)
        report_store(args, server, in_process, skipped)
    if args.in_memory:
        in_memory(args.in_memory, args.venues)


def report_store(args, server, in_process, skipped):
    from bench import common

    print(
        f"\nsettlement run of {args.store:,} redemptions at {args.venues:,} venues through the "
        f"store ({common.machine()})"
    )
    headers = [
        "engine",
        "redemptions",
        "load s (venues + handlers + bulk)",
        "intake ms/event (handler)",
        "run s",
        "µs per line",
        "payouts",
        "run's peak RSS MiB",
    ]
    rows = []

    def row(label, size, r):
        load = r["venues"] + r.get("handlers", 0) + r["bulk"]
        return [
            label,
            f"{size:,}",
            f"{load:.1f} ({r['venues']:.1f} + {r.get('handlers', 0):.1f} + {r['bulk']:.1f})",
            common.fmt(r.get("per_event")),
            common.fmt(r["run"]),
            common.fmt(r["run"] / size * 1e6, 0),
            f"{r['payouts']:,}",
            common.fmt(r["peak_rss"] / MIB, 0),
        ]

    rows.append(row("server", args.store, server))
    if in_process is None:
        rows.append(["in-process (mongomock)", "not installed"] + ["-"] * 6)
    elif skipped and "error" in skipped:
        rows.append(["in-process (mongomock)", "cannot run", skipped["error"][:66]] + ["-"] * 5)
        skipped = None
    else:
        for size in sorted(in_process):
            rows.append(row("in-process (mongomock)", size, in_process[size]))
        if skipped:
            total = skipped["bulk"] + skipped["run"]
            rows.append(
                [
                    "in-process (mongomock)",
                    f"{args.store:,}",
                    f"not run: > 10 min (bulk load ~{common.duration(skipped['bulk'])})",
                    "-",
                    f"~{common.duration(skipped['run'])}",
                    common.fmt(skipped["run"] / args.store * 1e6, 0),
                    "-",
                    "-",
                ]
            )
    common.table(headers, rows)
    if skipped:
        n1, n2 = skipped["from"]
        print(
            f"(in-process at {args.store:,}: extrapolated from its runs of {n1:,} and {n2:,}, "
            f"f(n) = f(n1) (n/n1)^k: bulk load k = {skipped['k_bulk']:.1f}, run k = "
            f"{skipped['k_run']:.1f}; load + run ~{common.duration(total)})"
        )
    if in_process:
        print(
            "(in-process: every line bulk-loaded; the handler books a redemption in a transaction, "
            "which mongomock does not have)"
        )
    print(
        f"bulk-loaded lines: copies of what the handler creates per redemption "
        f"({', '.join(server['collections'])})"
    )
    if server.get("server_rss"):
        print(f"server peak RSS (load and run): {server['server_rss'] / MIB:.0f} MiB")
    print(
        f"gross {server['gross'] / 100:,.2f} EUR over {server['lines']:,} lines, "
        f"{server['payouts']:,} payouts, {server['carried']} carried forward"
    )


def in_memory(redemptions, venues):
    print(f"\nin memory: {redemptions:,} redemptions, {venues:,} venues", flush=True)
    stream = in_child(streaming, redemptions, venues)
    print("  streaming done", flush=True)
    naive = in_child(loading_everything, redemptions, venues)
    print("  baseline done", flush=True)
    assert stream["totals"] == naive["totals"], "both ways must find the same totals"
    print(
        "| way | compute s | SEPA s | summary PDF s | 1 statement PDF s | total s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in (("streaming (the service)", stream), ("baseline: load everything", naive)):
        total = r["compute"] + r["sepa"] + r["summary_pdf"] + r["statement_pdf"]
        r["total"] = total
        print(
            f"| {label} | {r['compute']:.1f} | {r['sepa']:.1f} | {r['summary_pdf']:.1f} | "
            f"{r['statement_pdf']:.1f} | {total:.1f} | {r['peak_rss'] / MIB:.0f} |"
        )
    gross = stream["totals"]["gross_cents"]
    print(
        f"\ngross {gross / 100:,.2f} EUR, fee {stream['totals']['fee_cents'] / 100:,.2f} EUR, "
        f"net {stream['totals']['net_cents'] / 100:,.2f} EUR"
    )
    ok = stream["total"] < TARGET_SECONDS and stream["peak_rss"] < TARGET_BYTES
    print(
        f"target < {TARGET_SECONDS} s and < 1 GiB: {'met' if ok else 'NOT met'} "
        f"({stream['total']:.1f} s, {stream['peak_rss'] / MIB:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
