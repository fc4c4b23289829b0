"""The ledger's balance: money in, money out, what is held and for whom, the ledger's invariants
and what settlement refused to book (anomalies)."""

from services.settlement import domain
from services.settlement.domain import Account

# -- the balance ----------------------------------------------------------------------------------
VIOLATIONS_SHOWN = 100  # per invariant, at most

INVARIANTS = (
    "journal_balanced",
    "no_negative_liability",
    "order_money_out_within_money_in",
    "coupon_paid_out_once",
)


def ledger_balance(repo):
    """Money in, money out, what is held and for whom: conservation (rule 6) as numbers, and
    the ledger's invariants.

    money_in (bank debits) + what venues owe back (clawbacks) = money_out (bank credits) +
    coupon liability + venues payable + refunds payable + cooperation fund + operator's fee
    income. ``balanced`` is true only if every invariant holds:

    - ``journal_balanced``: every entry sums to zero, and so the equality above;
    - ``no_negative_liability``: no liability or payable account (coupon liability, a venue's
      or a funder's payable, a department's fund) has a debit balance, no venue a credit
      balance of what it owes back;
    - ``order_money_out_within_money_in``: per order, refunds + what venues are paid or owed
      for its coupons never exceed what was received for it;
    - ``coupon_paid_out_once``: each coupon's face value goes out at most once, to one venue or
      back to its funders, never both.

    A violated invariant lists (up to 100) violations naming the entries, accounts, orders or
    coupons. ``anomalies`` lists what settlement refused to book (a cancellation of a confirmed
    order, a confirmation of a cancelled one, coupons of a cancelled order, disputed
    redemptions, voids of redemptions a run had paid): money did not move for them, the
    operator looks at them."""
    rows = repo.account_balances()
    accounts = []
    by_account = {}
    money_in = money_out = 0
    by_payer = []
    for (account, sub), (balance, debits) in sorted(rows.items()):
        if account == Account.BANK.value:
            money_in += debits
            money_out += debits - balance
            if sub:
                by_payer.append({"payer": sub, "paid_cents": debits})
        accounts.append({"account": account, "sub": sub, "balance_cents": balance})
        by_account[account] = by_account.get(account, 0) + balance
    held = {
        key: -by_account.get(account.value, 0)
        for key, account in (
            ("coupon_liability_cents", Account.LIABILITY),
            ("venue_payable_cents", Account.VENUE_PAYABLE),
            ("refund_payable_cents", Account.REFUND_PAYABLE),
            ("cooperation_fund_cents", Account.FUND),
        )
    }
    receivable = by_account.get(Account.VENUE_RECEIVABLE.value, 0)
    fee_income = -by_account.get(Account.FEE_INCOME.value, 0)
    fund = [
        {"territory": sub, "department": sub, "balance_cents": -balance}
        for (account, sub), (balance, _) in sorted(rows.items())
        if account == Account.FUND.value
    ]
    invariants = _invariants(repo, rows, by_account, money_in, money_out, held, fee_income)
    return {
        "money_in_cents": money_in,
        "money_out_cents": money_out,
        "money_in_by_payer": by_payer,
        "liabilities": held,
        "venue_receivable_cents": receivable,
        "fee_income_cents": fee_income,
        "cooperation_fund": fund,
        "accounts": accounts,
        "entry_count": repo.entry_count(),
        "balanced": all(i["holds"] for i in invariants),
        "invariants": invariants,
        "anomalies": _anomalies(repo),
    }


def _invariant(name, violations):
    shown = violations[:VIOLATIONS_SHOWN]
    return {"name": name, "holds": not violations, "violations": shown}


def _invariants(repo, rows, by_account, money_in, money_out, held, fee_income):
    receivable = by_account.get(Account.VENUE_RECEIVABLE.value, 0)
    journal = repo.unbalanced_entries(VIOLATIONS_SHOWN)
    # every entry sums to zero, so the whole journal does and money in = out + held + income
    gap = money_in + receivable - (money_out + sum(held.values()) + fee_income)
    if (gap or sum(by_account.values())) and not journal:
        journal.append({"account": "*", "amount_cents": gap or sum(by_account.values())})
    negative = []
    for (account, sub), (balance, _) in sorted(rows.items()):
        if account in domain.OWED_ACCOUNTS and balance > 0:
            negative.append({"account": account, "sub": sub, "amount_cents": -balance})
        if account in domain.OWING_ACCOUNTS and balance < 0:
            negative.append({"account": account, "sub": sub, "amount_cents": balance})
    return [
        _invariant("journal_balanced", journal),
        _invariant("no_negative_liability", negative),
        _invariant("order_money_out_within_money_in", repo.money_by_order(VIOLATIONS_SHOWN)),
        _invariant("coupon_paid_out_once", repo.coupons_paid_more_than_once(VIOLATIONS_SHOWN)),
    ]


def _anomalies(repo):
    found = []
    for order in repo.anomalous_orders(VIOLATIONS_SHOWN):
        for kind, field_ in (
            ("cancellation_refused", "cancel_refused_at"),
            ("confirmation_refused", "confirm_refused_at"),
            ("coupons_of_cancelled_order", "issued_after_cancel_at"),
        ):
            if order.get(field_) is not None:
                found.append({"kind": kind, "order_id": order["order_id"], "at": order[field_]})
    for line in repo.anomalous_payables(VIOLATIONS_SHOWN):
        if line.get("void_refused_at") is not None and not line.get("void_applied"):
            found.append(
                {
                    "kind": "void_refused",
                    "redemption_id": line["redemption_id"],
                    "venue_id": line.get("venue_id"),
                    "at": line["void_refused_at"],
                    "reason": "paid",
                    "order_ids": sorted({o["order_id"] for o in line.get("orders", [])}),
                }
            )
    for line in repo.disputed_payables(VIOLATIONS_SHOWN):
        found.append(
            {
                "kind": "redemption_disputed",
                "redemption_id": line["redemption_id"],
                "venue_id": line.get("venue_id"),
                "at": line.get("redeemed_at"),
                "reason": line.get("disputed_reason", "not_outstanding"),
                "order_ids": line.get("disputed_orders")
                or sorted({o["order_id"] for o in line.get("orders", [])}),
            }
        )
    return found
