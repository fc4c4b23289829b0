"""Issuance rules without I/O: serial blocks, the booklets of an order, validity, lifecycle."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.issuance import domain
from services.issuance.domain import Action, Block, BookletStatus, next_block, plan_booklets
from shared.contracts.errors_issuance import BookletExpired, InvalidBookletTransition, NotYours
from shared.history import history_entry
from shared.serials import parse_booklet_serial, parse_coupon_serial

OPERATOR = {"role": "operator", "subject_id": None}
SPONSOR = {"role": "sponsor", "subject_id": "spo_a"}
OTHER_SPONSOR = {"role": "sponsor", "subject_id": "spo_b"}
DISTRIBUTOR = {"role": "distributor", "subject_id": "dis_a"}


def line(line_no, per_booklet, quantity, face_value_cents=1000):
    return {
        "line_no": line_no,
        "coupons_per_booklet": per_booklet,
        "face_value_cents": face_value_cents,
        "quantity": quantity,
    }


# -- serial blocks --------------------------------------------------------------------------------
def test_next_block_starts_right_after_the_last_number_given():
    assert next_block(0, 2000) == Block(1, 2000)
    assert next_block(2000, 50) == Block(2001, 2050)
    assert next_block(2050, 1).size == 1
    with pytest.raises(ValueError):
        next_block(10, 0)


@given(st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=30))
def test_blocks_one_after_the_other_cover_the_sequence_without_gap_or_overlap(sizes):
    last, blocks = 0, []
    for size in sizes:
        block = next_block(last, size)
        blocks.append(block)
        last = block.last
    numbers = [n for block in blocks for n in range(block.first, block.last + 1)]
    assert numbers == list(range(1, sum(sizes) + 1))


def test_order_needs_counts_booklets_and_coupons_of_every_line():
    assert domain.order_needs([line(1, 10, 200), line(2, 5, 30)]) == (230, 2150)


def test_plan_lays_booklets_and_their_contiguous_coupons_on_the_blocks():
    lines = [line(2, 5, 2, face_value_cents=2000), line(1, 10, 3)]  # given out of order
    planned = plan_booklets(lines, Block(101, 105), Block(1001, 1040))
    assert [b["sequence"] for b in planned] == [101, 102, 103, 104, 105]
    assert [b["line_no"] for b in planned] == [1, 1, 1, 2, 2]
    assert [(b["first_coupon"], b["last_coupon"]) for b in planned] == [
        (1001, 1010),
        (1011, 1020),
        (1021, 1030),
        (1031, 1035),
        (1036, 1040),
    ]
    assert planned[3]["face_value_cents"] == 2000 and planned[0]["face_value_cents"] == 1000
    first = planned[0]
    assert parse_booklet_serial(first["serial"]) == 101
    assert [parse_coupon_serial(s) for s in first["coupon_serials"]] == list(range(1001, 1011))


def test_plan_refuses_blocks_that_do_not_fit_the_order():
    with pytest.raises(ValueError):
        plan_booklets([line(1, 10, 3)], Block(1, 3), Block(1, 29))
    with pytest.raises(ValueError):
        plan_booklets([line(1, 10, 3)], Block(1, 4), Block(1, 30))


def test_batches_cut_big_orders_and_keep_at_least_one():
    assert [len(b) for b in domain.batches(list(range(1201)), 500)] == [500, 500, 201]
    assert domain.batches([], 500) == [[]]


# -- validity -------------------------------------------------------------------------------------
def test_validity_is_one_year_and_29_february_ends_on_1_march():
    assert domain.one_year_after(datetime(2026, 11, 22, 10, 30, tzinfo=UTC)) == datetime(
        2027, 11, 22, 10, 30, tzinfo=UTC
    )
    assert domain.one_year_after(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2029, 3, 1, tzinfo=UTC
    )


def test_a_booklet_past_its_validity_cannot_be_activated():
    booklet = {"valid_until": datetime(2027, 11, 22, 10, tzinfo=UTC)}
    domain.require_valid(booklet, datetime(2027, 11, 22, 9, 59, 59, 999000, tzinfo=UTC))
    with pytest.raises(BookletExpired) as caught:
        domain.require_valid(booklet, datetime(2027, 11, 22, 10, tzinfo=UTC))
    assert caught.value.details == {"valid_until": "2027-11-22T10:00:00Z"}  # answered as text


# -- lifecycle ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, action, expected",
    [
        ("issued", Action.DISPATCH, BookletStatus.DISPATCHED),
        ("dispatched", Action.ASSIGN, BookletStatus.ASSIGNED),
        ("assigned", Action.ASSIGN, BookletStatus.ASSIGNED),  # moved to another distributor
        ("assigned", Action.ACTIVATE, BookletStatus.ACTIVATED),
        ("issued", Action.CANCEL, BookletStatus.CANCELLED),
        ("dispatched", Action.CANCEL, BookletStatus.CANCELLED),
        ("assigned", Action.CANCEL, BookletStatus.CANCELLED),
        ("activated", Action.CANCEL, BookletStatus.CANCELLED),
    ],
)
def test_allowed_transitions(status, action, expected):
    assert domain.next_status(status, action) is expected


@pytest.mark.parametrize(
    "status, action",
    [
        ("issued", Action.ASSIGN),  # not yet at the sponsor's
        ("issued", Action.ACTIVATE),
        ("dispatched", Action.ACTIVATE),  # no distributor yet
        ("dispatched", Action.DISPATCH),
        ("activated", Action.ASSIGN),  # with a beneficiary now
        ("activated", Action.ACTIVATE),
        ("cancelled", Action.CANCEL),
        ("cancelled", Action.ASSIGN),
        ("cancelled", Action.ACTIVATE),
        ("cancelled", Action.DISPATCH),
    ],
)
def test_refused_transitions_name_status_and_action(status, action):
    with pytest.raises(InvalidBookletTransition) as caught:
        domain.next_status(status, action)
    assert caught.value.details == {"status": status, "action": action.value}


def test_history_entry_says_who_when_from_and_to():
    at = datetime(2026, 11, 22, 10, tzinfo=UTC)
    entry = history_entry(BookletStatus.DISPATCHED, BookletStatus.ASSIGNED, SPONSOR, at, x=1)
    assert entry == {
        "from": "dispatched",
        "to": "assigned",
        "reason": None,
        "by": SPONSOR,
        "at": at,
        "x": 1,
    }


# -- who may see and act --------------------------------------------------------------------------
def test_viewers_of_a_booklet():
    booklet = {"sponsor_id": "spo_a", "distributor_id": "dis_a"}
    for actor in (OPERATOR, SPONSOR, DISTRIBUTOR):
        domain.require_viewer(actor, booklet)
    for actor in (OTHER_SPONSOR, {"role": "distributor", "subject_id": "dis_b"}):
        with pytest.raises(NotYours):
            domain.require_viewer(actor, booklet)
    with pytest.raises(NotYours):
        domain.require_viewer({"role": "venue", "subject_id": "ven_a"}, booklet)


def test_only_the_assigned_distributor_activates_and_only_the_own_sponsor_assigns():
    booklet = {"sponsor_id": "spo_a", "distributor_id": "dis_a"}
    domain.require_assigned_distributor(DISTRIBUTOR, booklet)
    domain.require_own_sponsor(SPONSOR, booklet)
    for actor in (OPERATOR, SPONSOR, {"role": "distributor", "subject_id": "dis_b"}):
        with pytest.raises(NotYours):
            domain.require_assigned_distributor(actor, booklet)
    for actor in (OPERATOR, OTHER_SPONSOR, DISTRIBUTOR):
        with pytest.raises(NotYours):
            domain.require_own_sponsor(actor, booklet)
    with pytest.raises(NotYours):  # a booklet not assigned yet: no distributor activates it
        domain.require_assigned_distributor(DISTRIBUTOR, {"sponsor_id": "spo_a"})
