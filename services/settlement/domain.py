"""Pure money rules of settlement (DOMAIN.md rules 1-7): no I/O, integer cents only.

A journal entry is a list of postings whose signed amounts sum to zero (double entry). Positive
amounts are debits, negative amounts credits. Rounding (rule 7) happens once per document: the
payout fee is 4 % of a venue's gross for the run, never per coupon.
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.money import percent_of, split_pro_rata

ORDER_FEE_BP = 400  # rule 1: 4 % of the order's face value, paid by the sponsor
ENCASHMENT_FEE_BP = 400  # rule 3: 4 % of a venue's gross, kept by the operator
FUND_BP = 100  # rule 4: 1 % of face value to the territory's cooperation fund


class Account(StrEnum):
    BANK = "bank"  # cash received from sponsors and the State, less what was paid out
    LIABILITY = "coupon_liability"  # face value of coupons outstanding (not yet redeemed/refunded)
    FEE_INCOME = "fee_income"  # operator's fees, net of the cooperation fund
    FUND = "cooperation_fund"  # per territory: 1 % of face value ordered
    VENUE_PAYABLE = "venue_payable"  # per venue: redeemed face value not yet paid
    REFUND_PAYABLE = "refund_payable"  # per funder: refunds not yet paid


@dataclass(frozen=True)
class Posting:
    account: Account
    amount_cents: int  # > 0 debit, < 0 credit
    sub: str = ""  # venue id, territory code, funder id…


class Unbalanced(ValueError):
    """A journal entry whose postings do not sum to zero."""


def balanced(postings: list[Posting]) -> list[Posting]:
    """Return ``postings`` if they sum to zero, else raise :class:`Unbalanced`."""
    if sum(p.amount_cents for p in postings) != 0:
        raise Unbalanced(postings)
    return postings


def order_confirmed_postings(
    face_value_cents: int, fee_cents: int, territory: str, payers: dict[str, int] | None = None
) -> list[Posting]:
    """Money in for a confirmed order: bank += face + fee (per payer when ``payers`` says who paid
    what: the sponsor, the State); liability for face; fee split with the fund."""
    fund = percent_of(face_value_cents, FUND_BP)
    payers = payers or {"": face_value_cents + fee_cents}
    return balanced(
        [Posting(Account.BANK, amount, payer) for payer, amount in sorted(payers.items()) if amount]
        + [
            Posting(Account.LIABILITY, -face_value_cents),
            Posting(Account.FEE_INCOME, -(fee_cents - fund)),
            Posting(Account.FUND, -fund, territory),
        ]
    )


def redemption_postings(face_value_cents: int, venue_id: str) -> list[Posting]:
    """A redemption moves face value from the coupon liability to the venue's payable."""
    return balanced(
        [
            Posting(Account.LIABILITY, face_value_cents),
            Posting(Account.VENUE_PAYABLE, -face_value_cents, venue_id),
        ]
    )


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


def payout_postings(p: Payout) -> list[Posting]:
    """Settle a venue: its payable is cleared, the bank pays net, the operator keeps the fee."""
    return balanced(
        [
            Posting(Account.VENUE_PAYABLE, p.gross_cents, p.venue_id),
            Posting(Account.BANK, -p.net_cents),
            Posting(Account.FEE_INCOME, -p.fee_cents),
        ]
    )


def refund_shares(face_value_cents: int, funders: dict[str, int]) -> dict[str, int]:
    """Rule 5: unused face value back to its funders pro rata (their shares of the order)."""
    return split_pro_rata(face_value_cents, funders)


def refund_postings(face_value_cents: int, funders: dict[str, int]) -> list[Posting]:
    """Expiry/cancellation: liability becomes refunds payable per funder; the fee is not refunded."""
    shares = refund_shares(face_value_cents, funders)
    return balanced(
        [Posting(Account.LIABILITY, face_value_cents)]
        + [Posting(Account.REFUND_PAYABLE, -c, f) for f, c in sorted(shares.items())]
    )


def refund_paid_postings(funder_id: str, amount_cents: int) -> list[Posting]:
    """A refund transfer leaves the bank."""
    return balanced(
        [
            Posting(Account.REFUND_PAYABLE, amount_cents, funder_id),
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
