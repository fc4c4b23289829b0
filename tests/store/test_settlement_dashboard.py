"""The sponsor's anonymised dashboard: no cell under 5 beneficiaries, and none that can be worked
out from the others and the totals."""

from datetime import UTC, datetime

import pytest

from services.settlement import api
from services.settlement.dashboard import anonymised, new_cell
from tests import settlement_support as ev


def cells(**sizes):
    out = {}
    for key, size in sizes.items():
        cell = new_cell("redeemed")
        cell["redeemed"] = size * 2
        cell["beneficiaries"] = {f"{key}-{i}" for i in range(size)}
        out[key] = cell
    return out


def test_cells_with_enough_beneficiaries_are_shown_as_they_are():
    rows = anonymised(cells(a=5, b=9), "category")
    assert rows == [
        {"category": "a", "beneficiaries": 5, "redeemed": 10},
        {"category": "b", "beneficiaries": 9, "redeemed": 18},
    ]


def test_small_cells_are_merged_into_other():
    rows = anonymised(cells(a=7, b=3, c=2, d=6), "category")
    assert rows == [
        {"category": "a", "beneficiaries": 7, "redeemed": 14},
        {"category": "d", "beneficiaries": 6, "redeemed": 12},
        {"category": "other", "beneficiaries": 5, "redeemed": 10},
    ]


def test_a_lone_small_cell_takes_the_smallest_shown_with_it():
    # otherwise "other" (2) = total - a - d would give the small cell away
    rows = anonymised(cells(a=9, b=2, d=6), "venue")
    assert rows == [
        {"venue": "a", "beneficiaries": 9, "redeemed": 18},
        {"venue": "other", "beneficiaries": 8, "redeemed": 16},
    ]
    assert all(r.get("beneficiaries", 5) >= 5 for r in rows)


def test_too_few_in_all_shows_nothing():
    assert anonymised(cells(a=2, b=1), "month") == [{"month": "other", "suppressed": True}]
    assert anonymised({}, "month") == []


@pytest.fixture
def repo(mongo_config):
    return ev.repository(mongo_config)


def test_dashboard_of_a_sponsor(repo):
    big = "ven_00000000000000000001"
    small = "ven_00000000000000000002"
    api.on_venue_changed(repo, ev.venue(big, name="Médiathèque"))
    api.on_venue_changed(repo, ev.venue(small, name="EPN"))
    confirmed = ev.order_confirmed(coupons=40)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)  # 8 booklets of 5
    api.on_booklets_issued(repo, issued)
    for booklet in issued["booklets"][:7]:
        api.on_booklet_activated(
            repo, ev.booklet_activated(issued, booklet, datetime(2026, 2, 3, tzinfo=UTC))
        )
    for booklet in issued["booklets"][:6]:  # 6 beneficiaries use 2 coupons each at the big venue
        api.on_coupons_redeemed(
            repo, ev.redeemed(issued, booklet["coupons"][:2], big, datetime(2026, 3, 9, tzinfo=UTC))
        )
    api.on_coupons_redeemed(  # 1 beneficiary at the small venue: never shown alone
        repo,
        ev.redeemed(
            issued, issued["booklets"][6]["coupons"][:1], small, datetime(2026, 4, 2, tzinfo=UTC)
        ),
    )
    board = api.sponsor_dashboard(repo, confirmed["sponsor_id"])
    assert board["totals"] == {
        "booklets_issued": 8,
        "coupons_issued": 40,
        "suppressed": False,
        "beneficiaries": 7,
        "coupons_handed_out": 35,
        "booklets_distributed": 7,
        "booklets_cancelled": 0,
        "coupons_redeemed": 13,
        "coupons_expired": 0,
        "coupons_outstanding": 27,
        "redeemed_cents": 13_000,
        "refunded_cents": 0,
    }
    assert board["by_venue"] == [
        {"venue": "other", "beneficiaries": 7, "redeemed": 13}  # the small one took the big along
    ]
    assert board["by_month"] == [
        {"month": "2026-02", "beneficiaries": 7, "distributed": 7, "handed_out": 35, "redeemed": 0},
        # April's one beneficiary cannot stand alone, nor be read off as total - March: merged
        {"month": "other", "beneficiaries": 7, "distributed": 0, "handed_out": 0, "redeemed": 13},
    ]
    assert board["by_category"] == [
        {"category": "online_procedures", "beneficiaries": 7, "redeemed": 13}
    ]
    assert board["by_territory"] == [{"territory": "33", "beneficiaries": 7, "redeemed": 13}]
