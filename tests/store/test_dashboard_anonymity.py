"""The sponsor's dashboard, worked examples of its k-anonymity (5 beneficiaries): the totals too
are hidden under 5, every table adds up to its total, the anonymous profile recorded at
activation (issuance's ``booklet_activated``) makes the profile tables, and the expiry alerts
name the booklets the sponsor may block."""

from datetime import UTC, date, datetime

import pytest

from services.settlement import api
from services.settlement.dashboard import anonymised, anonymised_totals, new_cell
from shared.contracts.schemas_settlement import AlertsOut, DashboardOut
from tests import settlement_support as ev

BIG = "ven_00000000000000000001"
SMALL = "ven_00000000000000000002"
MEASURED = (
    "beneficiaries",
    "booklets_distributed",
    "booklets_cancelled",
    "coupons_handed_out",
    "coupons_redeemed",
    "coupons_expired",
    "coupons_outstanding",
    "redeemed_cents",
    "refunded_cents",
)


# -- pure rules ---------------------------------------------------------------------------------
def test_totals_of_fewer_than_5_beneficiaries_show_only_what_was_ordered():
    # 3 people got booklets: "redeemed 4" would tell what those 3 did, and "outstanding 16" with
    # "issued 20" would tell it too (20 - 16 = 4): everything they did is hidden, together
    totals = anonymised_totals(
        3, {"coupons_issued": 20}, {"coupons_redeemed": 4, "coupons_outstanding": 16}
    )
    assert totals == {
        "coupons_issued": 20,
        "beneficiaries": None,
        "coupons_redeemed": None,
        "coupons_outstanding": None,
        "suppressed": True,
    }


def test_totals_of_5_beneficiaries_or_of_nobody_are_shown():
    assert anonymised_totals(5, {"coupons_issued": 20}, {"coupons_redeemed": 4}) == {
        "coupons_issued": 20,
        "beneficiaries": 5,
        "coupons_redeemed": 4,
        "suppressed": False,
    }
    # no booklet handed out yet: the counts are those of booklets nobody holds
    assert (
        anonymised_totals(0, {"coupons_issued": 20}, {"coupons_redeemed": 0})["suppressed"] is False
    )


def cells(**sizes):
    out = {}
    for key, size in sizes.items():
        cell = new_cell("redeemed")
        cell["redeemed"] = size * 3
        cell["beneficiaries"] = {f"{key}-{i}" for i in range(size)}
        out[key] = cell
    return out


def test_no_small_cell_can_be_worked_out_by_subtraction_from_the_total():
    # total 19 beneficiaries: a 12, b 5, c 2. Hiding c alone would let anyone compute c = 19 -
    # 12 - 5 = 2; so b, the smallest shown, joins c in "other" (7), and c stays unknown
    rows = anonymised(cells(a=12, b=5, c=2), "venue")
    assert rows == [
        {"venue": "a", "beneficiaries": 12, "redeemed": 36},
        {"venue": "other", "beneficiaries": 7, "redeemed": 21},
    ]
    # the rows still add up to the table's total (nothing is left out)
    assert sum(r["redeemed"] for r in rows) == 19 * 3


def test_two_small_cells_together_make_their_own_other():
    # c 3 and d 2 make 5: "other" stands without taking b along
    rows = anonymised(cells(a=12, b=5, c=3, d=2), "venue")
    assert [(r["venue"], r["beneficiaries"]) for r in rows] == [("a", 12), ("b", 5), ("other", 5)]


def test_a_table_of_fewer_than_5_in_all_is_one_suppressed_row():
    assert anonymised(cells(a=3, b=1), "age_band") == [{"age_band": "other", "suppressed": True}]


# -- the whole dashboard ------------------------------------------------------------------------
@pytest.fixture
def repo(mongo_config):
    return ev.repository(mongo_config)


AGE_BANDS = ["26_35"] * 6 + ["56_65"] * 3 + ["over_75"] * 2
PUBLICS = ["job_seeker"] * 5 + ["senior"] * 4 + [None] * 2


def world(repo, handed_out):
    """12 booklets of 5 coupons; the first ``handed_out`` given with a profile; of those, the
    first 6 use 2 coupons each at the big venue, the seventh 1 coupon at the small one."""
    api.on_venue_changed(repo, ev.venue(BIG, name="Médiathèque"))
    api.on_venue_changed(repo, ev.venue(SMALL, name="EPN"))
    confirmed = ev.order_confirmed(coupons=60)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed)
    api.on_booklets_issued(repo, issued)
    booklets = issued["booklets"][:handed_out]
    for i, booklet in enumerate(booklets):
        event = ev.booklet_activated(issued, booklet, datetime(2026, 2, 3, tzinfo=UTC))
        event["profile"] = {"age_band": AGE_BANDS[i], "postcode": "33600"}
        if PUBLICS[i]:
            event["profile"]["public_category"] = PUBLICS[i]
        api.on_booklet_activated(repo, event)
    for booklet in booklets[:6]:
        api.on_coupons_redeemed(
            repo, ev.redeemed(issued, booklet["coupons"][:2], BIG, datetime(2026, 3, 9, tzinfo=UTC))
        )
    for booklet in booklets[6:7]:
        api.on_coupons_redeemed(
            repo,
            ev.redeemed(issued, booklet["coupons"][:1], SMALL, datetime(2026, 3, 9, tzinfo=UTC)),
        )
    return confirmed, issued


def test_the_profile_recorded_at_activation_reaches_settlement(repo):
    confirmed, issued = world(repo, handed_out=1)
    (booklet,) = [
        b for b in repo.booklets_of_sponsor(confirmed["sponsor_id"]) if b.get("activated_at")
    ]
    assert booklet["profile"] == {
        "age_band": "26_35",
        "postcode": "33600",
        "public_category": "job_seeker",
    }


def test_a_sponsor_with_3_beneficiaries_sees_what_it_ordered_and_nothing_else(repo):
    confirmed, _ = world(repo, handed_out=3)
    board = api.sponsor_dashboard(repo, confirmed["sponsor_id"])
    assert board["totals"] == {
        "booklets_issued": 12,
        "coupons_issued": 60,
        "suppressed": True,
        **{k: None for k in MEASURED},
    }
    for table, key in (
        ("by_month", "month"),
        ("by_venue", "venue"),
        ("by_category", "category"),
        ("by_territory", "territory"),
        ("by_age_band", "age_band"),
        ("by_public_category", "public_category"),
    ):
        assert board[table] == [{key: "other", "suppressed": True}], table
    # what the sponsor bought is its own: shown by month of issue
    assert board["issued_by_month"] == [{"month": "2026-01", "booklets": 12, "coupons": 60}]
    dumped = DashboardOut().dump(board)  # the API says the same (nulls, not zeros)
    assert dumped["totals"]["coupons_redeemed"] is None and dumped["totals"]["suppressed"] is True


def test_profile_tables_merge_small_bands_and_every_table_adds_up(repo):
    confirmed, _ = world(repo, handed_out=11)
    board = api.sponsor_dashboard(repo, confirmed["sponsor_id"])
    totals = board["totals"]
    assert (totals["beneficiaries"], totals["coupons_handed_out"], totals["coupons_redeemed"]) == (
        11,
        55,
        13,
    )
    assert totals["coupons_outstanding"] == 60 - 13 and totals["suppressed"] is False
    # 26-35: 6 people; 56-65 (3) and over 75 (2) are merged: "other" (5) stands
    assert board["by_age_band"] == [
        {
            "age_band": "26_35",
            "beneficiaries": 6,
            "handed_out": 30,
            "redeemed": 12,
            "expired": 0,
            "outstanding": 18,
        },
        {
            "age_band": "other",
            "beneficiaries": 5,
            "handed_out": 25,
            "redeemed": 1,
            "expired": 0,
            "outstanding": 24,
        },
    ]
    # job seekers: 5; seniors (4) and not given (2) merged: 6
    assert board["by_public_category"] == [
        {
            "public_category": "job_seeker",
            "beneficiaries": 5,
            "handed_out": 25,
            "redeemed": 10,
            "expired": 0,
            "outstanding": 15,
        },
        {
            "public_category": "other",
            "beneficiaries": 6,
            "handed_out": 30,
            "redeemed": 3,
            "expired": 0,
            "outstanding": 27,
        },
    ]
    # the small venue's lone beneficiary: merged with the big venue, never alone
    assert board["by_venue"] == [{"venue": "other", "beneficiaries": 7, "redeemed": 13}]
    # whatever the table, its rows add up to the totals: no cell is left for subtraction
    for table in ("by_venue", "by_category", "by_territory", "by_age_band", "by_public_category"):
        assert sum(r["redeemed"] for r in board[table]) == totals["coupons_redeemed"], table
    for table in ("by_age_band", "by_public_category"):
        assert sum(r["beneficiaries"] for r in board[table]) == totals["beneficiaries"], table
        assert sum(r["handed_out"] for r in board[table]) == totals["coupons_handed_out"], table
    assert sum(r["distributed"] for r in board["by_month"]) == totals["booklets_distributed"]


def test_expiry_alerts_name_the_booklets_not_handed_out(repo):
    confirmed, issued = world(repo, handed_out=2)
    # the booklets not handed out end one year after their issue (15 January 2027)
    alerts = api.expiry_alerts(repo, confirmed["sponsor_id"], date(2027, 1, 1))
    (row,) = alerts["expiring"]
    expected = sorted(b["serial"] for b in issued["booklets"][2:])
    assert sorted(row["blockable"]) == expected
    assert row["not_handed_out"] == len(expected) == 10
    assert AlertsOut().dump(alerts)["expiring"][0]["blockable"] == row["blockable"]
