"""What issuance does over its store (the in-process engine), without a broker: issuing an
order once, resuming after a crash, the events' content, the booklet lifecycle."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.issuance import api
from services.issuance.domain import BOOKLETS, COUPONS, IssueStatus
from services.issuance.settings import Settings
from services.issuance.store import IssuanceRepository
from shared.contracts.errors_issuance import (
    BookletExpired,
    BookletNotFound,
    DistributorNotFound,
    DistributorOfAnotherSponsor,
    InvalidBookletTransition,
    InvalidSerial,
    IssueInProgress,
    NotYours,
    OrderNotIssued,
)
from shared.contracts.schemas_issuance import BookletOut, OrderBookletsOut
from shared.events import BookletsIssued
from shared.mongo import database_name, get_client, get_database
from shared.outbox import OUTBOX_FIELD
from shared.serials import booklet_serial, code_matches, coupon_serial, security_code
from shared.times import iso, now, parse
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
ISSUED = parse("2026-11-22T10:00:00Z")
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")  # what iso() writes


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
    db = get_database(mongo_config, "issuance", tz_aware=True)  # as the service's Store
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
    assert booklets[0]["valid_until"] == api.domain.one_year_after(booklets[0]["valid_from"])

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
        list(repo.db.issues.find({}, {"_id": 0})), default=str
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
    issue = repo.insert_issue(api.new_issue(event, ISSUED))
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
    issue = repo.insert_issue({**api.new_issue(event, ISSUED)})
    issue = api._allocate(repo, issue)
    issue = api._create_booklets(repo, issue)
    repo.mark_batch_published("ord_1", 1, ISSUED)  # sent just before a crash
    sent = Sent()
    assert api.resume_stalled(repo, settings, sent) == 1
    assert [p["batch"] for _, p in sent] == [2, 3]
    assert repo.get_issue("ord_1")["status"] == IssueStatus.PUBLISHED
    assert api.resume_stalled(repo, settings, sent) == 0


def test_a_failed_publication_gives_the_right_up_so_the_retried_event_publishes_at_once(repo):
    """The broker out of reach while batches go out: the event handler fails and its event is
    delivered again; the retry publishes at once instead of waiting for the right to lapse."""
    event = confirmed("ord_1", lines=((10, 9),))  # 3 batches of 4 booklets at most

    def broken(event_type, payload):
        if payload["batch"] == 2:
            raise ConnectionError("the broker went away")
        sent.append((event_type, payload))

    sent = Sent()
    with pytest.raises(ConnectionError):
        api.issue_order(repo, SETTINGS, event, broken)
    assert [p["batch"] for _, p in sent] == [1]
    assert repo.get_issue("ord_1")["publishing"]["holder"] is None
    again = Sent()
    assert api.issue_order(repo, SETTINGS, event, again)["status"] == IssueStatus.PUBLISHED
    assert [p["batch"] for _, p in again] == [2, 3]


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
    assert booklet["valid_until"] == api.domain.one_year_after(booklet["activated_at"])
    event_type, payload = [(e["event_type"], e["payload"]) for e in outbox_of(repo, serial)][0]
    assert event_type == "booklet_activated"
    assert payload["coupon_serials"] == booklet["coupon_serials"]
    assert payload["valid_until"] == iso(booklet["valid_until"])

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


def test_a_distributors_booklets_are_listed_to_it_its_sponsor_and_the_operator(repo):
    first, second, third = issued(repo, booklets=3)
    api.dispatch_order(repo, "ord_1", OPERATOR)
    for distributor_id in ("dis_a", "dis_c"):
        api.record_distributor(
            repo,
            {
                "distributor_id": distributor_id,
                "sponsor_id": "spo_a",
                "name": "CCAS",
                "town_code": "33063",
            },
        )
    api.assign(repo, third, "dis_a", SPONSOR)
    api.assign(repo, first, "dis_a", SPONSOR)
    api.assign(repo, second, "dis_c", SPONSOR)
    query = {"offset": 0, "limit": 1000}
    for actor in (DISTRIBUTOR, SPONSOR, OPERATOR):
        page = api.distributor_booklets(repo, "dis_a", query, actor)
        assert [b["serial"] for b in page["booklets"]] == [first, third], actor
        assert page["total"] == 2 and "history" not in page["booklets"][0]
    page = api.distributor_booklets(repo, "dis_a", {"offset": 1, "limit": 1}, DISTRIBUTOR)
    assert ([b["serial"] for b in page["booklets"]], page["total"]) == ([third], 2)
    other_distributor = {**DISTRIBUTOR, "subject_id": "dis_c"}
    for stranger in (other_distributor, OTHER_SPONSOR):
        with pytest.raises(NotYours):
            api.distributor_booklets(repo, "dis_a", query, stranger)
    with pytest.raises(DistributorNotFound):
        api.distributor_booklets(repo, "dis_unknown", query, OPERATOR)


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


def test_times_are_stored_as_dates_and_answered_as_iso_text(repo, mongo_config):
    sent = Sent()
    api.issue_order(repo, SETTINGS, confirmed("ord_1", lines=((10, 2),)), sent)
    serial, _ = [b["serial"] for b in repo.booklets_of_order("ord_1")]
    api.record_distributor(
        repo,
        {"distributor_id": "dis_a", "sponsor_id": "spo_a", "name": "CCAS", "town_code": "33318"},
    )
    api.dispatch_booklet(repo, serial, OPERATOR)
    api.assign(repo, serial, "dis_a", SPONSOR)
    api.activate(repo, serial, None, DISTRIBUTOR)
    booklet = api.cancel(repo, serial, "lost", SPONSOR)

    # in the database: BSON dates (a plain client reads them back as datetimes), never text
    raw = get_client(mongo_config["MONGO_URI"])[database_name(mongo_config, "issuance")]
    issue = raw.issues.find_one({"order_id": "ord_1"})
    stored = raw.booklets.find_one({"serial": serial})
    dates = [
        *(issue[key] for key in ("confirmed_at", "issued_at", "valid_from", "valid_until")),
        *(issue[key] for key in ("updated_at", "published_at")),
        issue["publishing"]["until"],
        *(stored[key] for key in ("issued_at", "valid_from", "valid_until")),
        *(stored[key] for key in ("activated_at", "cancelled_at")),
        *(entry["at"] for entry in stored["history"]),
    ]
    assert all(type(value) is datetime for value in dates)
    assert issue["confirmed_at"] == datetime(2026, 11, 22, 10, tzinfo=UTC)  # from the event's text
    assert booklet["valid_until"].tzinfo is not None  # the store's reads are aware (UTC)

    # answers: ISO 8601 text with a Z, as iso() writes it (what the store held before)
    answer = json.loads(json.dumps(BookletOut().dump(booklet)))
    for key in ("issued_at", "valid_from", "valid_until", "activated_at", "cancelled_at"):
        assert answer[key] == iso(booklet[key]) and ISO_Z.fullmatch(answer[key]), key
    assert [entry["at"] for entry in answer["history"]] == [
        iso(entry["at"]) for entry in booklet["history"]
    ]
    page = api.order_booklets(repo, "ord_1", {"limit": 10, "offset": 0}, OPERATOR)
    listed = json.loads(json.dumps(OrderBookletsOut().dump(page)))
    assert listed["issued_at"] == iso(issue["issued_at"]) == listed["booklets"][1]["valid_from"]

    # events: ISO text, the same instants
    issued_event = BookletsIssued().load(sent[0][1])
    assert issued_event["issued_at"] == iso(issue["issued_at"])
    assert issued_event["valid_until"] == iso(issue["valid_until"])
    activated, cancelled = (e["payload"] for e in outbox_of(repo, serial))
    assert activated["activated_at"] == iso(booklet["activated_at"])
    assert activated["valid_until"] == iso(booklet["valid_until"])
    assert cancelled["cancelled_at"] == iso(booklet["cancelled_at"])


def test_the_publishing_right_and_stalled_issues_compare_dates(repo):
    at = now()
    repo.insert_issue({**api.new_issue(confirmed("ord_1"), at), "status": "created"})
    later = at + timedelta(seconds=30)
    assert repo.take_publishing("ord_1", "pub_a", at, later)
    assert not repo.take_publishing("ord_1", "pub_b", at + timedelta(seconds=29), later)
    assert repo.take_publishing("ord_1", "pub_b", at + timedelta(seconds=31), later)
    assert repo.stalled_issues(at) == []
    assert [i["order_id"] for i in repo.stalled_issues(at + timedelta(milliseconds=1))] == ["ord_1"]


def test_an_expired_booklet_cannot_be_activated(repo):
    (serial,) = issued(repo, booklets=1)
    api.record_distributor(
        repo,
        {"distributor_id": "dis_a", "sponsor_id": "spo_a", "name": "CCAS", "town_code": "33318"},
    )
    api.dispatch_booklet(repo, serial, OPERATOR)
    api.assign(repo, serial, "dis_a", SPONSOR)
    past = parse("2020-01-01T00:00:00Z")
    repo.db.booklets.update_one({"serial": serial}, {"$set": {"valid_until": past}})
    with pytest.raises(BookletExpired) as caught:
        api.activate(repo, serial, None, DISTRIBUTOR)
    assert caught.value.details == {"valid_until": "2020-01-01T00:00:00Z"}


def test_the_print_file_of_an_order_being_issued_is_a_conflict_not_a_404(repo):
    repo.insert_issue(api.new_issue(confirmed("ord_9"), ISSUED))  # received, nothing created yet
    with pytest.raises(IssueInProgress) as caught:
        api.booklets_to_print(repo, "ord_9", OPERATOR)
    assert caught.value.details == {"order_id": "ord_9", "status": "received"}
    with pytest.raises(OrderNotIssued):  # an order never confirmed is still unknown here
        api.booklets_to_print(repo, "ord_unknown", OPERATOR)


def test_a_stored_print_file_is_made_once_then_purged_after_print_file_hours(repo):
    """Print files hold security codes: kept PRINT_FILE_HOURS, then bytes and record deleted."""
    issued(repo, "ord_pf", booklets=2)
    booklets = repo.booklets_of_order("ord_pf", history=False)
    made = []

    def make(items, path):
        made.append(len(items))
        with open(path, "wb") as handle:
            handle.write(b"%PDF-" + b"x" * (IssuanceRepository.CHUNK_BYTES + 10))
        return 6

    owner = {"order_id": "ord_pf", "sponsor_id": "spo_a"}
    record = api.stored_print_file(repo, SETTINGS, booklets, "print-ord_pf", "t", owner, make)
    again = api.stored_print_file(repo, SETTINGS, booklets, "print-ord_pf", "t", owner, make)
    assert made == [2] and again["file_id"] == record["file_id"] and record["status"] == "ready"
    assert record["size"] == IssuanceRepository.CHUNK_BYTES + 15 and record["pages"] == 6
    assert repo.read_print_chunk(record["file_id"], 1) == b"x" * 15
    assert api.purge_print_files(repo, SETTINGS) == 0  # not old yet
    repo.db.print_files.update_one(
        {"file_id": record["file_id"]}, {"$set": {"ready_at": now() - timedelta(hours=25)}}
    )
    assert api.purge_print_files(repo, SETTINGS) == 1
    assert repo.get_print_file(record["file_id"]) is None
    assert repo.db["print_files.chunks"].count_documents({"files_id": record["file_id"]}) == 0
    api.stored_print_file(repo, SETTINGS, booklets, "print-ord_pf", "t", owner, make)
    assert made == [2, 2]  # asked again: made again
