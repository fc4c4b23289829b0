"""A settlement run over 1,000,000 redemptions: time and peak memory.

``python -m bench.settlement_bench [--redemptions 1000000] [--venues 2000] [--store 20000]``

Three measurements, each in a fresh child process (so that its peak memory is its own):

1. **streaming** (what the service does): the run's lines arrive sorted by venue, as the store's
   cursor gives them; per venue the gross is summed, the payout computed (rule 3 and 7), then the
   SEPA file (pain.001, validated) and the operator's summary PDF are made, and one venue's
   statement PDF (the statements are rendered when asked for, from their snapshot).
2. **baseline, loading everything** (measured in the same run): the same lines loaded into a list,
   grouped in a dict of lists, then the same payouts and documents.
3. **the storage engine apart**: the real ``api.settlement_run`` on the configured store
   (``MONGO_URI``; the in-process engine by default) with ``--store`` redemptions (3,000) fed through
   the event handlers; per-line cost reported. The in-process engine scans documents in Python:
   its cost is not MongoDB's (every query of the run is on an index there).

Target: under 60 s and under 1 GiB for the computation and documents of 1,000,000 redemptions.
"""

import argparse
import multiprocessing
import resource
import time
from datetime import UTC, date, datetime, timedelta

TARGET_SECONDS = 60
TARGET_BYTES = 1 << 30
FACE = 1000


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


def store_run(redemptions, venues, queue):
    """The service's own run on the configured store, fed through its event handlers."""
    import os
    import secrets

    from services.settlement import api
    from services.settlement.settings import Settings
    from services.settlement.store import SettlementRepository
    from shared.events import CouponsRedeemed
    from shared.mongo import get_client
    from tests import settlement_support as ev

    uri = os.environ.get("MONGO_URI", "mongomock://")
    name = f"bench_{secrets.token_hex(4)}_settlement"
    client = get_client(uri)
    repo = SettlementRepository(client[name])
    SettlementRepository.ensure_indexes(repo.db)
    try:
        for v in range(venues):
            api.on_venue_changed(repo, ev.venue(f"ven_{v:020d}"))
        started = time.perf_counter()
        schema = CouponsRedeemed()
        for line in lines(redemptions, venues):
            api.on_coupons_redeemed(
                repo,
                schema.load(
                    {
                        "redemption_id": line["redemption_id"],
                        "venue_id": line["venue_id"],
                        "service_id": "svc_00000000000000000001",
                        "category": "online_procedures",
                        "coupons": [
                            {
                                "serial": s,
                                "face_value_cents": FACE,
                                "order_id": "ord_00000000000000000001",
                                "sponsor_id": "spo_00000000000000000001",
                                "booklet_serial": "B000000001",
                            }
                            for s in line["serials"]
                        ],
                        "total_cents": line["amount_cents"],
                        "redeemed_at": line["redeemed_at"].replace(tzinfo=UTC).isoformat(),
                    }
                ),
            )
        feed = time.perf_counter() - started
        started = time.perf_counter()
        run = api.settlement_run(repo, Settings(), date(2026, 10, 31), today=date(2026, 11, 2))
        elapsed = time.perf_counter() - started
        queue.put(
            {
                "uri": uri.split("://")[0],
                "feed": feed,
                "run": elapsed,
                "gross": run["totals"]["gross_cents"],
                "payouts": len(run["payouts"]),
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    finally:
        client.drop_database(name)


def in_child(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    parser.add_argument("--venues", type=int, default=2_000)
    parser.add_argument("--store", type=int, default=3_000, help="redemptions on the store")
    args = parser.parse_args(argv)

    print(f"settlement run: {args.redemptions:,} redemptions, {args.venues:,} venues", flush=True)
    stream = in_child(streaming, args.redemptions, args.venues)
    print("  streaming done", flush=True)
    naive = in_child(loading_everything, args.redemptions, args.venues)
    print("  baseline done", flush=True)
    assert stream["totals"] == naive["totals"], "both ways must find the same totals"

    mib = 1 << 20
    print()
    print(
        "| way | compute s | SEPA s | summary PDF s | 1 statement PDF s | total s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in (("streaming (the service)", stream), ("baseline: load everything", naive)):
        total = r["compute"] + r["sepa"] + r["summary_pdf"] + r["statement_pdf"]
        r["total"] = total
        print(
            f"| {label} | {r['compute']:.1f} | {r['sepa']:.1f} | {r['summary_pdf']:.1f} | "
            f"{r['statement_pdf']:.1f} | {total:.1f} | {r['peak_rss'] / mib:.0f} |"
        )
    gross = stream["totals"]["gross_cents"]
    print(
        f"\ngross {gross / 100:,.2f} EUR, fee {stream['totals']['fee_cents'] / 100:,.2f} EUR, "
        f"net {stream['totals']['net_cents'] / 100:,.2f} EUR"
    )
    ok = stream["total"] < TARGET_SECONDS and stream["peak_rss"] < TARGET_BYTES
    print(
        f"target < {TARGET_SECONDS} s and < 1 GiB: {'met' if ok else 'NOT met'} "
        f"({stream['total']:.1f} s, {stream['peak_rss'] / mib:.0f} MiB)"
    )

    if args.store:
        store = in_child(
            store_run, args.store, max(1, args.venues * args.store // args.redemptions)
        )
        per_line = store["run"] / args.store * 1e6
        print(
            f"\nthe storage engine apart ({store['uri']}): {args.store:,} redemptions fed through "
            f"the handlers in {store['feed']:.1f} s; the run itself {store['run']:.1f} s "
            f"({per_line:.0f} µs per line, {store['payouts']} payouts, "
            f"peak RSS {store['peak_rss'] / mib:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
