"""Worked examples of the money rules 1-7 (docs/rules.md) on the settlement domain (no broker)."""

import pytest

from services.settlement.domain import (
    Account,
    Posting,
    Unbalanced,
    balanced,
    balances,
    department_of,
    order_confirmed_postings,
    payout,
    payout_postings,
    redemption_postings,
    refund_paid_postings,
    refund_postings,
)
from shared.money import percent_of


def test_rule1_order_fee_is_4_percent():
    assert percent_of(2_000_000, 400) == 80_000


def test_rule3_payout_30_coupons():
    p = payout("v1", 30 * 1000)
    assert (p.gross_cents, p.fee_cents, p.net_cents) == (30_000, 1_200, 28_800)


def test_rule4_fund_is_1_percent_of_face_value():
    postings = order_confirmed_postings(2_000_000, 80_000, "69")
    assert Posting(Account.FUND, -20_000, "69") in postings
    assert Posting(Account.FEE_INCOME, -60_000) in postings


def test_rule4_a_towns_order_feeds_its_departments_fund():
    town = order_confirmed_postings(2_000_000, 80_000, "33063")  # Bordeaux
    assert Posting(Account.FUND, -20_000, "33") in town


@pytest.mark.parametrize(
    "code, department",
    [
        ("33", "33"),  # a department is its own
        ("33063", "33"),  # Bordeaux
        ("01053", "01"),  # Bourg-en-Bresse: the leading zero kept
        ("2A", "2A"),  # Corse-du-Sud
        ("2A004", "2A"),  # Ajaccio
        ("2B033", "2B"),  # Bastia
        ("971", "971"),  # Guadeloupe
        ("97411", "974"),  # Saint-Denis (La Réunion): overseas, 3 characters
        ("97611", "976"),  # Mamoudzou (Mayotte)
        ("98735", "987"),  # Papeete: a collectivity's 3 characters alike
        (" 2a004 ", "2A"),  # as typed
        ("", ""),
    ],
)
def test_department_of_a_territory_code(code, department):
    assert department_of(code) == department


def test_rule5_refund_50_50_and_fee_kept():
    postings = refund_postings(1000, {"sponsor:s1": 1, "state": 1})
    assert Posting(Account.REFUND_PAYABLE, -500, "sponsor:s1") in postings
    assert Posting(Account.REFUND_PAYABLE, -500, "state") in postings


def _totals(postings):
    b = balances(postings)
    by_account = {}
    for (account, _), cents in b.items():
        by_account[account] = by_account.get(account, 0) + cents
    return by_account


def test_rule6_conservation_one_coupon_redeemed():
    journal = order_confirmed_postings(1000, 40, "69")
    journal += redemption_postings(1000, "v1")
    journal += payout_postings(payout("v1", 1000))
    t = _totals(journal)
    assert sum(t.values()) == 0
    assert t["bank"] == 1040 - 960  # in 10.40, venue paid 9.60
    assert -t["fee_income"] - t["cooperation_fund"] == 80  # operator 0.80 ...
    assert t["cooperation_fund"] == -10  # ... of which fund 0.10
    assert t["coupon_liability"] == 0 and t["venue_payable"] == 0


def test_rule6_conservation_one_coupon_expired():
    journal = order_confirmed_postings(1000, 40, "69")
    journal += refund_postings(1000, {"sponsor:s1": 1})
    journal += refund_paid_postings("sponsor:s1", 1000)
    t = _totals(journal)
    assert t["bank"] == 40  # in 10.40, funders got 10.00 back
    assert -t["fee_income"] - t["cooperation_fund"] == 40
    assert t["cooperation_fund"] == -10
    assert t["coupon_liability"] == 0 and t["refund_payable"] == 0


def test_rule7_rounding_once_per_statement_not_per_coupon():
    # 3 coupons of 0.35 EUR: per coupon 4 % = 1.4 c (-> 1 c each, 3 c); on the total, 4.2 c -> 4 c
    assert payout("v1", 3 * 35).fee_cents == 4
    assert payout("v1", 1_263).fee_cents == 51  # 50.52 c rounds up
    assert payout("v1", 1_262).fee_cents == 50  # 50.48 c rounds down
    p = payout("v1", 1_263)
    assert p.fee_cents + p.net_cents == p.gross_cents


def test_unbalanced_entry_refused():
    with pytest.raises(Unbalanced):
        balanced([Posting(Account.BANK, 1), Posting(Account.LIABILITY, -2)])
