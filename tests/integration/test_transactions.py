"""Transactions on the real server (``Repository.in_transaction``), and settlement's two handlers
that change several documents together: a failure half way leaves nothing behind, and the same
event delivered again books everything exactly once."""

import time
from datetime import UTC, date, datetime
from functools import partial

import eventlet
import pytest
from pymongo.errors import DuplicateKeyError

from services.settlement import api
from services.settlement.store import SettlementRepository
from shared.mongo import SessionDatabase, TransactionAborted
from tests import settlement_support as ev

S = ev.SETTINGS
VENUE = "ven_00000000000000000001"


class Boom(RuntimeError):
    """The failure injected half way through a handler."""


class FailingRepository(SettlementRepository):
    """Fails when the journal entry of ``fail_kind`` is posted, i.e. after every other write of
    the handler; records what the transaction had written by then."""

    fail_kind = None
    seen = None

    def post(self, key, kind, postings, at, ref=None):
        if kind == self.fail_kind:
            rid = ref["redemption_id"]
            FailingRepository.seen = {
                "payable": self.get_payable(rid),
                "clawback": self.get_payable(f"clawback:{rid}"),
                "coupons": {
                    c["serial"]: c["status"] for c in self.db.coupons.find({"redemption_id": rid})
                },
            }
            raise Boom(key)
        return super().post(key, kind, postings, at, ref)


@pytest.fixture
def db(mongo_config):
    return ev.settlement_db(mongo_config)


@pytest.fixture
def repo(db):
    return SettlementRepository(db)


def failing(db, kind):
    bad = FailingRepository(db)
    bad.fail_kind = kind
    FailingRepository.seen = None
    return bad


def setup_order(repo, coupons=5):
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=coupons)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    return confirmed, issued


def coupons_state(repo, serials):
    return {
        doc["serial"]: (doc["status"], doc.get("redemption_id"))
        for doc in repo.db.coupons.find({"serial": {"$in": list(serials)}})
    }


def serials_of(event):
    return [c["serial"] for c in event["coupons"]]


def balance_of(repo, account, sub=""):
    return next(
        (
            a["balance_cents"]
            for a in api.ledger_balance(repo)["accounts"]
            if a["account"] == account and a["sub"] == sub
        ),
        0,
    )


def journal(repo):
    return sorted(doc["key"] for doc in repo.db.entries.find({}, {"key": 1}))


# -- the proxy -----------------------------------------------------------------------------------
def test_every_call_carries_the_session_and_an_aborted_transaction_leaves_nothing(repo):
    repo.db.create_collection("scratch")

    def work(tx):
        assert isinstance(tx.db, SessionDatabase) and isinstance(tx, SettlementRepository)
        tx.db.scratch.insert_one({"k": 1})
        tx.db["scratch"].update_one({"k": 2}, {"$setOnInsert": {"n": 1}}, upsert=True)
        # the transaction sees its own writes; outside it, nobody does yet
        assert tx.db.scratch.count_documents({}) == 2
        assert sorted(tx.db.scratch.distinct("k")) == [1, 2]
        assert repo.db.scratch.count_documents({}) == 0
        raise Boom("half way")

    with pytest.raises(Boom):
        repo.in_transaction(work)
    assert repo.db.scratch.count_documents({}) == 0

    def commit(tx):
        tx.db.scratch.insert_many([{"k": 3}, {"k": 4}])
        tx.db.scratch.delete_one({"k": 4})
        return [d["k"] for d in tx.db.scratch.find({}, {"_id": 0})]

    assert repo.in_transaction(commit) == [3]
    assert [d["k"] for d in repo.db.scratch.find({}, {"_id": 0})] == [3]


def test_calls_a_transaction_refuses_are_not_offered_and_nesting_joins_the_outer(repo):
    def work(tx):
        with pytest.raises(AttributeError):
            tx.db.entries.estimated_document_count()
        with pytest.raises(AttributeError):
            tx.db.entries.create_index("at")
        tx.db.locks.insert_one({"name": "outer"})
        tx.in_transaction(lambda inner: inner.db.locks.insert_one({"name": "inner"}))
        raise Boom("both go")

    with pytest.raises(Boom):
        repo.in_transaction(work)
    assert repo.db.locks.count_documents({}) == 0


def test_a_failed_write_caught_inside_a_transaction_stops_it_at_once(repo):
    repo.db.entries.insert_one({"key": "taken"})

    def insert_or_ignore(tx):  # the pattern a transaction cannot run
        try:
            tx.db.entries.insert_one({"key": "taken"})
        except DuplicateKeyError:
            pass
        tx.db.entries.insert_one({"key": "other"})

    started = time.monotonic()
    with pytest.raises(TransactionAborted) as raised:
        repo.in_transaction(insert_or_ignore)
    assert isinstance(raised.value.error, DuplicateKeyError)
    assert time.monotonic() - started < 10  # not with_transaction's 120 s of retries
    assert repo.db.entries.count_documents({"key": "other"}) == 0


# -- coupons_redeemed: all or nothing --------------------------------------------------------------
def test_a_failure_in_the_middle_of_a_redemption_leaves_nothing_then_redelivery_books_once(
    repo, db
):
    _, issued = setup_order(repo)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:2])
    rid, serials = event["redemption_id"], serials_of(event)
    before = journal(repo)

    with pytest.raises(Boom):
        api.on_coupons_redeemed(failing(db, "coupons_redeemed"), event)
    # the payable and the coupons had been written in the transaction when it failed
    seen = FailingRepository.seen
    assert seen["payable"]["status"] == "open"
    assert seen["coupons"] == dict.fromkeys(serials, "redeemed")
    # none of it is left
    assert repo.get_payable(rid) is None
    assert coupons_state(repo, serials) == dict.fromkeys(serials, ("outstanding", None))
    assert journal(repo) == before

    for _ in range(2):  # delivered again (and once more): booked exactly once
        api.on_coupons_redeemed(repo, event)
    assert repo.get_payable(rid)["status"] == "open"
    assert coupons_state(repo, serials) == dict.fromkeys(serials, ("redeemed", rid))
    assert journal(repo) == sorted([*before, f"redeemed:{rid}"])
    assert balance_of(repo, "venue_payable", VENUE) == -2000
    assert api.ledger_balance(repo)["balanced"]


def test_a_failed_redemption_of_coupons_not_yet_issued_leaves_no_coupon(repo, db):
    api.on_venue_changed(repo, ev.venue())
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)  # not delivered yet
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    serials = serials_of(event)
    api.on_order_confirmed(repo, confirmed)  # booked as received: the redemption is booked

    with pytest.raises(Boom):
        api.on_coupons_redeemed(failing(db, "coupons_redeemed"), event)
    assert FailingRepository.seen["coupons"] == dict.fromkeys(serials, "redeemed")
    assert coupons_state(repo, serials) == {}
    assert repo.get_payable(event["redemption_id"]) is None

    api.on_coupons_redeemed(repo, event)
    api.on_order_confirmed(repo, confirmed)
    api.on_booklets_issued(repo, issued)  # late: the redeemed coupon keeps its status
    assert coupons_state(repo, serials) == dict.fromkeys(
        serials, ("redeemed", event["redemption_id"])
    )
    assert repo.db.coupons.count_documents({"status": "outstanding"}) == 4
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 4000


def test_a_failed_redemption_overtaken_by_its_void_leaves_the_void_as_it_was(repo, db):
    _, issued = setup_order(repo)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    rid = event["redemption_id"]
    api.on_redemption_voided(repo, ev.voided(event))
    voided_line = repo.get_payable(rid)

    with pytest.raises(Boom):
        api.on_coupons_redeemed(failing(db, "coupons_redeemed"), event)
    assert FailingRepository.seen["payable"]["amount_cents"] == 1000  # completed, then undone
    assert repo.get_payable(rid) == voided_line

    api.on_coupons_redeemed(repo, event)
    line = repo.get_payable(rid)
    assert (line["status"], line["amount_cents"]) == ("voided", 1000)
    assert coupons_state(repo, serials_of(event)) == {serials_of(event)[0]: ("outstanding", None)}
    assert balance_of(repo, "venue_payable", VENUE) == 0
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 5000


# -- redemption_voided: all or nothing -------------------------------------------------------------
def test_a_failure_in_the_middle_of_a_void_leaves_the_redemption_then_redelivery_voids_once(
    repo, db
):
    _, issued = setup_order(repo)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:2])
    rid, serials = event["redemption_id"], serials_of(event)
    api.on_coupons_redeemed(repo, event)
    before = journal(repo)
    void = ev.voided(event)

    with pytest.raises(Boom):
        api.on_redemption_voided(failing(db, "redemption_voided"), void)
    assert FailingRepository.seen["payable"]["status"] == "voided"
    assert FailingRepository.seen["coupons"] == {}  # released in the transaction
    assert repo.get_payable(rid)["status"] == "open"
    assert coupons_state(repo, serials) == dict.fromkeys(serials, ("redeemed", rid))
    assert journal(repo) == before

    for _ in range(2):
        api.on_redemption_voided(repo, void)
    assert repo.get_payable(rid)["status"] == "voided"
    assert coupons_state(repo, serials) == dict.fromkeys(serials, ("outstanding", None))
    assert journal(repo) == sorted([*before, f"voided:{rid}"])
    assert balance_of(repo, "venue_payable", VENUE) == 0
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 5000


def test_a_void_after_the_run_is_refused_once_whatever_the_redeliveries(repo):
    _, issued = setup_order(repo)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    rid, serials = event["redemption_id"], serials_of(event)
    api.on_coupons_redeemed(repo, event)
    api.settlement_run(repo, S, date(2026, 3, 31), today=date(2026, 4, 1))
    before = journal(repo)
    void = ev.voided(event, at=datetime(2026, 4, 2, tzinfo=UTC))
    for _ in range(2):
        api.on_redemption_voided(repo, void)
    # paid: the venue keeps it, the coupons stay used, no clawback (docs/settlement.md)
    assert repo.get_payable(rid)["status"] == "settled"
    assert repo.get_payable(f"clawback:{rid}") is None
    assert coupons_state(repo, serials) == dict.fromkeys(serials, ("redeemed", rid))
    assert journal(repo) == before
    assert repo.get_payable(rid)["void_refused_at"] == datetime(2026, 4, 2, tzinfo=UTC)
    assert api.ledger_balance(repo)["balanced"]


def test_a_void_before_its_redemption_books_both_entries_with_it_all_or_nothing(repo, db):
    _, issued = setup_order(repo)
    event = ev.redeemed(issued, ev.all_coupons(issued)[:1])
    rid = event["redemption_id"]
    api.on_redemption_voided(repo, ev.voided(event))  # first: the line, no entry
    voided_line = repo.get_payable(rid)
    assert voided_line["status"] == "voided"
    before = journal(repo)
    assert f"voided:{rid}" not in before
    with pytest.raises(Boom):  # the void's entry follows the redemption's, in its transaction
        api.on_coupons_redeemed(failing(db, "redemption_voided"), event)
    assert repo.get_payable(rid) == voided_line and journal(repo) == before
    api.on_coupons_redeemed(repo, event)
    assert journal(repo) == sorted([*before, f"redeemed:{rid}", f"voided:{rid}"])
    assert balance_of(repo, "venue_payable", VENUE) == 0


# -- the normal paths never fail a write inside their transaction ---------------------------------
def test_a_coupon_redeemed_twice_is_disputed_inside_the_transaction(repo):
    _, issued = setup_order(repo)
    coupon = ev.all_coupons(issued)[:1]
    first = ev.redeemed(issued, coupon)
    second = ev.redeemed(issued, coupon)
    api.on_coupons_redeemed(repo, first)
    api.on_coupons_redeemed(repo, second)
    line = repo.get_payable(second["redemption_id"])
    assert (line["status"], line["disputed_serials"]) == ("disputed", [coupon[0]["serial"]])
    assert coupons_state(repo, [coupon[0]["serial"]]) == {
        coupon[0]["serial"]: ("redeemed", first["redemption_id"])
    }
    api.on_coupons_redeemed(repo, second)  # redelivered: still disputed, nothing posted
    api.on_redemption_voided(repo, ev.voided(second))  # no money moved for it
    assert not repo.has_entry(f"voided:{second['redemption_id']}")
    assert balance_of(repo, "venue_payable", VENUE) == -1000


# -- concurrent deliveries: a write conflict, retried --------------------------------------------
def concurrently(*calls):
    threads = [eventlet.spawn(call) for call in calls]
    for thread in threads:
        thread.wait()


def test_the_same_redemption_delivered_concurrently_is_booked_once(repo):
    _, issued = setup_order(repo, coupons=10)
    coupons = ev.all_coupons(issued)
    for i in range(5):
        event = ev.redeemed(issued, coupons[2 * i : 2 * i + 2])
        concurrently(*[partial(api.on_coupons_redeemed, repo, event)] * 3)
        assert repo.db.entries.count_documents({"key": f"redeemed:{event['redemption_id']}"}) == 1
    assert repo.db.payables.count_documents({"status": "open"}) == 5
    assert balance_of(repo, "venue_payable", VENUE) == -10_000
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 0


def test_a_redemption_and_its_void_delivered_concurrently_end_the_same_either_way(repo):
    _, issued = setup_order(repo, coupons=10)
    coupons = ev.all_coupons(issued)
    for i in range(5):
        event = ev.redeemed(issued, coupons[2 * i : 2 * i + 2])
        redeem = partial(api.on_coupons_redeemed, repo, event)
        void = partial(api.on_redemption_voided, repo, ev.voided(event))
        first, second = (redeem, void) if i % 2 else (void, redeem)
        concurrently(first, second)
        # whichever ran first: the line voided, the coupons usable again, both entries
        assert repo.get_payable(event["redemption_id"])["status"] == "voided"
        assert coupons_state(repo, serials_of(event)) == dict.fromkeys(
            serials_of(event), ("outstanding", None)
        )
    assert balance_of(repo, "venue_payable", VENUE) == 0
    assert api.ledger_balance(repo)["liabilities"]["coupon_liability_cents"] == 10_000
