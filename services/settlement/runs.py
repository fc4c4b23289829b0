"""Settlement runs: pay venues for what was redeemed up to a cut-off (less the encashment fee),
funders their open refunds and the cooperation fund its contributions, with a statement per venue
and a run summary. A run is a resumable state machine: interrupted half way, it is finished by
asking for it again, and a step already done is not done twice (ledger keys per run and venue /
funder / department)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from services.settlement import domain, periods, snapshots
from services.settlement.domain import PayableStatus, RunStatus
from services.settlement.ledger import ledger_balance
from services.settlement.postings import _post_void, book_waiting
from services.settlement.progress import Progress, create_run, once
from services.settlement.statements import _fund_statements, _pay_refunds, _refund_row, _unpaid
from shared import times
from shared.times import iso


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
    message = "the cut-off cannot be in the future"
    period_end = periods.past_day(period_end, "period_end", settings.zone, message, today)
    run_id = run_id_for(period_end)
    return once(
        repo,
        "runs",
        run_id,
        RunStatus.COMPLETED,
        lambda: _settlement_run(repo, settings, run_id, period_end, progress, actor),
    )


def _settlement_run(repo, settings, run_id, period_end, progress, actor):
    run, created = create_run(
        repo,
        "runs",
        run_id,
        RunStatus.CLAIMING,
        settings,
        actor,
        period_end=period_end.isoformat(),
        cutoff=periods.end_of(period_end, settings.zone),
        payouts=[],
        carried_forward=[],
        refunds=[],
        # where the fund's contributions are transferred (None: not configured, they are
        # stated and kept), fixed when the run is made
        fund_account=settings.fund_account(),
    )
    if run["status"] == RunStatus.CLAIMING:
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
            "runs",
            run_id,
            {"status": RunStatus.COMPUTING, "claimed": claimed, "claimed_refunds": refunds},
        )
    if run["status"] == RunStatus.COMPUTING:
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
    if line is None or line["status"] != PayableStatus.OPEN or line.get("void_refused_at") is None:
        return
    before = repo.void_payable(rid, {"voided_at": line["void_refused_at"], "void_applied": True})
    if before is None or before.get("status") != PayableStatus.OPEN:
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
            partial(
                snapshots.statement,
                settings=settings,
                run=run,
                issued_at=issued_at,
                venue=venue,
                payout=payout,
                line_count=count,
                coupon_count=coupons,
            ),
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
        partial(
            snapshots.run_summary,
            settings=settings,
            run=run,
            issued_at=issued_at,
            parts={
                "payouts": payouts,
                "totals": totals,
                "refunds": refunds,
                "unpaid_refunds": [_refund_row(r, paid=False) for r in _unpaid(repo)],
                "fee_income": fee_income,
                "fund": fund,
                "fund_totals": fund_totals,
                "carried": carried,
            },
            balance=balance,
        ),
    )
    return repo.update_run(
        "runs",
        run_id,
        {
            "status": RunStatus.COMPLETED,
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


def _counted(lines, progress):
    for line in lines:
        progress.advance()
        yield line
