"""Issue 10: no cancellation once confirmed, held by settlement whatever the order of events, and
the ledger's invariants (``GET /ledger/balance``) that prove it.

The reproduction: a 10-coupon co-funded order confirmed (10,400 c in), then cancelled anyway,
its booklets issued, 3 coupons redeemed, a settlement run, an expiry run past validity and grace.
Before the fix settlement refunded the 10,400 c at the cancellation, paid the venue 2,880 c and
queued 7,000 c of expiry refunds: 20,280 c out for 10,400 c in, the coupon liability at
-10,000 c, and the balance still said ``balanced: true``.

Then one test per invariant: a journal that breaks it, written directly in the store, is
reported with the accounts, orders or coupons at fault (each check can fail), and the clean case.
"""

import itertools
from datetime import UTC, date, datetime

import pytest

from services.settlement import api
from services.settlement.domain import Account, Posting
from tests import settlement_support as ev

S = ev.SETTINGS
TODAY = date(2028, 6, 1)
VENUE = "ven_00000000000000000001"


@pytest.fixture
def repo(mongo_config):
    return ev.repository(mongo_config)


def report(balance):
    return {i["name"]: i for i in balance["invariants"]}


def paid_or_owed(balance):
    """Money out, paid or owed: bank credits, refunds queued, venues owed."""
    held = balance["liabilities"]
    return balance["money_out_cents"] + held["refund_payable_cents"] + held["venue_payable_cents"]


# -- the reproduction -------------------------------------------------------------------------------
def test_a_confirmed_order_cancelled_anyway_pays_out_no_more_than_it_received(repo):
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=10, state_rate_bp=5000)  # 10,000 face + 400 fee
    api.on_order_confirmed(repo, confirmed)
    api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))  # late, replayed or forged
    issued = ev.booklets_issued(confirmed)  # issuance started at the confirmation
    api.on_booklets_issued(repo, issued)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:3]))
    march = api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)
    expiry = api.expiry_run(repo, S, date(2027, 3, 1), today=TODAY)  # validity + grace over

    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 10_400
    # before the fix: 10,400 refunded + 2,880 paid + 7,000 queued = 20,280 out for 10,400 in
    assert paid_or_owed(balance) <= balance["money_in_cents"], balance
    assert balance["liabilities"]["coupon_liability_cents"] == 0  # was -10,000
    assert balance["money_in_by_payer"] == [
        {"payer": "sponsor:spo_00000000000000000001", "paid_cents": 5_400},
        {"payer": "state", "paid_cents": 5_000},
    ]
    # the venue: 3 x 10.00 less 4 % once on the statement; nothing refunded at the cancellation
    assert march["totals"] == {"gross_cents": 3_000, "fee_cents": 120, "net_cents": 2_880}
    assert march["refunds"] == []
    # the 7 coupons left: refunded once, pro rata, at expiry
    assert (expiry["coupon_count"], expiry["refunded_cents"]) == (7, 7_000)
    assert sorted((n["funder_id"], n["amount_cents"]) for n in expiry["credit_notes"]) == [
        ("sponsor:spo_00000000000000000001", 3_500),
        ("state", 3_500),
    ]
    assert paid_or_owed(balance) == 2_880 + 7_000
    assert balance["balanced"], balance["invariants"]
    assert all(i["holds"] and i["violations"] == [] for i in balance["invariants"])
    assert [(a["kind"], a["order_id"]) for a in balance["anomalies"]] == [
        ("cancellation_refused", confirmed["order_id"])
    ]

    # the refunds paid by the next run: 9,880 c out, 520 c kept (fees 400 + 120, of which the
    # fund's 100 c for department 33)
    api.settlement_run(repo, S, date(2027, 3, 1), today=TODAY)
    balance = api.ledger_balance(repo)
    assert balance["money_out_cents"] == 9_880
    assert balance["fee_income_cents"] + balance["liabilities"]["cooperation_fund_cents"] == 520
    assert balance["cooperation_fund"] == [
        {"territory": "33", "department": "33", "balance_cents": 100}
    ]
    assert balance["balanced"]


EVENTS = ("confirmed", "cancelled", "issued", "redeemed")


@pytest.mark.parametrize("order", list(itertools.permutations(EVENTS)), ids="-".join)
def test_whatever_the_order_of_events_no_more_goes_out_than_came_in(repo, order):
    """The four events of an order in every order, each delivered twice: either the
    confirmation or the cancellation moves money, never both; at the end (a run, an expiry
    run, a run) every invariant holds."""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=10, state_rate_bp=5000)
    issued = ev.booklets_issued(confirmed)
    redemption = ev.redeemed(issued, ev.all_coupons(issued)[:3])
    deliver = {
        "confirmed": lambda: api.on_order_confirmed(repo, confirmed),
        "cancelled": lambda: api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed)),
        "issued": lambda: api.on_booklets_issued(repo, issued),
        "redeemed": lambda: api.on_coupons_redeemed(repo, redemption),
    }
    for name in order:
        deliver[name]()
        deliver[name]()
    api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)
    api.expiry_run(repo, S, date(2027, 3, 1), today=TODAY)
    api.settlement_run(repo, S, date(2027, 3, 1), today=TODAY)
    balance = api.ledger_balance(repo)
    assert balance["balanced"], balance["invariants"]
    assert balance["money_in_cents"] == 10_400
    assert paid_or_owed(balance) <= 10_400
    honoured = order.index("cancelled") < min(order.index(e) for e in EVENTS if e != "cancelled")
    kinds = {a["kind"] for a in balance["anomalies"]}
    if honoured:  # nothing told settlement of a confirmation yet: refunded, nothing else paid
        assert balance["liabilities"]["refund_payable_cents"] == 5_400  # the sponsor's, waiting
        assert balance["money_out_cents"] == 5_000  # the State's
        assert repo.get_payable(redemption["redemption_id"])["status"] == "disputed"
        assert {"confirmation_refused", "redemption_disputed"} <= kinds
    else:  # known confirmed (or issued): the cancellation moves nothing
        assert balance["money_out_cents"] == 2_880 + 7_000
        assert "cancellation_refused" in kinds


@pytest.mark.parametrize("known", [False, True], ids=["order_unknown", "order_document_known"])
def test_a_cancellation_committed_during_a_redemption_is_seen_by_it(repo, known):
    """A redemption and a cancellation at once: the redemption's transaction marks the order
    (``coupons_known``) before it books anything; the cancellation is one conditional update
    of the same document. A cancellation that commits after the transaction began makes the
    transaction's write conflict: it runs again, sees the cancellation, and pays nothing."""
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    redemption = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    if known:  # the order's document exists (here: a refused event recorded on it earlier)
        repo.db.orders.insert_one({"order_id": confirmed["order_id"]})
    attempts = []

    def book(tx):
        tx.get_order(confirmed["order_id"])  # the transaction's snapshot is taken
        if not attempts:  # the cancellation commits meanwhile, once
            api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))
        attempts.append(1)
        api._book_redemption(tx, redemption)

    repo.in_transaction(book)
    assert len(attempts) == 2  # run again after the write conflict
    assert repo.get_order(confirmed["order_id"])["status"] == "cancelled"
    assert repo.get_payable(redemption["redemption_id"])["status"] == "disputed"
    assert not repo.has_entry(f"redeemed:{redemption['redemption_id']}")
    assert api.ledger_balance(repo)["balanced"]


def test_a_redemption_booked_first_makes_a_later_cancellation_refused(repo):
    confirmed = ev.order_confirmed(coupons=5)  # its confirmation still on its way
    issued = ev.booklets_issued(confirmed)
    redemption = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    api.on_coupons_redeemed(repo, redemption)
    api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))
    assert repo.get_order(confirmed["order_id"])["cancel_refused_reason"] == "coupons_known"
    assert not repo.has_entry(f"order_cancelled:{confirmed['order_id']}")
    api.on_order_confirmed(repo, confirmed)
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 5_200 and balance["balanced"]


# -- the invariants, each able to fail ------------------------------------------------------------
def scheme(repo, coupons=5):
    """A clean ledger: an order confirmed and issued, 2 coupons redeemed and paid."""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=coupons)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:2]))
    api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)
    return confirmed, issued


def forge(repo, key, kind, postings, **ref):
    """An entry written straight into the journal, as no handler would."""
    assert repo.post(key, kind, postings, datetime(2026, 5, 1, tzinfo=UTC), ref)


def test_the_clean_case_every_invariant_holds(repo):
    scheme(repo)
    balance = api.ledger_balance(repo)
    assert balance["balanced"]
    assert [(i["name"], i["holds"], i["violations"]) for i in balance["invariants"]] == [
        ("journal_balanced", True, []),
        ("no_negative_liability", True, []),
        ("order_money_out_within_money_in", True, []),
        ("coupon_paid_out_once", True, []),
    ]
    assert balance["anomalies"] == []


def test_journal_balanced_names_an_entry_that_does_not_sum_to_zero(repo):
    scheme(repo)
    repo.db.entries.insert_one(
        {
            "key": "forged:1",
            "kind": "forged",
            "at": datetime(2026, 5, 1, tzinfo=UTC),
            "ref": {},
            "postings": [{"account": "bank", "sub": "", "amount_cents": -500}],
        }
    )
    balance = api.ledger_balance(repo)
    assert not balance["balanced"]
    found = report(balance)["journal_balanced"]
    assert not found["holds"]
    assert found["violations"] == [{"entry_key": "forged:1", "amount_cents": -500}]


def test_no_negative_liability_names_the_accounts(repo):
    scheme(repo)
    # the venue paid 5.00 more than it was owed, the fund of 33 paid out 1.00 more than it holds
    forge(
        repo,
        "forged:payout",
        "payout",
        [Posting(Account.VENUE_PAYABLE, 500, VENUE), Posting(Account.BANK, -500)],
    )
    forge(
        repo,
        "forged:fund",
        "fund_paid",
        [Posting(Account.FUND, 150, "33"), Posting(Account.BANK, -150)],
    )
    balance = api.ledger_balance(repo)
    assert not balance["balanced"]
    found = report(balance)["no_negative_liability"]
    assert found["violations"] == [
        {"account": "cooperation_fund", "sub": "33", "amount_cents": -100},
        {"account": "venue_payable", "sub": VENUE, "amount_cents": -500},
    ]
    assert report(balance)["journal_balanced"]["holds"]  # each entry sums to zero


def test_order_money_names_the_order_that_paid_out_more_than_it_received(repo):
    confirmed, _ = scheme(repo)  # 5 coupons: 5,200 c in
    order_id = confirmed["order_id"]
    # a refund of everything (as a cancellation after confirmation did) on top of the payout
    forge(
        repo,
        f"forged:refund:{order_id}",
        "order_cancelled",
        [
            Posting(Account.LIABILITY, 5_000, "", order_id),
            Posting(Account.FEE_INCOME, 150, "", order_id),
            Posting(Account.FUND, 50, "33", order_id),
            Posting(Account.REFUND_PAYABLE, -5_200, "sponsor:x", order_id),
        ],
        order_id=order_id,
    )
    balance = api.ledger_balance(repo)
    assert not balance["balanced"]
    found = report(balance)["order_money_out_within_money_in"]
    assert found["violations"] == [
        {
            "order_id": order_id,
            "money_in_cents": 5_200,
            "money_out_cents": 5_200 + 2_000,
            "refunds_cents": 5_200,
            "venues_cents": 2_000,
        }
    ]
    # the coupon liability of the ledger went negative too: the redeemed coupons, refunded
    negative = report(balance)["no_negative_liability"]["violations"]
    assert {"account": "coupon_liability", "sub": "", "amount_cents": -2_000} in negative


def test_order_money_counts_a_refund_paid_twice(repo):
    confirmed, _ = scheme(repo)
    order_id = confirmed["order_id"]
    api.expiry_run(repo, S, date(2027, 3, 1), today=TODAY)  # 3 coupons: 3,000 c refunded
    api.settlement_run(repo, S, date(2027, 3, 1), today=TODAY)
    forge(
        repo,
        "forged:refund_paid",
        "refund_paid",
        [
            Posting(Account.REFUND_PAYABLE, 3_000, "sponsor:spo_00000000000000000001", order_id),
            Posting(Account.BANK, -3_000),
        ],
    )
    found = report(api.ledger_balance(repo))["order_money_out_within_money_in"]
    assert [
        (v["order_id"], v["refunds_cents"], v["venues_cents"]) for v in found["violations"]
    ] == [(order_id, 6_000, 2_000)]


def test_coupon_paid_out_once_names_a_coupon_paid_to_a_venue_and_refunded(repo):
    confirmed, issued = scheme(repo)
    redeemed = ev.all_coupons(issued)[0]["serial"]
    twice = ev.all_coupons(issued)[1]["serial"]
    # an expiry entry refunding a coupon a venue was paid for, and a second redemption of another
    forge(
        repo,
        "forged:expired",
        "coupons_expired",
        [
            Posting(Account.LIABILITY, 1_000, "", confirmed["order_id"]),
            Posting(Account.REFUND_PAYABLE, -1_000, "state", confirmed["order_id"]),
        ],
        order_id=confirmed["order_id"],
        serials=[redeemed],
    )
    forge(
        repo,
        "forged:redeemed",
        "coupons_redeemed",
        [
            Posting(Account.LIABILITY, 1_000, "", confirmed["order_id"]),
            Posting(Account.VENUE_PAYABLE, -1_000, VENUE, confirmed["order_id"]),
        ],
        serials=[twice],
    )
    balance = api.ledger_balance(repo)
    assert not balance["balanced"]
    assert report(balance)["coupon_paid_out_once"]["violations"] == sorted(
        [
            {"serial": redeemed, "to_venues": 1, "refunded": 1},
            {"serial": twice, "to_venues": 2, "refunded": 0},
        ],
        key=lambda v: v["serial"],
    )


def test_a_void_after_the_run_is_owed_back_not_a_negative_payable(repo):
    """A paid line voided afterwards: the venue owes it back (a receivable), deducted from its
    next payout; no invariant is broken while it waits, nor when its coupons are refunded."""
    confirmed, issued = scheme(repo)
    paid = repo.db.payables.find_one({"kind": "redemption"})
    coupons = [c for c in ev.all_coupons(issued) if c["serial"] in paid["serials"]]
    event = {**ev.redeemed(issued, coupons), "redemption_id": paid["redemption_id"]}
    api.on_redemption_voided(repo, ev.voided(event, at=datetime(2026, 4, 2, tzinfo=UTC)))
    balance = api.ledger_balance(repo)
    assert balance["venue_receivable_cents"] == 2_000 and balance["balanced"]
    assert balance["liabilities"]["venue_payable_cents"] == 0
    third = [c for c in ev.all_coupons(issued) if c["serial"] not in paid["serials"]][:1]
    api.on_coupons_redeemed(repo, ev.redeemed(issued, third, at=datetime(2026, 4, 10, tzinfo=UTC)))
    carried = api.settlement_run(repo, S, date(2026, 4, 30), today=TODAY)
    assert carried["carried_forward"][0]["reason"] == "clawbacks_exceed_redemptions"
    api.expiry_run(repo, S, date(2027, 3, 1), today=TODAY)  # the voided coupons expire
    balance = api.ledger_balance(repo)
    assert balance["liabilities"]["refund_payable_cents"] == 4_000
    assert balance["balanced"], balance["invariants"]
