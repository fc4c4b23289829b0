"""Ordering rules without I/O: the quote (order fee, State share, rounding), co-funding eligibility, the
lifecycle's allowed transitions, payments."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ordering import domain
from services.ordering.domain import quote
from shared.contracts.errors_ordering import (
    CofundingNotEligible,
    InvalidOrderTransition,
    NotYours,
    Overpayment,
    PaymentReferenceConflict,
    StatePaymentNotExpected,
)
from shared.contracts.schemas_ordering import OrderStatus

LINE_200_X_10 = [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 200}]


def sponsor(kind, territory="33", members=()):
    return {"kind": kind, "territory": territory, "members": list(members)}


# -- the quote ------------------------------------------------------------------------------------
def test_rule_1_fee_is_4_percent_of_face_value():
    # order fee: 200 booklets x 10 x 10 EUR = 20,000.00 EUR -> fee 800.00 EUR
    q = quote(LINE_200_X_10)
    assert q.coupon_count == 2000
    assert q.face_value_cents == 2_000_000
    assert q.fee_cents == 80_000
    assert q.state_share_cents == 0
    assert q.sponsor_due_cents == 2_080_000


def test_rule_2_state_pays_half_of_face_value_fee_stays_with_sponsor():
    # State co-funding on the same order: State 10,000.00, sponsor due 10,000.00 + 800.00
    q = quote(LINE_200_X_10, state_rate_bp=5000)
    assert q.state_share_cents == 1_000_000
    assert q.fee_cents == 80_000
    assert q.sponsor_due_cents == 1_080_000


def test_rule_7_rounding_once_on_the_order_total_half_up():
    # 3 lines of one 5-coupon booklet of 0.13 EUR: 0.65 EUR each, 1.95 EUR in all. Per line
    # the fee would be 2.6 cents -> 3, 9 cents in all; once on the total: 7.8 cents -> 8.
    lines = [{"coupons_per_booklet": 5, "face_value_cents": 13, "quantity": 1}] * 3
    q = quote(lines, state_rate_bp=5000)
    assert q.face_value_cents == 195
    assert q.fee_cents == 8
    assert q.state_share_cents == 98  # 97.5 half up
    assert q.sponsor_due_cents == 195 - 98 + 8


def test_mixed_lines_add_up():
    lines = [
        {"coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": 30},  # 1,500.00
        {"coupons_per_booklet": 10, "face_value_cents": 1500, "quantity": 4},  # 600.00
    ]
    q = quote(lines)
    assert (q.coupon_count, q.face_value_cents, q.fee_cents) == (190, 210_000, 8_400)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "coupons_per_booklet": st.sampled_from([5, 10]),
                "face_value_cents": st.integers(1, 10_000),
                "quantity": st.integers(1, 100_000),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([0, 2500, 5000, 8000]),
)
def test_quote_shares_add_up_to_what_is_paid(lines, rate):
    q = quote(lines, rate)
    assert q.sponsor_due_cents + q.state_share_cents == q.face_value_cents + q.fee_cents
    assert 0 <= q.state_share_cents <= q.face_value_cents


# -- State co-funding eligibility -----------------------------------------------------------------
@pytest.mark.parametrize("kind", ["region", "department", "metropolis"])
def test_local_authorities_are_eligible(kind):
    assert domain.cofunding_refusal(sponsor(kind), 2_000_000) is None


def test_group_of_towns_is_eligible_a_lone_town_is_not():
    group = sponsor("town_group", "33", ["33063", "33281"])
    assert domain.cofunding_refusal(group, 1_000_000) is None
    lone = domain.cofunding_refusal(sponsor("town", "33063"), 2_000_000)
    assert lone.code == "cofunding_not_eligible" and lone.details["rule"] == "town_group"
    # a town ordering for itself and another town is a group of 2
    lead = sponsor("town", "33063", ["33281"])
    assert domain.cofunding_refusal(lead, 2_000_000) is None
    # listing itself as its only member is still one town
    assert domain.cofunding_refusal(sponsor("town", "33063", ["33063"]), 2_000_000) is not None


@pytest.mark.parametrize(
    "kind", ["public_body", "ccas", "company", "chamber", "foundation", "association"]
)
def test_other_sponsors_are_not_eligible(kind):
    refusal = domain.cofunding_refusal(sponsor(kind), 5_000_000)
    assert refusal.code == "cofunding_not_eligible"
    assert refusal.details["rule"] == "local_authority"


def test_minimum_order_of_10000_eur_face_value_for_towns_ordering_as_a_group():
    """The sources tie the 10,000 EUR minimum to towns applying as a group of at least 2."""
    group = sponsor("town_group", "33063", members=["33063", "33318"])
    assert domain.cofunding_refusal(group, 1_000_000) is None  # exactly 10,000.00 EUR
    refusal = domain.cofunding_refusal(group, 999_999)
    assert refusal.details == {
        "kind": "town_group",
        "face_value_cents": 999_999,
        "rule": "minimum_order",
        "minimum_cents": 1_000_000,
    }
    town = sponsor("town", "33063", members=["33318"])
    assert domain.cofunding_refusal(town, 999_999).details["rule"] == "minimum_order"
    # a department, a region, a metropolis: no minimum by default
    for kind in ("department", "region", "metropolis"):
        assert domain.cofunding_refusal(sponsor(kind), 100_000) is None


def test_a_campaign_says_which_kinds_the_minimum_applies_to():
    everyone = {"minimum_order_cents": 500_000, "minimum_order_kinds": ["department", "town"]}
    with pytest.raises(CofundingNotEligible) as caught:
        domain.check_cofunding_eligible(sponsor("department"), 499_999, everyone)
    assert caught.value.details["minimum_cents"] == 500_000
    domain.check_cofunding_eligible(sponsor("department"), 500_000, everyone)
    domain.check_cofunding_eligible(sponsor("region"), 1, everyone)


# -- lifecycle -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "action, allowed",
    [
        ("submit", {"draft"}),
        ("decide_cofunding", {"cofunding_pending"}),
        ("pay", {"submitted", "cofunding_approved", "cofunding_refused"}),
        ("mark_issued", {"confirmed"}),
        ("dispatch", {"issued"}),
        (
            "cancel",
            {
                "draft",
                "submitted",
                "cofunding_pending",
                "cofunding_approved",
                "cofunding_refused",
            },
        ),
    ],
)
def test_each_action_is_allowed_from_its_statuses_only(action, allowed):
    for status in OrderStatus:
        if status.value in allowed:
            domain.require_status({"status": status.value}, action)
        else:
            with pytest.raises(InvalidOrderTransition) as caught:
                domain.require_status({"status": status.value}, action)
            assert caught.value.details["status"] == status.value


def test_cannot_cancel_once_confirmed():
    """Confirmation starts issuance: the coupons may be redeemed whatever ordering says next (a
    confirmed order cancelled then paid twice: 20,280 c out for 10,400 c in)."""
    for status in ("confirmed", "issued", "dispatched", "cancelled"):
        with pytest.raises(InvalidOrderTransition):
            domain.require_status({"status": status}, "cancel")


def test_ownership():
    mine = {"role": "sponsor", "subject_id": "spo_a"}
    domain.require_owner(mine, "spo_a")
    domain.require_owner({"role": "operator", "subject_id": None}, "spo_a")
    for actor in (
        {"role": "sponsor", "subject_id": "spo_b"},
        {"role": "distributor", "subject_id": "spo_a"},
        {"role": "venue", "subject_id": "spo_a"},
    ):
        with pytest.raises(NotYours):
            domain.require_owner(actor, "spo_a")


# -- payments --------------------------------------------------------------------------------------
def order(status="cofunding_approved", rate=5000, payments=()):
    return {
        "status": status,
        "quote": quote(LINE_200_X_10, rate).as_dict(),
        "payments": list(payments),
    }


def pay(payer, amount, reference):
    return {"payer": payer, "amount_cents": amount, "reference": reference}


def test_fully_paid_when_both_shares_are():
    o = order()
    sponsor_pay, state_pay = pay("sponsor", 1_080_000, "V1"), pay("state", 1_000_000, "S1")
    assert not domain.fully_paid(o, [sponsor_pay])
    assert not domain.fully_paid(o, [state_pay])
    assert domain.fully_paid(o, [sponsor_pay, state_pay])
    partial = [pay("sponsor", 80_000, "V1"), pay("sponsor", 1_000_000, "V2"), state_pay]
    assert domain.fully_paid(o, partial)
    assert domain.fully_paid(order("submitted", 0), [pay("sponsor", 2_080_000, "V1")])


def test_overpayment_is_refused_with_what_is_left():
    o = order(payments=[pay("sponsor", 1_000_000, "V1")])
    with pytest.raises(Overpayment) as caught:
        domain.check_payment(o, pay("sponsor", 80_001, "V2"))
    assert caught.value.details["left_cents"] == 80_000
    assert domain.check_payment(o, pay("sponsor", 80_000, "V2")) is None
    with pytest.raises(Overpayment):
        domain.check_payment(o, pay("state", 1_000_001, "S1"))


def test_state_pays_only_an_approved_co_funding():
    for status, rate in (("submitted", 0), ("cofunding_refused", 0)):
        with pytest.raises(StatePaymentNotExpected):
            domain.check_payment(order(status, rate), pay("state", 1, "S1"))


def test_same_reference_is_a_replay_or_a_conflict():
    first = pay("sponsor", 500, "VIR 2026/11 n1")
    o = order(payments=[first])
    assert domain.check_payment(o, dict(first)) == first
    with pytest.raises(PaymentReferenceConflict):
        domain.check_payment(o, {**first, "amount_cents": 501})
    # a replay after confirmation is still answered, not refused
    assert domain.check_payment({**o, "status": "confirmed"}, dict(first)) == first


def test_no_payment_in_draft_or_pending():
    for status in ("draft", "cofunding_pending", "confirmed", "cancelled"):
        with pytest.raises(InvalidOrderTransition):
            domain.check_payment(order(status), pay("sponsor", 1, "V1"))
