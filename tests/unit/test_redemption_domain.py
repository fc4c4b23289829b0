"""Redemption rules without a broker: validity with the grace month, sponsors' rules, windows."""

from datetime import UTC, datetime, timedelta

import pytest

from services.redemption import domain
from shared.contracts.errors_redemption import CouponExpired, CouponNotYetValid, RuleBroken
from shared.validity import add_month, grace_until

FROM, UNTIL = datetime(2026, 1, 15, tzinfo=UTC), datetime(2027, 1, 15, tzinfo=UTC)
VENUE = {"department": "33", "town_code": "33063", "venue_type": "library"}


def test_valid_inside_the_year():
    domain.check_validity(FROM, UNTIL, datetime(2026, 6, 1, tzinfo=UTC))


def test_not_yet_valid_and_expired():
    with pytest.raises(CouponNotYetValid):
        domain.check_validity(FROM, UNTIL, datetime(2026, 1, 14, tzinfo=UTC))
    with pytest.raises(CouponExpired):
        domain.check_validity(FROM, UNTIL, UNTIL)  # the end is exclusive


def test_grace_month_for_coupons_accepted_in_time():
    late = datetime(2027, 2, 10, tzinfo=UTC)
    domain.check_validity(FROM, UNTIL, late, accepted_at=datetime(2027, 1, 10, tzinfo=UTC))
    with pytest.raises(CouponExpired):  # accepted after the end
        domain.check_validity(FROM, UNTIL, late, accepted_at=datetime(2027, 1, 20, tzinfo=UTC))
    with pytest.raises(CouponExpired) as caught:  # submitted after the grace month
        domain.check_validity(
            FROM,
            UNTIL,
            datetime(2027, 2, 15, tzinfo=UTC),
            accepted_at=datetime(2027, 1, 10, tzinfo=UTC),
        )
    assert caught.value.details["grace_until"] == "2027-02-15T00:00:00Z"
    with pytest.raises(CouponExpired) as caught:
        domain.check_validity(
            FROM,
            UNTIL,
            datetime(2026, 6, 1, tzinfo=UTC),
            accepted_at=datetime(2026, 7, 1, tzinfo=UTC),
        )
    assert caught.value.code == "invalid_accepted_at"


def test_the_grace_month_keeps_the_day_or_takes_the_last_one():
    # shared.validity: redemption accepts late submissions, settlement expires after it
    assert grace_until(datetime(2027, 1, 31, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)
    assert grace_until(datetime(2026, 12, 5, tzinfo=UTC)) == datetime(2027, 1, 5, tzinfo=UTC)
    assert add_month(datetime(2028, 1, 31, 23, 0, tzinfo=UTC)) == datetime(
        2028, 2, 29, 23, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "rules, category, code",
    [
        ({"territories": ["40"]}, "smartphone_use", "rule_territory"),
        ({"venue_types": ["fablab"]}, "smartphone_use", "rule_venue_type"),
        ({"categories": ["job_search_online"]}, "smartphone_use", "rule_category"),
    ],
)
def test_each_rule_is_named(rules, category, code):
    with pytest.raises(RuleBroken) as caught:
        domain.check_rules(rules, VENUE, category)
    assert caught.value.code == code


def test_rules_allow_by_department_or_town():
    domain.check_rules({"territories": ["33"]}, VENUE, "x")
    domain.check_rules({"territories": ["33063"], "venue_types": ["library"]}, VENUE, "x")
    domain.check_rules({}, VENUE, "x")


def test_guards_thresholds_as_documented():
    assert (domain.VENUE_GUARD.limit, domain.VENUE_GUARD.window, domain.VENUE_GUARD.lock) == (
        10,
        timedelta(minutes=15),
        timedelta(minutes=15),
    )
    assert (domain.COUPON_GUARD.limit, domain.COUPON_GUARD.window, domain.COUPON_GUARD.lock) == (
        5,
        timedelta(hours=24),
        timedelta(hours=24),
    )


def test_locked_until_only_while_it_lasts():
    now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert domain.locked_until(None, now) is None
    assert domain.locked_until({}, now) is None
    assert domain.locked_until({"locked_until": now}, now) is None  # ends at locked_until
    later = now + timedelta(seconds=1)
    assert domain.locked_until({"locked_until": later}, now) == later


def test_a_lock_record_names_the_guesses_and_the_venues():
    now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    failures = [
        {"at": now - timedelta(hours=n), "venue_id": f"ven_{n % 2}", "serial": "s1"}
        | {"reason": "wrong_code"}
        for n in (3, 2, 1)
    ]
    state = {"failed_guesses": failures, "locked_until": now + domain.COUPON_GUARD.lock}
    record = domain.lock_record(domain.COUPON_GUARD, "s1", state, "lck_1", now)
    assert (record["kind"], record["serial"], record["venue_id"]) == ("coupon", "s1", None)
    assert record["venue_ids"] == ["ven_0", "ven_1"] and record["wrong_codes"] == 3
    assert record["window_start"] == now - timedelta(hours=3)
    assert record["expires_at"] == state["locked_until"] + timedelta(days=30)


def test_claim_key_names_the_venue_and_the_request():
    assert domain.claim_key("ven_1", "desk-0001-a") == "ven_1:desk-0001-a"


def test_tombstones_are_never_shown():
    assert domain.RedemptionStatus.ABANDONED not in domain.VISIBLE_STATUSES
    assert set(domain.VISIBLE_STATUSES) == {"accepted", "voided", "settled"}
