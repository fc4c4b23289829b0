"""Pure money rules of settlement (the scheme's money rules 1-7, see docs/settlement.md): no I/O,
integer cents only.

A journal entry is a list of postings whose signed amounts sum to zero (double entry). Positive
amounts are debits, negative amounts credits. Rounding (rule 7) happens once per document: the
payout fee is 4 % of a venue's gross for the run, never per coupon.

A posting names the order it is for (``order_id``) whenever one order's money moves: money
received, the coupon liability, what a venue is owed for the order's coupons, refunds owed and
paid. That is what lets the ledger prove, per order, that no more went out than came in
(``GET /ledger/balance``'s invariants).
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.money import COOPERATION_FUND_BP as FUND_BP
from shared.money import ENCASHMENT_FEE_BP, percent_of, split_pro_rata

# the rates are the scheme's, defined once in shared.money: rule 3, the encashment fee (4 % of a
# venue's gross, kept by the operator); rule 4, the cooperation fund (1 % of face value ordered,
# to the department's fund); rule 1's order fee is ordering's (settlement books what it charged)


class RunStatus(StrEnum):
    """The steps of a settlement run (``runs``), in order."""

    CLAIMING = "claiming"  # created: takes the lines up to the cut-off, open refunds, contributions
    COMPUTING = "computing"  # its lines fixed: payouts, statements, refunds, fund, run summary
    COMPLETED = "completed"  # done: asking for the same cut-off again answers it unchanged


class ExpiryRunStatus(StrEnum):
    """The steps of an expiry run (``expiry``), in order."""

    EXPIRING = "expiring"  # created: expires booklets past their grace month, or cancelled
    REFUNDING = "refunding"  # coupons expired: refunds and a credit note per funder
    COMPLETED = "completed"  # done: asking for the same as_of again answers it unchanged


class PayableStatus(StrEnum):
    """A payable line (a redemption owed to its venue)."""

    OPEN = "open"  # booked (its entry written), paid by the next settlement run
    WAITING = "waiting"  # its orders' confirmation not arrived: unbooked, unpaid, coupons taken
    VOIDED = "voided"  # voided before a run took it: nothing owed, its coupons usable again
    DISPUTED = "disputed"  # coupons not outstanding or of a cancelled order: never paid
    SETTLED = "settled"  # taken by a run (``run_id``): paid, a later void is refused


class RefundStatus(StrEnum):
    """A refund owed to a funder (a cancelled order's payments, expired coupons' face value)."""

    OPEN = "open"  # owed, paid by the next settlement run
    SETTLED = "settled"  # taken (and paid) by a run (``run_id``)


class Account(StrEnum):
    BANK = "bank"  # cash received from sponsors and the State, less what was paid out
    LIABILITY = "coupon_liability"  # face value of coupons outstanding (not yet redeemed/refunded)
    FEE_INCOME = "fee_income"  # operator's fees, net of the cooperation fund
    FUND = "cooperation_fund"  # per department: 1 % of face value ordered, until paid to the fund
    VENUE_PAYABLE = "venue_payable"  # per venue: redeemed face value not yet paid
    # per venue: face value of lines already paid and voided afterwards (a clawback), which the
    # venue owes back; deducted from its next payout. An asset: never a credit balance.
    VENUE_RECEIVABLE = "venue_receivable"
    REFUND_PAYABLE = "refund_payable"  # per funder: refunds not yet paid


# accounts that hold what the operator owes: never a debit balance (a "negative" liability)
OWED_ACCOUNTS = (Account.LIABILITY, Account.VENUE_PAYABLE, Account.REFUND_PAYABLE, Account.FUND)
# accounts that hold what is owed to the operator: never a credit balance
OWING_ACCOUNTS = (Account.VENUE_RECEIVABLE,)


@dataclass(frozen=True)
class Posting:
    account: Account
    amount_cents: int  # > 0 debit, < 0 credit
    sub: str = ""  # venue id, department code, funder id…
    order_id: str = ""  # the order whose money this is, when there is one


class Unbalanced(ValueError):
    """A journal entry whose postings do not sum to zero."""


def balanced(postings: list[Posting]) -> list[Posting]:
    """Return ``postings`` if they sum to zero, else raise :class:`Unbalanced`."""
    if sum(p.amount_cents for p in postings) != 0:
        raise Unbalanced(postings)
    return postings


# -- territories --------------------------------------------------------------------------------
def department_of(code: str) -> str:
    """The department of a territory code: a department code is its own department; an INSEE
    town code belongs to the department of its first 2 characters (``33063`` -> ``33``,
    ``2A004`` -> ``2A``), or 3 for overseas (``97411`` -> ``974``; the ``98x`` collectivities
    alike). The cooperation fund is kept per department (rule 4: a town's order feeds
    its department's fund)."""
    code = (code or "").strip().upper()
    if not code:
        return ""
    if code[:2] in ("97", "98"):
        return code[:3]
    return code[:2]


# -- orders -------------------------------------------------------------------------------------
def fund_share(face_value_cents: int) -> int:
    """Rule 4: 1 % of an order's face value, rounded half up once per order."""
    return percent_of(face_value_cents, FUND_BP)


def order_confirmed_postings(
    face_value_cents: int,
    fee_cents: int,
    territory: str,
    payers: dict[str, int] | None = None,
    order_id: str = "",
) -> list[Posting]:
    """Money in for a confirmed order: bank += face + fee (per payer when ``payers`` says who paid
    what: the sponsor, the State); liability for face; fee split with the fund of the
    territory's department."""
    fund = fund_share(face_value_cents)
    payers = payers or {"": face_value_cents + fee_cents}
    return balanced(
        [
            Posting(Account.BANK, amount, payer, order_id)
            for payer, amount in sorted(payers.items())
            if amount
        ]
        + [
            Posting(Account.LIABILITY, -face_value_cents, "", order_id),
            Posting(Account.FEE_INCOME, -(fee_cents - fund), "", order_id),
            Posting(Account.FUND, -fund, department_of(territory), order_id),
        ]
    )


def cancelled_order_postings(paid: dict[str, int], order_id: str = "") -> list[Posting]:
    """An order cancelled before its confirmation: what each payer paid is received and owed
    back to it at once (fee included: no service was rendered)."""
    return balanced(
        [Posting(Account.BANK, c, f, order_id) for f, c in sorted(paid.items()) if c]
        + [Posting(Account.REFUND_PAYABLE, -c, f, order_id) for f, c in sorted(paid.items()) if c]
    )


# -- redemptions --------------------------------------------------------------------------------
def _by_order(total_cents: int, by_order: dict[str, int] | None) -> dict[str, int]:
    return dict(by_order) if by_order else {"": total_cents}


def redemption_postings(
    face_value_cents: int, venue_id: str, by_order: dict[str, int] | None = None
) -> list[Posting]:
    """A redemption moves face value from the coupon liability to the venue's payable, order by
    order (``by_order``: face value of the redemption's coupons per order)."""
    parts = _by_order(face_value_cents, by_order)
    if sum(parts.values()) != face_value_cents:
        raise Unbalanced(parts)
    return balanced(
        [
            posting
            for order_id, cents in sorted(parts.items())
            for posting in (
                Posting(Account.LIABILITY, cents, "", order_id),
                Posting(Account.VENUE_PAYABLE, -cents, venue_id, order_id),
            )
        ]
    )


def void_postings(
    face_value_cents: int, venue_id: str, by_order: dict[str, int] | None = None, paid=False
) -> list[Posting]:
    """A void: the coupons are a liability again. Not yet paid, the venue's payable is reduced;
    already paid (the void crossed a run), the venue owes it back (a clawback receivable,
    deducted from its next payout)."""
    account = Account.VENUE_RECEIVABLE if paid else Account.VENUE_PAYABLE
    parts = _by_order(face_value_cents, by_order)
    if sum(parts.values()) != face_value_cents:
        raise Unbalanced(parts)
    return balanced(
        [
            posting
            for order_id, cents in sorted(parts.items())
            for posting in (
                Posting(Account.LIABILITY, -cents, "", order_id),
                Posting(account, cents, venue_id, order_id),
            )
        ]
    )


# -- payouts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payout:
    venue_id: str
    gross_cents: int
    fee_cents: int
    net_cents: int


def payout(venue_id: str, gross_cents: int) -> Payout:
    """Rule 3 + 7: one venue's payout for one run; the fee is rounded once, on the run's gross."""
    fee = percent_of(gross_cents, ENCASHMENT_FEE_BP)
    return Payout(venue_id, gross_cents, fee, gross_cents - fee)


def payout_postings(
    p: Payout,
    redeemed_by_order: dict[str, int] | None = None,
    clawed_by_order: dict[str, int] | None = None,
) -> list[Posting]:
    """Settle a venue: its payable is cleared (per order: ``redeemed_by_order``, the face value of
    the run's redemption lines), its clawbacks deducted (``clawed_by_order``, positive amounts:
    the receivable is cleared), the bank pays net, the operator keeps the fee."""
    redeemed = dict(redeemed_by_order) if redeemed_by_order is not None else None
    clawed = dict(clawed_by_order or {})
    if redeemed is None:
        redeemed = {"": p.gross_cents + sum(clawed.values())}
    return balanced(
        [
            Posting(Account.VENUE_PAYABLE, cents, p.venue_id, order_id)
            for order_id, cents in sorted(redeemed.items())
            if cents
        ]
        + [
            Posting(Account.VENUE_RECEIVABLE, -cents, p.venue_id, order_id)
            for order_id, cents in sorted(clawed.items())
            if cents
        ]
        + [
            Posting(Account.BANK, -p.net_cents),
            Posting(Account.FEE_INCOME, -p.fee_cents),
        ]
    )


# -- refunds ------------------------------------------------------------------------------------
def refund_shares(face_value_cents: int, funders: dict[str, int]) -> dict[str, int]:
    """Rule 5: unused face value back to its funders pro rata (their shares of the order)."""
    return split_pro_rata(face_value_cents, funders)


def refund_postings(
    face_value_cents: int, funders: dict[str, int], order_id: str = ""
) -> list[Posting]:
    """Expiry/cancellation: liability becomes refunds payable per funder; the fee is not refunded."""
    shares = refund_shares(face_value_cents, funders)
    return balanced(
        [Posting(Account.LIABILITY, face_value_cents, "", order_id)]
        + [Posting(Account.REFUND_PAYABLE, -c, f, order_id) for f, c in sorted(shares.items())]
    )


def refund_paid_postings(
    funder_id: str, amount_cents: int, by_order: dict[str, int] | None = None
) -> list[Posting]:
    """A refund transfer leaves the bank; the refund payable is cleared order by order."""
    parts = _by_order(amount_cents, by_order)
    if sum(parts.values()) != amount_cents:
        raise Unbalanced(parts)
    return balanced(
        [
            Posting(Account.REFUND_PAYABLE, cents, funder_id, order_id)
            for order_id, cents in sorted(parts.items())
            if cents
        ]
        + [Posting(Account.BANK, -amount_cents)]
    )


# -- the cooperation fund -----------------------------------------------------------------------
def fund_paid_postings(department: str, amount_cents: int) -> list[Posting]:
    """A department's fund contributions transferred to the fund's account."""
    return balanced(
        [
            Posting(Account.FUND, amount_cents, department),
            Posting(Account.BANK, -amount_cents),
        ]
    )


def balances(postings) -> dict[tuple[str, str], int]:
    """Sum postings per (account, sub)."""
    out: dict[tuple[str, str], int] = {}
    for p in postings:
        key = (Account(p.account).value, p.sub)
        out[key] = out.get(key, 0) + p.amount_cents
    return out
