"""Settlement without a broker: events into the ledger, settlement and expiry runs, worked
examples of the money rules 3-7 (docs/rules.md) read back from the ledger, idempotency of handlers and runs."""

from datetime import UTC, date, datetime

import pytest

from services.settlement import api
from services.settlement.settings import Settings
from shared import times
from shared.contracts.errors_settlement import DocumentNotFound, PeriodNotOver, RunInProgress
from tests import settlement_support as ev

S = ev.SETTINGS
TODAY = date(2028, 6, 1)


@pytest.fixture
def repo(mongo_config):
    return ev.repository(mongo_config)


def setup_order(repo, coupons=10, state_rate_bp=0, face_value_cents=1000, **kwargs):
    confirmed = ev.order_confirmed(
        coupons=coupons, state_rate_bp=state_rate_bp, face_value_cents=face_value_cents, **kwargs
    )
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    return confirmed, issued


def run(repo, period_end="2026-03-31"):
    return api.settlement_run(repo, S, date.fromisoformat(period_end), today=TODAY)


def expire(repo, as_of="2027-03-01"):
    return api.expiry_run(repo, S, date.fromisoformat(as_of), today=TODAY)


def balance_of(repo, account, sub=""):
    return next(
        (
            a["balance_cents"]
            for a in api.ledger_balance(repo)["accounts"]
            if a["account"] == account and a["sub"] == sub
        ),
        0,
    )


# -- rule 6, the worked example of one 10 EUR coupon -----------------------------------------
def test_one_coupon_redeemed_venue_960_operator_80_of_which_fund_10(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=1)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)))
    run(repo)
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 1040
    assert balance["money_out_cents"] == 960  # the venue
    assert balance["fee_income_cents"] + balance["liabilities"]["cooperation_fund_cents"] == 80
    assert balance["liabilities"]["cooperation_fund_cents"] == 10
    assert balance["liabilities"]["coupon_liability_cents"] == 0
    assert balance["balanced"]


def test_one_coupon_expired_funders_1000_operator_40_of_which_fund_10(repo):
    setup_order(repo, coupons=1)
    expire(repo)
    run(repo, "2027-03-01")  # pays the refund
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 1040
    assert balance["money_out_cents"] == 1000  # back to the sponsor
    assert balance["fee_income_cents"] == 30
    assert balance["liabilities"]["cooperation_fund_cents"] == 10
    assert balance["liabilities"]["refund_payable_cents"] == 0
    assert balance["balanced"]


# -- rule 3: payout = face value - 4 % --------------------------------------------------------
def test_thirty_coupons_pay_288_with_a_fee_of_12(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=30)
    coupons = ev.all_coupons(issued)
    for i in range(0, 30, 10):  # three redemptions of ten coupons
        api.on_coupons_redeemed(repo, ev.redeemed(issued, coupons[i : i + 10]))
    done = run(repo)
    assert [(p["gross_cents"], p["fee_cents"], p["net_cents"]) for p in done["payouts"]] == [
        (30_000, 1_200, 28_800)
    ]
    assert done["totals"] == {"gross_cents": 30_000, "fee_cents": 1_200, "net_cents": 28_800}
    snapshot, lines = api.statement(repo, done["id"], "ven_00000000000000000001")
    assert snapshot["net_cents"] == 28_800 and snapshot["reference"].startswith("REL-")
    assert sum(line["amount_cents"] for line in lines) == 30_000


# -- rule 7: rounded once, on the statement ----------------------------------------------------
def test_fee_rounded_once_per_statement_not_per_coupon(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=2, face_value_cents=1012)
    coupons = ev.all_coupons(issued)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, coupons[:1]))
    api.on_coupons_redeemed(repo, ev.redeemed(issued, coupons[1:]))
    (payout,) = run(repo)["payouts"]
    # 20.24 EUR x 4 % = 0.8096 -> 0.81 once; per coupon it would be 2 x 0.40 = 0.80
    assert (payout["gross_cents"], payout["fee_cents"], payout["net_cents"]) == (2024, 81, 1943)


# -- rule 5: refunds pro rata, 50/50 on a co-funded order ---------------------------------------
def test_cofunded_unused_coupons_refunded_half_to_the_state(repo):
    api.on_venue_changed(repo, ev.venue())
    confirmed, issued = setup_order(repo, coupons=10, state_rate_bp=5000)
    # rule 2: the State paid half the face value, the sponsor the other half and the 4 % fee
    assert api.ledger_balance(repo)["money_in_by_payer"] == [
        {"payer": "sponsor:spo_00000000000000000001", "paid_cents": 5400},
        {"payer": "state", "paid_cents": 5000},
    ]
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:7]))
    done = expire(repo)
    assert done["coupon_count"] == 3 and done["refunded_cents"] == 3000
    notes = {n["funder_id"]: n for n in done["credit_notes"]}
    assert notes["state"]["amount_cents"] == 1500
    assert notes[f"sponsor:{confirmed['sponsor_id']}"]["amount_cents"] == 1500
    note = api.credit_note(repo, done["id"], "state")
    assert note["reference"].startswith("AV-") and note["lines"][0]["share_bp"] == 5000
    paid = run(repo, "2027-03-01")
    assert sorted((r["funder_id"], r["amount_cents"]) for r in paid["refunds"]) == [
        ("sponsor:spo_00000000000000000001", 1500),
        ("state", 1500),
    ]
    assert balance_of(repo, "refund_payable", "state") == 0


def test_odd_cent_of_a_refund_goes_to_one_funder_never_lost(repo):
    confirmed, issued = setup_order(repo, coupons=1, face_value_cents=1001, state_rate_bp=5000)
    done = expire(repo)
    assert sum(n["amount_cents"] for n in done["credit_notes"]) == 1001


# -- grace month, cancelled booklets, 30-day alerts ---------------------------------------------
def test_expiry_waits_for_the_grace_month_and_refunds_cancelled_booklets_at_once(repo):
    _, issued = setup_order(repo, coupons=10)  # two booklets of 5, valid until 2027-01-15
    api.on_booklet_cancelled(repo, ev.booklet_cancelled(issued, issued["booklets"][0]))
    early = expire(repo, "2027-02-01")  # in the grace month: only the cancelled booklet
    assert (early["coupon_count"], early["cancelled_coupon_count"]) == (5, 5)
    later = expire(repo, "2027-02-16")
    assert (later["coupon_count"], later["cancelled_coupon_count"]) == (5, 0)
    assert expire(repo, "2027-03-01")["coupon_count"] == 0  # nothing twice


def test_activation_restarts_validity(repo):
    _, issued = setup_order(repo, coupons=10)
    api.on_booklet_activated(
        repo, ev.booklet_activated(issued, issued["booklets"][0], datetime(2026, 6, 1, tzinfo=UTC))
    )
    done = expire(repo, "2027-03-01")
    assert done["coupon_count"] == 5  # the activated booklet runs until 2027-06-01


def test_expiry_alerts_count_booklets_ending_within_30_days(repo):
    api.on_venue_changed(repo, ev.venue())
    confirmed, issued = setup_order(repo, coupons=15)  # 3 booklets, valid until 2027-01-15
    api.on_booklet_activated(
        repo, ev.booklet_activated(issued, issued["booklets"][0], datetime(2026, 1, 20, tzinfo=UTC))
    )
    api.on_coupons_redeemed(repo, ev.redeemed(issued, issued["booklets"][1]["coupons"][:1]))
    alerts = api.expiry_alerts(repo, confirmed["sponsor_id"], date(2026, 12, 20))
    assert alerts["totals"] == {"issued": 2, "handed_out": 0, "not_handed_out": 2, "started": 1}
    later = api.expiry_alerts(repo, confirmed["sponsor_id"], date(2026, 12, 25))
    assert later["totals"]["handed_out"] == 1 and later["totals"]["issued"] == 3


# -- voids, idempotency, re-runs -----------------------------------------------------------------
def test_redelivered_events_write_nothing_twice(repo):
    api.on_venue_changed(repo, ev.venue())
    confirmed, issued = setup_order(repo, coupons=5)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:2])
    for _ in range(3):
        api.on_order_confirmed(repo, confirmed)
        api.on_booklets_issued(repo, issued)
        api.on_coupons_redeemed(repo, event)
    assert repo.entry_count() == 2
    assert run(repo)["totals"]["gross_cents"] == 2000


def test_the_same_cut_off_again_pays_nobody_twice(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=5)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:2]))
    first = run(repo)
    api.on_coupons_redeemed(
        repo, ev.redeemed(issued, ev.all_coupons(issued)[2:3], at=datetime(2026, 3, 20, tzinfo=UTC))
    )
    again = run(repo)
    assert again["id"] == first["id"] and again["payouts"] == first["payouts"]
    assert api.ledger_balance(repo)["money_out_cents"] == 1920
    nxt = run(repo, "2026-04-30")  # the late line goes to the next run
    assert nxt["totals"]["gross_cents"] == 1000


def test_void_before_the_run_drops_the_line_after_the_run_is_refused(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=10)
    coupons = ev.all_coupons(issued)
    first = ev.redeemed(issued, coupons[:2])
    second = ev.redeemed(issued, coupons[2:4])
    api.on_coupons_redeemed(repo, first)
    api.on_coupons_redeemed(repo, second)
    api.on_redemption_voided(repo, ev.voided(first))
    march = run(repo)
    assert march["totals"]["gross_cents"] == 2000
    # too late: the line was paid; the void is refused (no clawback: the coupons stay used)
    api.on_redemption_voided(repo, ev.voided(second, at=datetime(2026, 4, 2, tzinfo=UTC)))
    api.on_coupons_redeemed(
        repo, ev.redeemed(issued, coupons[4:9], at=datetime(2026, 4, 10, tzinfo=UTC))
    )
    april = run(repo, "2026-04-30")
    assert april["totals"]["gross_cents"] == 5000
    _, lines = api.statement(repo, april["id"], "ven_00000000000000000001")
    assert sorted(line["kind"] for line in lines) == ["redemption"]
    balance = api.ledger_balance(repo)
    assert balance["balanced"]
    assert [a["redemption_id"] for a in balance["anomalies"] if a["kind"] == "void_refused"] == [
        second["redemption_id"]
    ]


def test_void_arriving_before_its_redemption_pays_nothing(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=5)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    api.on_redemption_voided(repo, ev.voided(event))
    api.on_coupons_redeemed(repo, event)
    assert run(repo)["payouts"] == []
    assert balance_of(repo, "venue_payable", "ven_00000000000000000001") == 0


def test_venue_without_bank_details_is_carried_forward(repo):
    _, issued = setup_order(repo, coupons=5)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:1]))
    march = run(repo)
    assert march["payouts"] == [] and march["carried_forward"][0]["gross_cents"] == 1000
    api.on_venue_changed(repo, ev.venue())
    assert run(repo, "2026-04-30")["totals"]["net_cents"] == 960


def test_redemption_of_an_expired_coupon_is_disputed_not_paid(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=5)
    expire(repo)
    late = ev.redeemed(issued, ev.all_coupons(issued)[:1], at=datetime(2026, 12, 1, tzinfo=UTC))
    api.on_coupons_redeemed(repo, late)
    assert repo.get_payable(late["redemption_id"])["status"] == "disputed"
    assert run(repo, "2027-03-01")["totals"]["gross_cents"] == 0
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 0


# -- orders cancelled: before confirmation only ------------------------------------------------
def test_order_cancelled_before_confirmation_refunds_what_each_payer_paid(repo):
    confirmed = ev.order_confirmed(coupons=10, state_rate_bp=5000)  # never confirmed
    paid = ev.partial_payments(confirmed, sponsor=5_400, state=2_000)
    cancelled = ev.order_cancelled(confirmed, payments=paid)
    api.on_order_cancelled(repo, S, cancelled)
    api.on_order_cancelled(repo, S, cancelled)  # redelivered
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 7_400
    assert balance["liabilities"]["refund_payable_cents"] == 7_400
    assert balance["fee_income_cents"] == 0
    assert balance["liabilities"]["cooperation_fund_cents"] == 0
    assert balance["balanced"] and balance["anomalies"] == []
    done = run(repo)
    # the State is paid back; the sponsor's refund waits for its bank details (an order never
    # confirmed: settlement never heard of them), shown in the run
    assert [(r["funder_id"], r["amount_cents"]) for r in done["refunds"]] == [("state", 2_000)]
    assert [(r["funder_id"], r["amount_cents"]) for r in repo.open_refunds()] == [
        ("sponsor:spo_00000000000000000001", 5_400)
    ]
    notes, _ = api.credit_notes(repo)  # the invoice corrected: one credit note per payer, once
    assert sorted((n["funder"]["funder_id"], n["total_cents"], n["reason"]) for n in notes) == [
        ("sponsor:spo_00000000000000000001", 5_400, "order_cancelled"),
        ("state", 2_000, "order_cancelled"),
    ]
    assert notes[0]["lines"][0]["invoice_reference"] == "INV-2026-000001"
    assert api.ledger_balance(repo)["balanced"]


def test_a_confirmed_order_is_not_cancelled_no_money_moves(repo, caplog):
    """No cancellation once confirmed: a late, replayed or forged ``order_cancelled`` for an
    order settlement knows as confirmed moves no money; logged at ERROR, recorded, listed."""
    confirmed = ev.order_confirmed(coupons=10, state_rate_bp=5000)
    api.on_order_confirmed(repo, confirmed)
    before = api.ledger_balance(repo)
    entries = repo.entry_count()
    for _ in range(2):  # and redelivered
        api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))
    assert repo.entry_count() == entries
    balance = api.ledger_balance(repo)
    assert balance["accounts"] == before["accounts"] and balance["balanced"]
    assert balance["liabilities"]["refund_payable_cents"] == 0
    assert balance["liabilities"]["coupon_liability_cents"] == 10_000
    assert api.credit_notes(repo) == ([], 0) and repo.open_refunds() == []
    order = repo.get_order(confirmed["order_id"])
    assert order["status"] == "confirmed"
    assert order["cancel_refused_at"] == datetime(2026, 1, 11, tzinfo=UTC)
    assert order["cancel_refused_reason"] == "confirmed"
    assert [(a["kind"], a["order_id"]) for a in balance["anomalies"]] == [
        ("cancellation_refused", confirmed["order_id"])
    ]
    refused = [r for r in caplog.records if "cancellation refused" in r.getMessage()]
    assert refused and all(r.levelname == "ERROR" for r in refused)


def test_a_cancellation_after_the_booklets_is_refused_even_before_the_confirmation(repo):
    """Only a confirmed order is issued: booklets (or a redemption) heard of before its
    confirmation make a cancellation arriving then late too."""
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)  # its confirmation is still on its way
    api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))
    assert repo.get_order(confirmed["order_id"])["cancel_refused_reason"] == "coupons_known"
    api.on_order_confirmed(repo, confirmed)
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 5_200 and balance["balanced"]
    assert balance["liabilities"]["refund_payable_cents"] == 0
    assert balance["liabilities"]["coupon_liability_cents"] == 5_000


def test_cancellation_arriving_before_confirmation_books_nothing_twice(repo, caplog):
    """A stream where ``order_cancelled`` comes first (ordering no longer sends it after a
    confirmation; a reordered or forged stream could): the cancellation is honoured, what was
    paid is refunded; the later confirmation is refused (ERROR, recorded); the order's coupons,
    if any appear, are never paid nor refunded again."""
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=10)
    api.on_order_cancelled(repo, S, ev.order_cancelled(confirmed))
    api.on_order_confirmed(repo, confirmed)
    api.on_order_confirmed(repo, confirmed)  # redelivered
    balance = api.ledger_balance(repo)
    assert balance["money_in_cents"] == 10_400
    assert balance["liabilities"]["refund_payable_cents"] == 10_400
    assert balance["liabilities"]["coupon_liability_cents"] == 0
    assert balance["liabilities"]["cooperation_fund_cents"] == 0
    assert repo.get_order(confirmed["order_id"])["confirm_refused_at"] is not None
    assert any(
        r.levelname == "ERROR" and "confirmation refused" in r.getMessage() for r in caplog.records
    )
    # booklets printed anyway, a coupon redeemed, the rest expired: nothing more moves
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    redemption = ev.redeemed(issued, ev.all_coupons(issued)[:3])
    api.on_coupons_redeemed(repo, redemption)
    assert repo.get_payable(redemption["redemption_id"])["status"] == "disputed"
    assert run(repo)["payouts"] == []
    assert expire(repo)["refunded_cents"] == 0
    balance = api.ledger_balance(repo)
    assert balance["money_out_cents"] == 0  # nothing paid to the venue, nothing refunded twice
    assert balance["liabilities"]["refund_payable_cents"] == 10_400  # the refund, once
    assert balance["liabilities"]["coupon_liability_cents"] == 0
    assert balance["balanced"], balance["invariants"]
    kinds = sorted(a["kind"] for a in balance["anomalies"])
    assert kinds == ["confirmation_refused", "coupons_of_cancelled_order", "redemption_disputed"]


# -- rule 4: the cooperation fund, per department, stated and paid by runs ---------------------
FUND_IBAN = "FR7610107001011234567890129"
WITH_FUND = Settings(cooperation_fund_iban=FUND_IBAN, cooperation_fund_name="Fonds APTIC")


def fund_orders(repo):
    """Three orders: the department of Gironde (33), the town of Bordeaux (33063), the town
    of Ajaccio (2A004): 100.00, 200.00 and 50.00 of face value."""
    for coupons, territory in ((10, "33"), (20, "33063"), (5, "2A004")):
        setup_order(repo, coupons=coupons, territory=territory)


def test_the_fund_is_kept_per_department_a_town_feeds_its_department(repo):
    fund_orders(repo)
    assert api.ledger_balance(repo)["cooperation_fund"] == [
        {"territory": "2A", "department": "2A", "balance_cents": 50},
        {"territory": "33", "department": "33", "balance_cents": 300},
    ]


def test_without_a_fund_account_a_run_states_the_contributions_and_keeps_them(repo):
    api.on_venue_changed(repo, ev.venue())
    fund_orders(repo)
    _, issued = setup_order(repo, coupons=5, territory="33")  # 50.00 more for 33
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:3]))
    done = run(repo)
    assert [
        (f["department"], f["contributions_cents"], f["order_count"], f["transferred_cents"])
        for f in done["fund_contributions"]
    ] == [("2A", 50, 1, 0), ("33", 350, 3, 0)]
    assert done["fund_contributions_total_cents"] == 400 and done["fund_transferred_cents"] == 0
    # the run's own fee income: 4 % of 400.00 ordered, less the fund's 1 %, + 4 % of 30.00 paid
    assert done["fee_income"] == {
        "order_fees_cents": 1_600 - 400,
        "encashment_fees_cents": 120,
        "total_cents": 1_320,
    }
    assert api.sepa_transfers(done) == [
        t for t in api.sepa_transfers(done) if not t["end_to_end_id"].startswith("FDS-")
    ]
    snapshot, lines = api.fund_statement(repo, done["id"], "33")
    assert snapshot["reference"].startswith("FDS-2026-")
    assert (snapshot["contributions_cents"], snapshot["held_cents"]) == (350, 350)
    assert snapshot["account"] is None and not snapshot["account_configured"]
    assert sorted(line["territory"] for line in lines) == ["33", "33", "33063"]
    assert balance_of(repo, "cooperation_fund", "33") == -350  # kept, in the ledger
    # the next run states only what was confirmed since
    setup_order(repo, coupons=10, territory="33318")  # Pessac
    april = run(repo, "2026-04-30")
    assert [
        (f["department"], f["contributions_cents"], f["held_cents"])
        for f in april["fund_contributions"]
    ] == [("33", 100, 450)]
    assert april["fee_income"]["order_fees_cents"] == 300


def test_with_a_fund_account_a_run_transfers_the_contributions_per_department(repo):
    fund_orders(repo)
    march = run(repo)  # no account yet: stated, kept
    setup_order(repo, coupons=10, territory="2B033")  # Bastia, after the first run
    april = api.settlement_run(repo, WITH_FUND, date(2026, 4, 30), today=TODAY)
    rows = {f["department"]: f for f in april["fund_contributions"]}
    # this run's contributions and those the first run kept, per department
    assert {d: (r["contributions_cents"], r["transferred_cents"]) for d, r in rows.items()} == {
        "2A": (0, 50),
        "2B": (100, 100),
        "33": (0, 300),
    }
    assert april["fund_transferred_cents"] == 450
    fund_lines = [t for t in api.sepa_transfers(april) if t["iban"] == FUND_IBAN]
    assert sorted((t["amount_cents"], t["end_to_end_id"]) for t in fund_lines) == sorted(
        (r["transferred_cents"], r["statement_reference"]) for r in rows.values()
    )
    assert all(t["name"] == "Fonds APTIC" for t in fund_lines)
    snapshot, _ = api.fund_statement(repo, april["id"], "33")
    assert snapshot["earlier_transferred_cents"] == 300 and snapshot["account"]["iban"] == FUND_IBAN
    balance = api.ledger_balance(repo)
    assert [f["balance_cents"] for f in balance["cooperation_fund"]] == [0, 0, 0]
    assert balance["money_out_cents"] == 450 and balance["balanced"]
    # once: the same run again, or the next, transfers nothing more
    assert api.settlement_run(repo, WITH_FUND, date(2026, 4, 30), today=TODAY) == april
    may = api.settlement_run(repo, WITH_FUND, date(2026, 5, 31), today=TODAY)
    assert may["fund_contributions"] == [] and may["fund_transferred_cents"] == 0
    with pytest.raises(DocumentNotFound):
        api.fund_statement(repo, march["id"], "2B")


def test_a_bad_fund_iban_stops_the_service_at_start():
    with pytest.raises(ValueError, match="COOPERATION_FUND_IBAN"):
        Settings(cooperation_fund_iban="FR76300060000112345678901")
    assert Settings().fund_account() is None


# -- guards ---------------------------------------------------------------------------------------
def test_a_cut_off_in_the_future_is_refused(repo):
    with pytest.raises(PeriodNotOver):
        api.settlement_run(repo, S, date(2026, 4, 1), today=date(2026, 3, 31))
    with pytest.raises(PeriodNotOver):
        api.expiry_run(repo, S, date(2026, 4, 1), today=date(2026, 3, 31))


def test_one_run_at_a_time(repo):
    assert repo.acquire_lock(api.RUN_LOCK, "SR-other", times.now(), 60)
    with pytest.raises(RunInProgress):
        run(repo)
    repo.release_lock(api.RUN_LOCK, "SR-other")
    assert run(repo)["status"] == "completed"


def test_progress_is_reported(repo):
    api.on_venue_changed(repo, ev.venue())
    _, issued = setup_order(repo, coupons=5)
    for coupon in ev.all_coupons(issued):
        api.on_coupons_redeemed(repo, ev.redeemed(issued, [coupon]))
    seen = []
    done = api.settlement_run(
        repo, S, date(2026, 3, 31), today=TODAY, progress=lambda *a: seen.append(a)
    )
    assert len(seen) == 5 and done["progress"]["done"] == 5
