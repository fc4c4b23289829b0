"""What a settlement run pays and states, read back: the cooperation fund's statements per
department, the funders' refunds, the venues' statements and their lines, the SEPA transfers and
the ``settlement.run_completed`` events."""

from collections import defaultdict
from functools import partial

from services.settlement import domain, snapshots
from shared.contracts.errors_settlement import DocumentNotFound, RunNotFound
from shared.times import iso


def fund_statement_key(run_id, department):
    return f"{run_id}:{department}"


def _fund_statements(repo, settings, run, year, issued_at):
    """Per department: the run's contributions (the orders confirmed since the last run), and,
    when the fund's account is configured, the transfer of everything stated and not yet
    transferred (this run's, and earlier runs' made while no account was configured), with its
    ledger entry ``fund_paid:<run>:<department>``; a fund statement ``FDS-YYYY-NNNNNN`` each.
    ``[{department, contributions_cents, order_count, face_value_cents, order_fees_cents,
    transferred_cents, held_cents, statement_reference}]`` sorted by department."""
    run_id = run["id"]
    stated = repo.fund_sums("run_id", run_id)
    transferred = repo.fund_sums("paid_run_id", run_id)
    held = repo.fund_sums("status", "stated")  # stated by this run or before, not transferred
    account = run.get("fund_account")
    rows = []
    for department in sorted(set(stated) | set(transferred)):
        own = stated.get(department, {})
        paid = transferred.get(department, {}).get("amount_cents", 0)
        if paid:
            repo.post(
                f"fund_paid:{run_id}:{department}",
                "fund_paid",
                domain.fund_paid_postings(department, paid),
                run["created_at"],
                {"run_id": run_id, "department": department},
            )
        row = {
            "department": department,
            "contributions_cents": own.get("amount_cents", 0),
            "order_count": own.get("orders", 0),
            "face_value_cents": own.get("face_value_cents", 0),
            "order_fees_cents": own.get("order_fee_cents", 0),
            "transferred_cents": paid,
            "earlier_transferred_cents": paid - (own.get("amount_cents", 0) if paid else 0),
            "held_cents": held.get(department, {}).get("amount_cents", 0),
        }
        doc = repo.issue_document(
            "fund_statement",
            "FDS",
            fund_statement_key(run_id, department),
            year,
            partial(
                snapshots.fund_statement,
                settings=settings,
                run=run,
                issued_at=issued_at,
                row=row,
                account=account,
            ),
        )
        rows.append({**row, "statement_reference": doc["reference"]})
    return rows


def fund_statement(repo, run_id, department):
    """A department's fund statement of a run and the run's contributions it lists (a
    stream)."""
    get_run(repo, run_id)
    doc = repo.get_document("fund_statement", fund_statement_key(run_id, department))
    if doc is None:
        raise DocumentNotFound(details={"run_id": run_id, "department": department})
    return doc["snapshot"], fund_statement_lines(repo.run_fund_contributions(run_id, department))


def fund_statement_lines(contributions):
    for c in contributions:
        yield {
            "order_id": c["order_id"],
            "sponsor_id": c["sponsor_id"],
            "sponsor_name": c.get("sponsor_name", ""),
            "territory": c["territory"],
            "confirmed_at": iso(c["confirmed_at"]),
            "face_value_cents": c["face_value_cents"],
            "amount_cents": c["amount_cents"],
        }


def _refund_row(refund, paid):
    return {
        "funder_id": refund["funder_id"],
        "name": refund["name"],
        "iban": refund["iban"],
        "bic": refund.get("bic"),
        "amount_cents": refund["amount_cents"],
        "paid": paid,
    }


def _unpaid(repo):
    totals = {}
    for refund in repo.open_refunds():
        row = totals.setdefault(
            refund["funder_id"], _refund_row({**refund, "amount_cents": 0}, False)
        )
        row["amount_cents"] += refund["amount_cents"]
    return [totals[k] for k in sorted(totals)]


def _pay_refunds(repo, run):
    """One transfer per funder for the refunds the run took (cleared order by order in the
    ledger)."""
    per_funder, per_order = {}, defaultdict(lambda: defaultdict(int))
    for refund in repo.run_refunds(run["id"]):
        row = per_funder.setdefault(
            refund["funder_id"], _refund_row({**refund, "amount_cents": 0}, paid=True)
        )
        row["amount_cents"] += refund["amount_cents"]
        per_order[refund["funder_id"]][refund.get("order_id") or ""] += refund["amount_cents"]
    for funder, row in per_funder.items():
        repo.post(
            f"refund_paid:{run['id']}:{funder}",
            "refund_paid",
            domain.refund_paid_postings(funder, row["amount_cents"], dict(per_order[funder])),
            run["created_at"],
            {"run_id": run["id"], "funder_id": funder},
        )
    return [per_funder[k] for k in sorted(per_funder)]


def get_run(repo, run_id):
    run = repo.get_run("runs", run_id)
    if run is None:
        raise RunNotFound(details={"run_id": run_id})
    return run


def statement(repo, run_id, venue_id):
    """The statement snapshot of a venue in a run and its lines (a stream)."""
    get_run(repo, run_id)
    doc = repo.get_document("statement", f"{run_id}:{venue_id}")
    if doc is None:
        raise DocumentNotFound(details={"run_id": run_id, "venue_id": venue_id})
    return doc["snapshot"], statement_lines(repo.run_payables(run_id, venue_id))


def venue_statements(repo, venue_id, limit=50, offset=0):
    """A page of a venue's payout statements, newest first (their snapshots, without lines):
    ``(statements, total)``."""
    docs, total = repo.documents("statement", venue_id=venue_id, limit=limit, offset=offset)
    return [doc["snapshot"] for doc in docs], total


def statement_lines(payables):
    for p in payables:
        yield {
            "redemption_id": p["redemption_id"],
            "redeemed_at": iso(p["redeemed_at"]),
            "service_id": p.get("service_id", ""),
            "category": p.get("category", ""),
            "coupon_count": p["coupon_count"],
            "serials": p["serials"],
            "amount_cents": p["amount_cents"],
            "kind": p["kind"],
        }


def sepa_transfers(run):
    """The run's transfers: venues' net payouts, funders' refunds, and the cooperation fund's
    contributions per department (when its account is configured)."""
    transfers = [
        {
            "name": p["name"],
            "iban": p["iban"],
            "bic": None,
            "amount_cents": p["net_cents"],
            "description": f"Pass numerique {p['statement_reference']} au {run['period_end']}",
            "end_to_end_id": p["statement_reference"],
        }
        for p in run["payouts"]
    ]
    transfers += [
        {
            "name": r["name"],
            "iban": r["iban"],
            "bic": r.get("bic"),
            "amount_cents": r["amount_cents"],
            "description": f"Pass numerique remboursement {run['id']}",
            "end_to_end_id": f"{run['id']}-{index:04d}",
        }
        for index, r in enumerate(run["refunds"], 1)
    ]
    account = run.get("fund_account")
    transfers += [
        {
            "name": account["name"],
            "iban": account["iban"],
            "bic": account.get("bic") or None,
            "amount_cents": f["transferred_cents"],
            "description": f"Fonds de cooperation {f['department']} {f['statement_reference']}",
            "end_to_end_id": f["statement_reference"],
        }
        for f in run.get("fund_contributions") or []
        if account and f["transferred_cents"]
    ]
    return transfers


def run_events(run, redemption_ids, batch_size):
    """``settlement.run_completed`` payloads, in batches of ``batch_size`` ids."""
    ids = list(redemption_ids)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)] or [[]]
    for number, chunk in enumerate(batches, 1):
        yield {
            "run_id": run["id"],
            "period_end": run["period_end"],
            "redemption_ids": chunk,
            "completed_at": iso(run["completed_at"]),
            "batch": number,
            "batch_count": len(batches),
        }
