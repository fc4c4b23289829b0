"""Settlement: the ledger fed by events, settlement runs, expiry runs, the balance.

Every handler is idempotent: its ledger entry has a key made of the event's identity, so a
redelivered event writes nothing; its other writes are upserts or conditional updates.
Runs are resumable state machines: a run interrupted half way is finished by asking for it again,
and a step already done is not done twice (ledger keys per run and venue / funder / order).

Times are aware UTC datetimes (``shared.times``); days (cut-offs, ``as_of``, dates printed on
documents, the dashboard's months) are days of the operator's timezone (``periods``).
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from services.settlement import domain, periods
from services.settlement.exceptions import (
    DocumentNotFound,
    ExpiryRunNotFound,
    NotYours,
    RunNotFound,
)
from services.settlement.ingest import (  # noqa: F401
    _coupons_exist,
    on_booklet_activated,
    on_booklet_cancelled,
    on_booklets_issued,
    on_order_cancelled,
    on_order_confirmed,
    on_venue_changed,
)
from services.settlement.ledger import (  # noqa: F401
    INVARIANTS,
    VIOLATIONS_SHOWN,
    _anomalies,
    _invariant,
    _invariants,
    ledger_balance,
)
from services.settlement.postings import (  # noqa: F401
    _book_waiting,
    _funder,
    _line_by_order,
    _post_redemption,
    _post_void,
    book_waiting,
    refund_item,
    sponsor_funder_id,
    state_id,
)
from services.settlement.progress import (  # noqa: F401
    PROGRESS_EVERY,
    RUN_LOCK,
    RUN_LOCK_SECONDS,
    Progress,
    _with_lock,
)
from services.settlement.redemptions import (  # noqa: F401
    _book_redemption,
    _book_void,
    _order_lines,
    face_by_order,
    on_coupons_redeemed,
    on_redemption_voided,
)
from services.settlement.reports import (  # noqa: F401
    sponsor_dashboard,
)
from shared import times
from shared.schemas import SYSTEM_ACTOR
from shared.times import iso
from shared.validity import add_month

log = logging.getLogger(__name__)

ALERT_DAYS = 30


# -- settlement runs ------------------------------------------------------------------------------
def run_id_for(period_end):
    return f"SR-{period_end.isoformat()}"


def settlement_run(repo, settings, period_end, today=None, progress=None, actor=None):
    """The run of ``period_end`` (see :func:`start_settlement_run`)."""
    return start_settlement_run(repo, settings, period_end, today, progress, actor)[0]


def start_settlement_run(repo, settings, period_end, today=None, progress=None, actor=None):
    """Pay venues for everything redeemed before the end of ``period_end`` (a day of the
    operator's timezone: up to the next local midnight), and funders their open refunds.
    ``(run, created)``: the same cut-off again answers the same run (``created`` False), and
    resumes it if it was interrupted. The cut-off may be today (``today``: the operator's date):
    what is redeemed after the run, even the same day, goes to the next run.

    A day outside the scheme's life is :class:`InvalidPeriod`; one still to come is
    :class:`PeriodNotOver`."""
    tz = settings.zone
    period_end = periods.check_day(periods.to_day(period_end), "period_end")
    periods.check_over(
        period_end, "period_end", today or periods.today(tz), "the cut-off cannot be in the future"
    )
    run_id = run_id_for(period_end)
    existing = repo.get_run("runs", run_id)
    if existing is not None and existing["status"] == "completed":
        return existing, False
    return _with_lock(
        repo, run_id, lambda: _settlement_run(repo, settings, run_id, period_end, progress, actor)
    )


def _settlement_run(repo, settings, run_id, period_end, progress, actor):
    run, created = repo.create_run(
        "runs",
        {
            "id": run_id,
            "period_end": period_end.isoformat(),
            "cutoff": periods.end_of(period_end, settings.zone),
            "timezone": settings.operator_timezone,
            "status": "claiming",
            "created_at": times.now(),
            "created_by": actor or SYSTEM_ACTOR,
            "completed_at": None,
            "events_published": False,
            "payouts": [],
            "carried_forward": [],
            "refunds": [],
            # where the fund's contributions are transferred (None: not configured, they are
            # stated and kept), fixed when the run is made
            "fund_account": settings.fund_account(),
        },
    )
    if run["status"] == "claiming":
        # redemptions that waited for a confirmation since booked are paid too (a safety net:
        # the confirmation books them)
        book_waiting(repo)
        # from here the run's lines are fixed: a late void is refused, not a change
        claimed = repo.claim_payables(run_id, run["cutoff"])
        refunds = repo.claim_refunds(run_id)
        repo.claim_fund_contributions(run_id)
        if run.get("fund_account"):
            repo.pay_fund_contributions(run_id)
        run = repo.update_run(
            "runs", run_id, {"status": "computing", "claimed": claimed, "claimed_refunds": refunds}
        )
    if run["status"] == "computing":
        run = _compute_run(repo, settings, run, progress)
    return run, created


def _void_released(repo, venue_id):
    """A venue carried forward: its lines are open again, unpaid. A void refused meanwhile
    (the run had taken the line) now applies: the line is voided, its coupons outstanding
    again, the void's entry written (one transaction each)."""
    for line in repo.refused_voids_open(venue_id):
        repo.in_transaction(lambda tx, line=line: _apply_refused_void(tx, line["id"]))


def _apply_refused_void(repo, rid):
    line = repo.get_payable(rid)
    if line is None or line["status"] != "open" or line.get("void_refused_at") is None:
        return
    before = repo.void_payable(rid, {"voided_at": line["void_refused_at"], "void_applied": True})
    if before is None or before.get("status") != "open":
        return
    repo.release_coupons(rid)
    _post_void(repo, before, line["void_refused_at"])


def venue_totals(lines: Iterable[dict]):
    """Stream ``(venue_id, gross_cents, line_count, coupon_count)`` from lines sorted by venue:
    memory is one venue's sums, whatever the number of lines."""
    for venue in venue_sums(lines):
        yield venue.venue_id, venue.gross_cents, venue.line_count, venue.coupon_count


@dataclass
class VenueSums:
    """One venue's lines of a run: gross, counts, and per order the face value of its
    redemption lines (``redeemed``) and of its clawbacks (``clawed``, positive)."""

    venue_id: str
    gross_cents: int = 0
    line_count: int = 0
    coupon_count: int = 0
    redeemed: dict = field(default_factory=dict)
    clawed: dict = field(default_factory=dict)

    def add(self, line):
        self.gross_cents += line["amount_cents"]
        self.line_count += 1
        self.coupon_count += line["coupon_count"]
        target = self.clawed if line["amount_cents"] < 0 else self.redeemed
        # a line made before lines named their orders counts for no order
        parts = line.get("orders") or [{"order_id": "", "amount_cents": line["amount_cents"]}]
        for part in parts:
            target[part["order_id"]] = target.get(part["order_id"], 0) + abs(part["amount_cents"])


def venue_sums(lines: Iterable[dict]):
    """Stream :class:`VenueSums` from lines sorted by venue: memory is one venue's sums (and its
    orders'), whatever the number of lines."""
    current = None
    for line in lines:
        if current is None or line["venue_id"] != current.venue_id:
            if current is not None:
                yield current
            current = VenueSums(line["venue_id"])
        current.add(line)
    if current is not None:
        yield current


def _compute_run(repo, settings, run, progress_callback):
    run_id = run["id"]
    year = periods.local_date(run["created_at"], settings.zone).year
    issued_at = iso(run["created_at"])
    payouts, carried = [], []
    progress = Progress(repo, "runs", run_id, "payouts", run.get("claimed"), progress_callback)
    for sums in venue_sums(_counted(repo.run_payables(run_id), progress)):
        venue_id, gross = sums.venue_id, sums.gross_cents
        count, coupons = sums.line_count, sums.coupon_count
        venue = repo.get_venue(venue_id)
        reason = None
        if gross <= 0:
            reason = "clawbacks_exceed_redemptions"
        elif venue is None or not venue.get("iban"):
            reason = "no_bank_details"
        if reason:
            repo.release_payables(run_id, venue_id)
            _void_released(repo, venue_id)
            carried.append(
                {
                    "venue_id": venue_id,
                    "name": (venue or {}).get("name", venue_id),
                    "gross_cents": gross,
                    "reason": reason,
                }
            )
            continue
        payout = domain.payout(venue_id, gross)
        repo.post(
            f"payout:{run_id}:{venue_id}",
            "payout",
            domain.payout_postings(payout, sums.redeemed, sums.clawed),
            run["created_at"],
            {"run_id": run_id, "venue_id": venue_id},
        )
        statement = repo.issue_document(
            "statement",
            "REL",
            f"{run_id}:{venue_id}",
            year,
            lambda reference, v=venue, p=payout, n=count, c=coupons: {
                "reference": reference,
                "run_id": run_id,
                "period_end": run["period_end"],
                "issued_at": issued_at,
                "timezone": settings.operator_timezone,
                "issuer": settings.issuer(),
                "venue": {
                    "venue_id": v["venue_id"],
                    "name": v["name"],
                    "town_code": v.get("town_code", ""),
                    "department": v.get("department", ""),
                    "iban": v["iban"],
                },
                "gross_cents": p.gross_cents,
                "fee_cents": p.fee_cents,
                "net_cents": p.net_cents,
                "fee_bp": domain.ENCASHMENT_FEE_BP,
                "line_count": n,
                "coupon_count": c,
            },
        )
        payouts.append(
            {
                "venue_id": venue_id,
                "name": venue["name"],
                "iban": venue["iban"],
                "gross_cents": payout.gross_cents,
                "fee_cents": payout.fee_cents,
                "net_cents": payout.net_cents,
                "line_count": count,
                "coupon_count": coupons,
                "statement_reference": statement["reference"],
            }
        )
    refunds = _pay_refunds(repo, run)
    fund = _fund_statements(repo, settings, run, year, issued_at)
    totals = {
        key: sum(p[key] for p in payouts) for key in ("gross_cents", "fee_cents", "net_cents")
    }
    # the run's own fee income: the encashment fees of its payouts, and the order fees (net of
    # the fund's 1 %) of the orders whose contributions it states
    fee_income = {
        "encashment_fees_cents": totals["fee_cents"],
        "order_fees_cents": sum(d["order_fees_cents"] for d in fund),
    }
    fee_income["total_cents"] = fee_income["encashment_fees_cents"] + fee_income["order_fees_cents"]
    fund_totals = {
        "contributions_cents": sum(d["contributions_cents"] for d in fund),
        "transferred_cents": sum(d["transferred_cents"] for d in fund),
    }
    balance = ledger_balance(repo)
    summary = repo.issue_document(
        "run_summary",
        "SYN",
        run_id,
        year,
        lambda reference: {
            "reference": reference,
            "run_id": run_id,
            "period_end": run["period_end"],
            "issued_at": issued_at,
            "timezone": settings.operator_timezone,
            "issuer": settings.issuer(),
            "payouts": [
                {k: p[k] for k in ("venue_id", "name", "statement_reference")}
                | {k: p[k] for k in ("gross_cents", "fee_cents", "net_cents")}
                for p in payouts
            ],
            "totals": totals,
            "refunds": refunds + [_refund_row(r, paid=False) for r in _unpaid(repo)],
            "refunds_total_cents": sum(r["amount_cents"] for r in refunds),
            # the run's own: fee income, fund contributions per department, transfers
            "fee_income": fee_income,
            "fund_contributions": fund,
            "fund_totals": fund_totals,
            "fund_account": run.get("fund_account"),
            # the ledger's running balances, for reference
            "fund_balance_by_department": balance["cooperation_fund"],
            "fee_income_balance_cents": balance["fee_income_cents"],
            "carried_forward": carried,
            "ledger_balanced": balance["balanced"],
            "ledger_violations": [
                {"name": i["name"], "violation_count": len(i["violations"])}
                for i in balance["invariants"]
                if not i["holds"]
            ],
        },
    )
    return repo.update_run(
        "runs",
        run_id,
        {
            "status": "completed",
            "completed_at": times.now(),
            "payouts": payouts,
            "carried_forward": carried,
            "refunds": refunds,
            "totals": totals,
            "refunds_total_cents": sum(r["amount_cents"] for r in refunds),
            "fee_income": fee_income,
            "fund_contributions": fund,
            "fund_contributions_total_cents": fund_totals["contributions_cents"],
            "fund_transferred_cents": fund_totals["transferred_cents"],
            "summary_reference": summary["reference"],
            "progress": {"phase": "completed", "done": progress.done, "total": progress.done},
        },
    )


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
            lambda reference, r=row: {
                "reference": reference,
                "run_id": run_id,
                "period_end": run["period_end"],
                "issued_at": issued_at,
                "timezone": settings.operator_timezone,
                "issuer": settings.issuer(),
                **r,
                "fund_bp": domain.FUND_BP,
                "account": account if r["transferred_cents"] else None,
                "account_configured": bool(account),
            },
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


def _counted(lines, progress):
    for line in lines:
        progress.advance()
        yield line


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


# -- expiry runs ----------------------------------------------------------------------------------
def expiry_run_id_for(as_of):
    return f"EXP-{as_of.isoformat()}"


def expiry_run(repo, settings, as_of, today=None, progress=None, actor=None):
    """The expiry run of ``as_of`` (see :func:`start_expiry_run`)."""
    return start_expiry_run(repo, settings, as_of, today, progress, actor)[0]


def start_expiry_run(repo, settings, as_of, today=None, progress=None, actor=None):
    """Expire coupons whose validity (and grace month) ended before ``as_of`` (the local
    midnight it begins at, in the operator's timezone) and coupons of cancelled booklets;
    refund their face value to the funders pro rata; one credit note per funder.
    ``(run, created)``: the same ``as_of`` again answers the same run (``created`` False).

    A day outside the scheme's life is :class:`InvalidPeriod`; one still to come is
    :class:`PeriodNotOver`."""
    tz = settings.zone
    as_of = periods.check_day(periods.to_day(as_of), "as_of")
    periods.check_over(
        as_of, "as_of", today or periods.today(tz), "coupons cannot be expired in advance"
    )
    run_id = expiry_run_id_for(as_of)
    existing = repo.get_run("expiry_runs", run_id)
    if existing is not None and existing["status"] == "completed":
        return existing, False
    return _with_lock(
        repo, run_id, lambda: _expiry_run(repo, settings, run_id, as_of, progress, actor)
    )


def _expiry_run(repo, settings, run_id, as_of, progress_callback, actor):
    run, created = repo.create_run(
        "expiry_runs",
        {
            "id": run_id,
            "as_of": as_of.isoformat(),
            "before": periods.start_of(as_of, settings.zone),
            "timezone": settings.operator_timezone,
            "status": "expiring",
            "created_at": times.now(),
            "created_by": actor or SYSTEM_ACTOR,
            "completed_at": None,
            "events_published": False,
        },
    )
    if run["status"] == "expiring":
        # a run created before this field existed began at midnight UTC
        moment = run.get("before") or periods.start_of(as_of, times.UTC)
        progress = Progress(repo, "expiry_runs", run_id, "booklets", None, progress_callback)
        orders = {}  # order_id -> its status here (one read per order)
        for booklet in repo.booklets_to_expire(moment):
            if booklet.get("cancelled_at") is not None:
                reason = "cancelled"
            elif add_month(booklet["valid_until"]) <= moment:
                reason = "expired"
            else:
                continue  # in its grace month: late redemptions may still come
            order_id = booklet.get("order_id")
            if order_id not in orders:
                orders[order_id] = (repo.get_order(order_id) or {}).get("status")
            if orders[order_id] not in ("confirmed", "cancelled"):
                # its order's money is not booked as received yet (the confirmation is late):
                # nothing to refund from; its coupons stay outstanding for a later run
                log.warning(
                    "booklet %s of order %s not expired: the order's confirmation has not "
                    "arrived; a later expiry run takes it",
                    booklet["serial"],
                    order_id,
                )
                continue
            repo.expire_booklet(booklet["serial"], run_id, reason)
            progress.advance()
        run = repo.update_run("expiry_runs", run_id, {"status": "refunding"})
    if run["status"] == "refunding":
        run = _refund_expired(repo, settings, run)
    return run, created


def _refund_expired(repo, settings, run):
    run_id, at = run["id"], run["created_at"]
    year = periods.local_date(at, settings.zone).year
    notes = {}
    totals = {"coupons": 0, "face_value_cents": 0, "cancelled": 0}
    for row in repo.expired_by_order(run_id):
        order = repo.get_order(row["order_id"])
        if order is not None and order.get("status") == "cancelled":
            # its cancellation was honoured: everything paid for it was refunded then
            log.error(
                "expired coupons of order %s, cancelled and refunded before: not refunded again",
                row["order_id"],
            )
            continue
        if order is None or "funders" not in order:
            log.error("expired coupons of unknown order %s: not refunded", row["order_id"])
            continue
        shares = domain.refund_shares(row["face_value_cents"], order["funders"])
        repo.post(
            f"expired:{run_id}:{row['order_id']}",
            "coupons_expired",
            domain.refund_postings(row["face_value_cents"], order["funders"], row["order_id"]),
            at,
            {
                "expiry_run_id": run_id,
                "order_id": row["order_id"],
                "serials": repo.expired_serials_of_order(run_id, row["order_id"]),
            },
        )
        items = [
            refund_item(
                settings,
                f"expired:{run_id}:{row['order_id']}:{funder}",
                funder,
                amount,
                at,
                order_id=row["order_id"],
                expiry_run_id=run_id,
                reason="expired",
                sponsor_name=order["sponsor_name"],
                sponsor_iban=order.get("sponsor_iban"),
            )
            for funder, amount in sorted(shares.items())
            if amount
        ]
        repo.add_refunds(items)
        weight = sum(order["funders"].values())
        for item in items:
            note = notes.setdefault(
                item["funder_id"],
                {"funder": item, "lines": [], "expired": 0, "cancelled": 0},
            )
            note["lines"].append(
                {
                    "order_id": row["order_id"],
                    "invoice_reference": order.get("invoice_reference"),
                    "coupon_count": row["coupons"],
                    "face_value_cents": row["face_value_cents"],
                    "share_bp": order["funders"][item["funder_id"]] * 10_000 // weight,
                    "amount_cents": item["amount_cents"],
                }
            )
            note["cancelled"] += row["cancelled"]
            note["expired"] += row["coupons"] - row["cancelled"]
        totals["coupons"] += row["coupons"]
        totals["cancelled"] += row["cancelled"]
        totals["face_value_cents"] += row["face_value_cents"]
    credit_notes = []
    for funder_id in sorted(notes):
        note = notes[funder_id]
        funder = note["funder"]
        doc = repo.issue_document(
            "credit_note",
            "AV",
            f"{run_id}:{funder_id}",
            year,
            lambda reference, n=note, f=funder: {
                "reference": reference,
                "expiry_run_id": run_id,
                "as_of": run["as_of"],
                "issued_at": iso(at),
                "timezone": settings.operator_timezone,
                "issuer": settings.issuer(),
                "reason": "expired",
                "funder": _funder(f),
                "lines": n["lines"],
                "total_cents": sum(line["amount_cents"] for line in n["lines"]),
                "cancelled_coupon_count": n["cancelled"],
                "expired_coupon_count": n["expired"],
            },
        )
        credit_notes.append(
            {
                "funder_id": funder_id,
                "name": funder["name"],
                "reference": doc["reference"],
                "amount_cents": doc["snapshot"]["total_cents"],
            }
        )
    return repo.update_run(
        "expiry_runs",
        run_id,
        {
            "status": "completed",
            "completed_at": times.now(),
            "coupon_count": totals["coupons"],
            "cancelled_coupon_count": totals["cancelled"],
            "refunded_cents": totals["face_value_cents"],
            "credit_notes": credit_notes,
        },
    )


def get_expiry_run(repo, run_id):
    run = repo.get_run("expiry_runs", run_id)
    if run is None:
        raise ExpiryRunNotFound(details={"expiry_run_id": run_id})
    return run


def credit_notes(repo, funder_id=None):
    """Credit notes, newest first (``funder_id``: only that funder's)."""
    return [doc["snapshot"] for doc in repo.documents("credit_note", funder_id)]


def credit_note_by_reference(repo, reference, funder_id=None):
    doc = repo.get_document_by_reference(reference)
    if doc is None or doc["kind"] != "credit_note":
        raise DocumentNotFound(details={"reference": reference})
    if funder_id is not None and doc["snapshot"]["funder"]["funder_id"] != funder_id:
        raise NotYours(details={"reference": reference})
    return doc["snapshot"]


def credit_note(repo, run_id, funder_id):
    get_expiry_run(repo, run_id)
    doc = repo.get_document("credit_note", f"{run_id}:{funder_id}")
    if doc is None:
        raise DocumentNotFound(details={"expiry_run_id": run_id, "funder_id": funder_id})
    return doc["snapshot"]


def expiry_events(run, serials, batch_size):
    ids = list(serials)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)] or [[]]
    for number, chunk in enumerate(batches, 1):
        yield {
            "expiry_run_id": run["id"],
            "as_of": run["as_of"],
            "coupon_serials": chunk,
            "batch": number,
            "batch_count": len(batches),
        }


def expiry_alerts(repo, sponsor_id, as_of, tz=None):
    """What expires in the 30 days from ``as_of`` (days of the operator's timezone ``tz``), for
    the sponsor's dashboard: booklets issued, handed out, not yet handed out, started (at least
    one coupon redeemed), per local end date. ``as_of`` outside the scheme's life:
    :class:`InvalidPeriod`."""
    tz = tz or periods.zone(periods.DEFAULT_TIMEZONE)
    day = periods.check_day(periods.to_day(as_of), "as_of")
    until = day + timedelta(days=ALERT_DAYS)
    by_date = {}
    for booklet in repo.sponsor_booklets(
        sponsor_id, periods.start_of(day, tz), periods.start_of(until, tz)
    ):
        if booklet.get("cancelled_at") is not None or booklet.get("expiry_run_id"):
            continue
        end = periods.local_date(booklet["valid_until"], tz).isoformat()
        row = by_date.setdefault(
            end,
            {"valid_until": end, "issued": 0, "handed_out": 0, "not_handed_out": 0, "started": 0},
        )
        row["issued"] += 1
        if booklet.get("activated_at"):
            row["handed_out"] += 1
        else:
            row["not_handed_out"] += 1
        if repo.booklet_redeemed_count(booklet["serial"]):
            row["started"] += 1
    rows = [by_date[k] for k in sorted(by_date)]
    totals = {
        k: sum(r[k] for r in rows) for k in ("issued", "handed_out", "not_handed_out", "started")
    }
    return {
        "sponsor_id": sponsor_id,
        "as_of": day.isoformat(),
        "until": until.isoformat(),
        "expiring": rows,
        "totals": totals,
    }
