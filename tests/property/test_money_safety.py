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


def test_a_void_after_the_run_is_refused_the_coupons_are_paid_once(repo):
    """A paid line voided afterwards (the void crossed the run): settlement refuses the void -
    the venue keeps what it was paid, the coupons stay used, the refusal is an anomaly - so a
    second redemption of those coupons elsewhere is disputed, never paid, and an expiry run
    does not refund them. (Before: a clawback freed the coupons, paid again to another venue.)"""
    confirmed, issued = scheme(repo)
    paid = repo.db.payables.find_one({"kind": "redemption"})
    coupons = [c for c in ev.all_coupons(issued) if c["serial"] in paid["serials"]]
    event = {**ev.redeemed(issued, coupons), "redemption_id": paid["redemption_id"]}
    void = ev.voided(event, at=datetime(2026, 4, 2, tzinfo=UTC))
    for _ in range(2):  # redelivered: refused once
        api.on_redemption_voided(repo, void)
    assert repo.get_payable(paid["redemption_id"])["status"] == "settled"
    assert not repo.has_entry(f"voided:{paid['redemption_id']}")
    assert repo.db.payables.count_documents({"kind": "clawback"}) == 0
    balance = api.ledger_balance(repo)
    assert balance["venue_receivable_cents"] == 0 and balance["balanced"]
    refused = [a for a in balance["anomalies"] if a["kind"] == "void_refused"]
    assert [(a["redemption_id"], a["venue_id"]) for a in refused] == [
        (paid["redemption_id"], VENUE)
    ]
    again = ev.redeemed(
        issued, coupons, venue_id="ven_00000000000000000002", at=datetime(2026, 4, 3, tzinfo=UTC)
    )
    api.on_coupons_redeemed(repo, again)
    assert repo.get_payable(again["redemption_id"])["status"] == "disputed"
    april = api.settlement_run(repo, S, date(2026, 4, 30), today=TODAY)
    assert april["payouts"] == []
    api.expiry_run(repo, S, date(2027, 3, 1), today=TODAY)  # the 3 unused coupons only
    balance = api.ledger_balance(repo)
    assert balance["liabilities"]["refund_payable_cents"] == 3_000
    assert balance["liabilities"]["coupon_liability_cents"] == 0
    assert balance["balanced"], balance["invariants"]


# -- whatever the order of events (issue 10's property test found these) -------------------------
def test_a_void_before_its_redemption_waits_for_it_no_payable_goes_negative(repo):
    """The void reaches settlement first: nothing is booked (before, the void's reversal alone
    made the venue's payable a debit); when the redemption arrives both entries are written,
    together, and nothing is owed."""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=5)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    rid = event["redemption_id"]
    api.on_redemption_voided(repo, ev.voided(event))
    assert not repo.has_entry(f"voided:{rid}") and not repo.has_entry(f"redeemed:{rid}")
    balance = api.ledger_balance(repo)
    assert balance["balanced"] and balance["liabilities"]["venue_payable_cents"] == 0
    for _ in range(2):
        api.on_coupons_redeemed(repo, event)
    assert repo.has_entry(f"voided:{rid}") and repo.has_entry(f"redeemed:{rid}")
    assert repo.get_payable(rid)["status"] == "voided"
    assert repo.db.coupons.count_documents({"status": "outstanding"}) == 5
    assert api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)["payouts"] == []
    balance = api.ledger_balance(repo)
    assert balance["balanced"] and balance["liabilities"]["coupon_liability_cents"] == 5_000


def test_a_redemption_before_its_order_confirmation_waits_unpaid(repo):
    """A redemption reaches settlement before ``order_confirmed``: its coupons are taken, its
    line waits (no entry, no payout: no money is in for the order); the confirmation books it
    and the next run pays it. (Before: booked and paid from money not received.)"""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:2])
    rid = event["redemption_id"]
    for _ in range(2):
        api.on_coupons_redeemed(repo, event)
    line = repo.get_payable(rid)
    assert (line["status"], line["waiting_orders"]) == ("waiting", [confirmed["order_id"]])
    assert not repo.has_entry(f"redeemed:{rid}")
    march = api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)
    assert march["payouts"] == []
    assert api.ledger_balance(repo)["balanced"]
    api.on_order_confirmed(repo, confirmed)
    assert repo.get_payable(rid)["status"] == "open" and repo.has_entry(f"redeemed:{rid}")
    api.on_coupons_redeemed(repo, event)  # redelivered once booked: nothing more
    april = api.settlement_run(repo, S, date(2026, 4, 30), today=TODAY)
    assert april["totals"]["gross_cents"] == 2_000
    balance = api.ledger_balance(repo)
    assert balance["balanced"] and balance["liabilities"]["coupon_liability_cents"] == 3_000


def test_a_waiting_redemption_voided_books_nothing_owed(repo):
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    api.on_coupons_redeemed(repo, event)
    api.on_redemption_voided(repo, ev.voided(event))
    assert repo.get_payable(event["redemption_id"])["status"] == "voided"
    api.on_order_confirmed(repo, confirmed)
    assert repo.get_payable(event["redemption_id"])["status"] == "voided"
    assert repo.db.coupons.count_documents({"status": "outstanding"}) == 5
    balance = api.ledger_balance(repo)
    assert balance["balanced"] and balance["liabilities"]["venue_payable_cents"] == 0
    assert balance["liabilities"]["coupon_liability_cents"] == 5_000


def test_a_run_books_a_waiting_redemption_whose_order_was_confirmed_meanwhile(repo):
    """The safety net: a line left waiting although its order is confirmed (a confirmation
    handled while the redemption's transaction was being written) is booked by the next run."""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    api.on_coupons_redeemed(repo, event)
    repo.db.payables.update_one({"id": event["redemption_id"]}, {"$set": {"status": "parked"}})
    api.on_order_confirmed(repo, confirmed)  # does not see the line (hidden above)
    repo.db.payables.update_one({"id": event["redemption_id"]}, {"$set": {"status": "waiting"}})
    run = api.settlement_run(repo, S, date(2026, 3, 31), today=TODAY)
    assert run["totals"]["gross_cents"] == 1_000
    assert api.ledger_balance(repo)["balanced"]


def test_coupons_of_an_order_not_yet_confirmed_are_not_expired_until_it_is(repo):
    """The expiry run meets a cancelled booklet of an order whose confirmation has not reached
    settlement: it leaves its coupons outstanding (before: expired, refunded never); the next
    run after the confirmation expires and refunds them."""
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    booklet = issued["booklets"][0]
    api.on_booklet_cancelled(
        repo, ev.booklet_cancelled(issued, booklet, datetime(2026, 2, 1, tzinfo=UTC))
    )
    first = api.expiry_run(repo, S, date(2026, 2, 2), today=TODAY)
    assert first["coupon_count"] == 0
    assert repo.db.coupons.count_documents({"status": "outstanding"}) == 5
    api.on_order_confirmed(repo, confirmed)
    second = api.expiry_run(repo, S, date(2026, 2, 3), today=TODAY)
    assert (second["coupon_count"], second["refunded_cents"]) == (5, 5_000)
    balance = api.ledger_balance(repo)
    assert balance["liabilities"]["coupon_liability_cents"] == 0
    assert balance["liabilities"]["refund_payable_cents"] == 5_000
    assert balance["balanced"], balance["invariants"]


def test_a_void_refused_by_a_run_that_carries_the_venue_forward_applies_then(repo):
    """The run took the line (so the void was refused) but could not pay the venue (no bank
    details): the line is open again, unpaid, and the void applies."""
    confirmed = ev.order_confirmed(coupons=5)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    api.on_coupons_redeemed(repo, event)
    rid = event["redemption_id"]
    repo.claim_payables("SR-2026-03-31", datetime(2026, 4, 1, tzinfo=UTC))  # a run claims it
    api.on_redemption_voided(repo, ev.voided(event))  # meanwhile: refused
    assert repo.get_payable(rid)["void_refused_at"] is not None
    repo.release_payables("SR-2026-03-31", VENUE)  # its venue carried forward
    api._void_released(repo, VENUE)
    assert repo.get_payable(rid)["status"] == "voided" and repo.has_entry(f"voided:{rid}")
    assert repo.db.coupons.count_documents({"status": "outstanding"}) == 5
    balance = api.ledger_balance(repo)
    assert balance["balanced"] and balance["liabilities"]["venue_payable_cents"] == 0
    assert not [a for a in balance["anomalies"] if a["kind"] == "void_refused"]
