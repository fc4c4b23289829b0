"""The snapshots of settlement's documents: pure functions of what a document states, each
taking the document's ``reference`` first (the store numbers it: ``issue_document`` calls the
builder with the next reference, once, and keeps what it answers; a snapshot is never rebuilt).

Every snapshot begins with the same header: its reference, when it was issued, the operator's
timezone (in which a reader's dates are printed) and the issuer as printed on it."""

from services.settlement import domain
from services.settlement.postings import _funder


def header(reference, settings, issued_at):
    return {
        "reference": reference,
        "issued_at": issued_at,
        "timezone": settings.operator_timezone,
        "issuer": settings.issuer(),
    }


def statement(reference, *, settings, run, issued_at, venue, payout, line_count, coupon_count):
    """A venue's payout statement of a run (``REL-``)."""
    return {
        **header(reference, settings, issued_at),
        "run_id": run["id"],
        "period_end": run["period_end"],
        "venue": {
            "venue_id": venue["venue_id"],
            "name": venue["name"],
            "town_code": venue.get("town_code", ""),
            "department": venue.get("department", ""),
            "iban": venue["iban"],
        },
        "gross_cents": payout.gross_cents,
        "fee_cents": payout.fee_cents,
        "net_cents": payout.net_cents,
        "fee_bp": domain.ENCASHMENT_FEE_BP,
        "line_count": line_count,
        "coupon_count": coupon_count,
    }


def fund_statement(reference, *, settings, run, issued_at, row, account):
    """A department's cooperation fund statement of a run (``FDS-``): its row of the run, and
    the fund's account when this run transferred to it."""
    return {
        **header(reference, settings, issued_at),
        "run_id": run["id"],
        "period_end": run["period_end"],
        **row,
        "fund_bp": domain.FUND_BP,
        "account": account if row["transferred_cents"] else None,
        "account_configured": bool(account),
    }


def run_summary(reference, *, settings, run, issued_at, parts, balance):
    """The operator's summary of a run (``SYN-``): ``parts`` are the run's own figures
    (payouts, totals, refunds paid and unpaid, fee income, fund contributions, carried forward),
    ``balance`` the ledger's running balance at its end."""
    return {
        **header(reference, settings, issued_at),
        "run_id": run["id"],
        "period_end": run["period_end"],
        "payouts": [
            {k: p[k] for k in ("venue_id", "name", "statement_reference")}
            | {k: p[k] for k in ("gross_cents", "fee_cents", "net_cents")}
            for p in parts["payouts"]
        ],
        "totals": parts["totals"],
        "refunds": parts["refunds"] + parts["unpaid_refunds"],
        "refunds_total_cents": sum(r["amount_cents"] for r in parts["refunds"]),
        # the run's own: fee income, fund contributions per department, transfers
        "fee_income": parts["fee_income"],
        "fund_contributions": parts["fund"],
        "fund_totals": parts["fund_totals"],
        "fund_account": run.get("fund_account"),
        # the ledger's running balances, for reference
        "fund_balance_by_department": balance["cooperation_fund"],
        "fee_income_balance_cents": balance["fee_income_cents"],
        "carried_forward": parts["carried"],
        "ledger_balanced": balance["balanced"],
        "ledger_violations": [
            {"name": i["name"], "violation_count": len(i["violations"])}
            for i in balance["invariants"]
            if not i["holds"]
        ],
    }


def expiry_credit_note(reference, *, settings, run, issued_at, funder, note):
    """A funder's credit note of an expiry run (``AV-``): the coupons expired or cancelled in
    its orders, refunded pro rata of what it paid."""
    return {
        **header(reference, settings, issued_at),
        "expiry_run_id": run["id"],
        "as_of": run["as_of"],
        "reason": "expired",
        "funder": _funder(funder),
        "lines": note["lines"],
        "total_cents": sum(line["amount_cents"] for line in note["lines"]),
        "cancelled_coupon_count": note["cancelled"],
        "expired_coupon_count": note["expired"],
    }


def cancellation_credit_note(reference, *, settings, issued_at, as_of, item, line):
    """A payer's credit note for an order cancelled after it paid (``AV-``): all it paid back,
    ``line`` the order's line of it."""
    return {
        **header(reference, settings, issued_at),
        "reason": "order_cancelled",
        "expiry_run_id": None,
        "as_of": as_of,
        "funder": _funder(item),
        "lines": [line],
        "total_cents": item["amount_cents"],
        "cancelled_coupon_count": 0,
        "expired_coupon_count": 0,
    }
