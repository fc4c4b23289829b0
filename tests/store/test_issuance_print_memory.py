"""Issuance prints an order without holding its booklets (issue 14): ``api.OrderBooklets`` reads
the order in one pass over an indexed cursor, then a chunk at a time when the file is drawn. The
file and its key are those of the same booklets given as a list."""

import time
from datetime import timedelta

import pytest

from services.issuance import api, documents
from services.issuance.store import IssuanceRepository
from shared.contracts.errors_issuance import NotYours
from shared.mongo import get_database
from shared.times import now
from tests.store.test_issuance_api import OPERATOR, SETTINGS, SPONSOR, Sent, confirmed


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "issuance", tz_aware=True)
    IssuanceRepository.ensure_indexes(db)
    return IssuanceRepository(db)


def issue(repo, order_id, lines):
    api.issue_order(repo, SETTINGS, confirmed(order_id, lines=lines), Sent())
    return repo.booklets_of_order(order_id, history=False)


def test_the_order_read_a_chunk_at_a_time_is_the_list_of_its_booklets(repo):
    booklets = issue(repo, "ord_m", ((10, 7), (5, 4)))  # two kinds, 11 booklets
    issue(repo, "ord_other", ((10, 3),))  # another order's booklets in between: never read
    source = api.OrderBooklets(repo, "ord_m", step=3)
    assert len(source) == 11 and source.coupon_count == 90
    assert source.sponsor_id == "spo_a" and source.statuses == {"issued"}
    assert [b["serial"] for b in source.firsts()] == [booklets[0]["serial"], booklets[7]["serial"]]
    assert list(source.bounds) == [booklets[i]["sequence"] for i in (0, 3, 6, 9)]
    fields = ("serial", "sponsor_name", "face_value_cents", "coupon_serials")
    for start, stop in ((0, 3), (3, 6), (9, 12), (4, 8), (10, 11)):
        chunk = source.chunk(start, stop)
        want = booklets[start:stop]
        assert [[b[f] for f in fields] for b in chunk] == [[b[f] for f in fields] for b in want]
        assert all("history" not in b for b in chunk)  # only what the file is made of
    assert source.chunk(11, 14) == []
    # the same booklets, the same key: an order's file is made once, whichever way it was read
    assert source.digest() == api.print_digest(booklets)
    by_source = api.print_file_id(SETTINGS, source, "print-ord_m", "t")
    assert by_source == api.print_file_id(SETTINGS, booklets, "print-ord_m", "t")
    again = api.OrderBooklets(repo, "ord_m", step=50)
    assert api.print_file_id(SETTINGS, again, "print-ord_m", "t") == by_source


def test_the_print_file_from_the_store_is_the_file_of_the_list(repo):
    booklets = issue(repo, "ord_f", ((10, 4), (3, 2)))
    source = api.OrderBooklets(repo, "ord_f", step=2)
    args = (SETTINGS.operator_secret, "Impression test", SETTINGS.map_url)
    from_list = documents.print_file(booklets, *args, workers=1, chunk_booklets=2)
    from_store = documents.print_file(source, *args, workers=1, chunk_booklets=2)
    assert from_store == from_list and from_list.startswith(b"%PDF-")


def test_printing_an_order_records_it_in_every_booklet_history_operator_only(repo):
    issue(repo, "ord_h", ((10, 3),))
    with pytest.raises(NotYours):
        api.order_to_print(repo, "ord_h", SPONSOR)
    source = api.order_to_print(repo, "ord_h", OPERATOR)
    assert len(source) == 3
    for booklet in repo.booklets_of_order("ord_h"):
        entry = booklet["history"][-1]
        assert entry["reason"] == "print file" and entry["from"] == entry["to"] == "issued"


def test_the_print_queries_are_served_by_the_order_index(repo):
    """No scan of the booklets: the pass and each chunk go through ``(order_id, sequence)``."""
    issue(repo, "ord_x", ((10, 5),))
    source = api.OrderBooklets(repo, "ord_x", step=2)
    scan = repo.scan_order_for_print("ord_x").explain()
    chunk = (
        repo.db.booklets.find(
            {"order_id": "ord_x", "sequence": {"$gte": source.bounds[1]}}, repo.PRINT_FIELDS
        )
        .sort("sequence", 1)
        .limit(2)
        .explain()
    )
    for plan in (scan, chunk):
        text = str(plan.get("queryPlanner", plan))
        assert "IXSCAN" in text and "order_id_1_sequence_1" in text, text
        assert "COLLSCAN" not in text, text


def test_each_chunk_reads_only_the_blocks_it_spans(repo):
    """A chunk asks the store for the range of its blocks of ``step`` booklets, not for the rest
    of the order: a server that sorts the range before it limits (SecantusDB) would otherwise
    read the order's remaining booklets for each chunk, a 100,000-booklet file taking hours."""
    issue(repo, "ord_r", ((10, 23),))
    source = api.OrderBooklets(repo, "ord_r", step=4)
    for start, stop in ((0, 4), (4, 8), (8, 12), (5, 7), (6, 10), (20, 23)):
        plan = repo.order_chunk_cursor("ord_r", *source.chunk_query(start, stop)).explain()
        examined = plan["executionStats"]["totalDocsExamined"]
        spanned = ((stop - 1) // 4 - start // 4 + 1) * 4
        assert stop - start <= examined <= spanned, (start, stop, examined)
        assert len(source.chunk(start, stop)) == stop - start


def test_the_maker_of_a_long_print_file_keeps_it_from_being_taken_over(repo, monkeypatch):
    """A file of 100,000 booklets takes longer than PRINT_STALE_SECONDS: while it is drawn its
    ``started_at`` is refreshed, so another request waits instead of making it a second time."""
    monkeypatch.setattr(api, "PRINT_BEAT_SECONDS", 0.05)
    booklets = issue(repo, "ord_b", ((10, 2),))
    seen = []

    def make(items, path):
        record = repo.db.print_files.find_one({"status": "in_progress"})
        for _ in range(40):  # until the beat has been at least once
            time.sleep(0.05)
            again = repo.get_print_file(record["file_id"])
            if again["started_at"] > record["started_at"]:
                break
        seen.append((record["started_at"], again["started_at"], again["holder"]))
        stale = again["started_at"] - timedelta(seconds=1)  # older than the last beat: alive
        assert not repo.take_over_print_file(record["file_id"], "prt_other", stale, now())
        with open(path, "wb") as handle:
            handle.write(b"%PDF-1.7 test")
        return 1

    owner = {"order_id": "ord_b", "sponsor_id": "spo_a"}
    record = api.stored_print_file(repo, SETTINGS, booklets, "print-ord_b", "t", owner, make)
    assert record["status"] == "ready" and record["size"] == len(b"%PDF-1.7 test")
    ((before, after, holder),) = seen
    assert after > before and holder.startswith("prt_")
