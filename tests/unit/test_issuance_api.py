"""What issuance does over its store (the in-process engine), without a broker: issuing an
order once, resuming after a crash, the events' content, the booklet lifecycle."""

import json

import pytest

from services.issuance import api
from services.issuance.domain import BOOKLETS, COUPONS, IssueStatus
from services.issuance.exceptions import (
    BookletNotFound,
    DistributorNotFound,
    DistributorOfAnotherSponsor,
    InvalidBookletTransition,
    InvalidSerial,
    NotYours,
    OrderNotIssued,
)
from services.issuance.settings import Settings
from services.issuance.store import IssuanceRepository
from shared.events import BookletsIssued
from shared.mongo import get_database
from shared.outbox import OUTBOX_FIELD
from shared.serials import booklet_serial, code_matches, coupon_serial, security_code
from tests.conftest import TEST_SECRETS

SETTINGS = Settings(
    operator_secret=TEST_SECRETS["OPERATOR_SECRET"],
    code_digest_key=TEST_SECRETS["CODE_DIGEST_KEY"],
    batch_booklets=4,
)
OPERATOR = {"role": "operator", "key_id": "key_op", "subject_id": None, "label": "op"}
SPONSOR = {"role": "sponsor", "key_id": "key_sp", "subject_id": "spo_a", "label": None}
OTHER_SPONSOR = {"role": "sponsor", "key_id": "key_sb", "subject_id": "spo_b", "label": None}
DISTRIBUTOR = {"role": "distributor", "key_id": "key_di", "subject_id": "dis_a", "label": None}


def confirmed(order_id, lines=((10, 3),), sponsor_id="spo_a"):
    return {
        "order_id": order_id,
        "sponsor_id": sponsor_id,
        "sponsor_name": "Département de la Gironde",
        "sponsor_kind": "department",
        "territory": "33",
        "lines": [
            {"line_no": i, "coupons_per_booklet": per, "face_value_cents": 1000, "quantity": q}
            for i, (per, q) in enumerate(lines, start=1)
        ],
        "coupon_count": sum(per * q for per, q in lines),
        "face_value_cents": 0,
        "fee_cents": 0,
        "state_share_cents": 0,
        "sponsor_due_cents": 0,
        "cofunded": False,
        "state_rate_bp": 0,
        "rules": {"territories": ["33"], "venue_types": [], "categories": []},
        "payments": [],
        "confirmed_at": "2026-11-22T10:00:00Z",
    }


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "issuance")
    IssuanceRepository.ensure_indexes(db)
    return IssuanceRepository(db)


class Sent(list):
    def __call__(self, event_type, payload):
        json.dumps(payload)  # what travels is JSON
        self.append((event_type, payload))


def test_an_order_is_issued_into_contiguous_serials_with_events_in_batches(repo):
    sent = Sent()
    issue = api.issue_order(repo, SETTINGS, confirmed("ord_1", lines=((10, 3), (5, 6))), sent)
    assert issue["status"] == IssueStatus.PUBLISHED
    assert issue["blocks"] == {BOOKLETS: {"first": 1, "last": 9}, COUPONS: {"first": 1, "last": 60}}
    booklets = repo.booklets_of_order("ord_1")
    assert [b["serial"] for b in booklets] == [booklet_serial(n) for n in range(1, 10)]
    serials = [s for b in booklets for s in b["coupon_serials"]]
    assert serials == [coupon_serial(n) for n in range(1, 61)]
    assert {b["status"] for b in booklets} == {"issued"}
    assert booklets[0]["valid_until"][:4] == str(int(booklets[0]["valid_from"][:4]) + 1)

    # 9 booklets in batches of 4: 3 events, every coupon once, with a digest of its code
    assert [t for t, _ in sent] == ["booklets_issued"] * 3
    events = [BookletsIssued().load(p) for _, p in sent]
    assert [(e["batch"], e["batch_count"]) for e in events] == [(1, 3), (2, 3), (3, 3)]
    coupons = [c for e in events for b in e["booklets"] for c in b["coupons"]]
    assert [c["serial"] for c in coupons] == serials
    key = TEST_SECRETS["CODE_DIGEST_KEY"]
    for coupon in coupons:
        code = security_code(TEST_SECRETS["OPERATOR_SECRET"], coupon["serial"])
        assert code_matches(key, coupon["serial"], code, coupon["code_digest"])
        assert not code_matches(key, coupon["serial"], "AAAAAAAA", coupon["code_digest"])
    text = json.dumps([p for _, p in sent])
    assert TEST_SECRETS["OPERATOR_SECRET"] not in text
    assert security_code(TEST_SECRETS["OPERATOR_SECRET"], serials[0]) not in text
    assert TEST_SECRETS["OPERATOR_SECRET"] not in json.dumps(
        list(repo.db.issues.find({}, {"_id": 0}))
    )


def test_a_redelivered_event_issues_nothing_twice(repo):
    sent = Sent()
    api.issue_order(repo, SETTINGS, confirmed("ord_1"), sent)
    api.issue_order(repo, SETTINGS, confirmed("ord_1"), sent)
    api.issue_order(repo, SETTINGS, confirmed("ord_2"), sent)
    assert repo.count_booklets("ord_1") == 3
    assert len(sent) == 2  # one batch per order
    assert [(b["order_id"], b["first"], b["last"]) for b in repo.blocks(COUPONS)] == [
        ("ord_1", 1, 30),
        ("ord_2", 31, 60),
    ]


def test_a_retry_after_a_crash_reuses_the_blocks_and_leaves_no_gap(repo):
    event = confirmed("ord_1", lines=((10, 5),))
    # crash right after the blocks were given, before the issue recorded them
    issue = repo.insert_issue(api.new_issue(event, "2026-11-22T10:00:00Z"))
    repo.allocate_block(BOOKLETS, "ord_1", 5, api.domain.next_block)
    repo.allocate_block(COUPONS, "ord_1", 50, api.domain.next_block)
    # crash after some booklets were stored
    planned = api.domain.plan_booklets(
        event["lines"], api.domain.Block(1, 5), api.domain.Block(1, 50)
    )
    repo.insert_booklets([{**planned[0], "order_id": "ord_1", "history": []}])
    assert issue["status"] == IssueStatus.RECEIVED
    sent = Sent()
    api.issue_order(repo, SETTINGS, event, sent)
    api.issue_order(repo, SETTINGS, confirmed("ord_2"), sent)
    assert repo.count_booklets("ord_1") == 5
    assert [(b["first"], b["last"]) for b in repo.blocks(COUPONS)] == [(1, 50), (51, 80)]
    assert [(b["first"], b["last"]) for b in repo.blocks(BOOKLETS)] == [(1, 5), (6, 8)]


def test_a_stalled_issue_is_taken_up_and_batches_already_sent_are_not_sent_again(repo):
    settings = Settings(**{**SETTINGS.__dict__, "resume_after_seconds": 0})
    event = confirmed("ord_1", lines=((10, 9),))
    issue = repo.insert_issue({**api.new_issue(event, "2026-11-22T10:00:00Z")})
    issue = api._allocate(repo, issue)
    issue = api._create_booklets(repo, issue)
    repo.mark_batch_published("ord_1", 1, "2026-11-22T10:00:00Z")  # sent just before a crash
    sent = Sent()
    assert api.resume_stalled(repo, settings, sent) == 1
    assert [p["batch"] for _, p in sent] == [2, 3]
    assert repo.get_issue("ord_1")["status"] == IssueStatus.PUBLISHED
    assert api.resume_stalled(repo, settings, sent) == 0


def issued(repo, order_id="ord_1", booklets=2):
    api.issue_order(repo, SETTINGS, confirmed(order_id, lines=((10, booklets),)), Sent())
    return [b["serial"] for b in repo.booklets_of_order(order_id)]


def outbox_of(repo, serial):
    return repo.db.booklets.find_one({"serial": serial})[OUTBOX_FIELD]


def test_booklet_lifecycle_with_audit_trail_and_events(repo):
    serial, other = issued(repo)
    api.record_distributor(
        repo,
        {"distributor_id": "dis_a", "sponsor_id": "spo_a", "name": "CCAS", "town_code": "33318"},
    )
    with pytest.raises(InvalidBookletTransition):  # still at the operator's
        api.assign(repo, serial, "dis_a", SPONSOR)
    with pytest.raises(NotYours):
        api.dispatch_booklet(repo, serial, SPONSOR)
    api.dispatch_booklet(repo, serial, OPERATOR)
    booklet = api.assign(repo, serial, "dis_a", SPONSOR)
    assert booklet["status"] == "assigned" and booklet["distributor_id"] == "dis_a"
    assert api.get_booklet(repo, serial, DISTRIBUTOR)["serial"] == serial
    with pytest.raises(NotYours):
        api.get_booklet(repo, other, DISTRIBUTOR)

    profile = {"age_band": "66_75", "public_category": "senior", "postcode": None}
    booklet = api.activate(repo, serial, profile, DISTRIBUTOR)
    assert booklet["status"] == "activated"
    assert booklet["profile"] == {"age_band": "66_75", "public_category": "senior"}
    assert booklet["valid_from"] == booklet["activated_at"]
    assert booklet["valid_until"][4:] == booklet["activated_at"][4:]
    event_type, payload = [(e["event_type"], e["payload"]) for e in outbox_of(repo, serial)][0]
    assert event_type == "booklet_activated"
    assert payload["coupon_serials"] == booklet["coupon_serials"]
    assert payload["valid_until"] == booklet["valid_until"]

    booklet = api.cancel(repo, serial, "stolen", SPONSOR)
    assert booklet["status"] == "cancelled" and booklet["cancel_reason"] == "stolen"
    assert [e["event_type"] for e in outbox_of(repo, serial)][-1] == "booklet_cancelled"
    assert [(h["from"], h["to"], h["by"]["role"]) for h in booklet["history"]] == [
        (None, "issued", "system"),
        ("issued", "dispatched", "operator"),
        ("dispatched", "assigned", "sponsor"),
        ("assigned", "activated", "distributor"),
        ("activated", "cancelled", "sponsor"),
    ]
    with pytest.raises(InvalidBookletTransition):
        api.cancel(repo, serial, "lost", OPERATOR)


def test_assignment_needs_a_known_distributor_of_the_booklets_sponsor(repo):
    (serial,) = issued(repo, booklets=1)
    api.dispatch_order(repo, "ord_1", OPERATOR)
    api.record_distributor(
        repo,
        {"distributor_id": "dis_b", "sponsor_id": "spo_b", "name": "CCAS", "town_code": "33063"},
    )
    with pytest.raises(DistributorNotFound):
        api.assign(repo, serial, "dis_unknown", SPONSOR)
    with pytest.raises(DistributorOfAnotherSponsor):
        api.assign(repo, serial, "dis_b", SPONSOR)
    with pytest.raises(NotYours):
        api.assign(repo, serial, "dis_b", OTHER_SPONSOR)


def test_dispatching_an_order_moves_only_its_issued_booklets_once(repo):
    first, second, third = issued(repo, booklets=3)
    api.cancel(repo, third, "lost", OPERATOR)
    assert api.dispatch_order(repo, "ord_1", OPERATOR)["dispatched"] == 2
    assert api.dispatch_order(repo, "ord_1", OPERATOR)["dispatched"] == 0
    assert repo.get_booklet(first)["history"][-1]["by"] == OPERATOR
    with pytest.raises(NotYours):
        api.dispatch_order(repo, "ord_1", SPONSOR)


def test_forged_serials_and_other_sponsors(repo):
    (serial,) = issued(repo, booklets=1)
    with pytest.raises(InvalidSerial):
        api.get_booklet(repo, serial[:-1] + str((int(serial[-1]) + 1) % 10), OPERATOR)
    with pytest.raises(InvalidSerial):
        api.get_booklet(repo, "B" + "9" * 400, OPERATOR)
    with pytest.raises(BookletNotFound):
        api.get_booklet(repo, booklet_serial(999), OPERATOR)
    with pytest.raises(NotYours):
        api.get_booklet(repo, serial, OTHER_SPONSOR)
    with pytest.raises(NotYours):
        api.order_booklets(repo, "ord_1", {"limit": 10, "offset": 0}, OTHER_SPONSOR)
    with pytest.raises(OrderNotIssued):
        api.order_booklets(repo, "ord_unknown", {"limit": 10, "offset": 0}, OPERATOR)
    found = api.order_booklets(repo, "ord_1", {"limit": 10, "offset": 0}, SPONSOR)
    assert found["coupon_range"] == {"first": coupon_serial(1), "last": coupon_serial(10)}
    assert found["total"] == 1


def test_order_booklets_are_listed_a_page_at_a_time(repo):
    serials = issued(repo, booklets=5)
    page = api.order_booklets(repo, "ord_1", {"limit": 2, "offset": 2}, OPERATOR)
    assert page["total"] == 5 and [b["serial"] for b in page["booklets"]] == serials[2:4]
    assert page["booklet_count"] == 5 and page["coupon_count"] == 50
