"""Redemption rules: validity windows, sponsors' rules, brute-force windows. No I/O."""

import calendar
from enum import StrEnum

from services.redemption.exceptions import (
    CouponExpired,
    CouponNotYetValid,
    RuleBroken,
)
from shared import times

MAX_COUPONS_PER_REDEMPTION = 50
WRONG_CODES_PER_WINDOW = 10  # wrong security codes a venue may send in one window...
WINDOW_MINUTES = 15  # ...of this many minutes,
LOCK_MINUTES = 15  # before it is refused (429) for this long
LOCK_HISTORY_DAYS = 30  # how long operators still see a lock after it ended (then purged: TTL)
PENDING_TIMEOUT_SECONDS = 15  # coupons claimed this long ago without their redemption: given back
# (a redemption takes well under a second; a later insert of its document loses to the tombstone)
RECOVERY_INTERVAL_SECONDS = 5  # how often the recovery timer looks for such claims
RECOVERY_LOOKBACK_HOURS = 24  # the first recovery run (no watermark yet) looks this far back
RECOVERY_STEP_MINUTES = 60  # claims read per recovery query: at most this span of redeemed_at


class CouponStatus(StrEnum):
    USABLE = "usable"  # issued, not redeemed: may be redeemed if valid
    REDEEMED = "redeemed"  # claimed by a redemption (accepted, settled, or being written)
    EXPIRED = "expired"  # expired and refunded by settlement: never again


class RedemptionStatus(StrEnum):
    ACCEPTED = "accepted"  # coupons redeemed; the venue may still void it
    VOIDED = "voided"  # undone by the venue before settlement; coupons usable again
    SETTLED = "settled"  # paid in a settlement run: final
    ABANDONED = "abandoned"  # tombstone: a crashed request's id, written by recovery; never shown


VISIBLE_STATUSES = (RedemptionStatus.ACCEPTED, RedemptionStatus.VOIDED, RedemptionStatus.SETTLED)


def claim_key(venue_id, idempotency_key):
    """What a claimed coupon records of the request that claimed it (its replay key)."""
    return f"{venue_id}:{idempotency_key}"


def parse_time(text):
    """ISO 8601 text -> NAIVE UTC datetime: kept only for settlement, which still imports it (it
    moves to ``shared.times`` on its own). Redemption itself uses ``shared.times.parse`` (aware)."""
    return times.parse(text).replace(tzinfo=None)


def add_month(moment):
    """The same day and time one calendar month later (last day of the month if needed)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def check_validity(valid_from, valid_until, now, accepted_at=None):
    """Refuse a coupon outside its validity ``[valid_from, valid_until)``.

    Grace month: a coupon the venue accepted in time (``accepted_at`` within the validity, not in
    the future) may be submitted until one month after ``valid_until``.
    """
    moment = accepted_at or now
    if accepted_at is not None and accepted_at > now:
        raise CouponExpired("accepted_at is in the future", code="invalid_accepted_at")
    if moment < valid_from:
        raise CouponNotYetValid(details={"valid_from": times.iso(valid_from)})
    if moment >= valid_until:
        raise CouponExpired(details={"valid_until": times.iso(valid_until)})
    if now >= add_month(valid_until):
        raise CouponExpired(
            "the grace month for late submission is over",
            details={
                "valid_until": times.iso(valid_until),
                "grace_until": times.iso(add_month(valid_until)),
            },
        )


def check_rules(rules, venue, category):
    """Refuse a use the sponsor's rules forbid, naming the rule (empty list = no restriction)."""
    territories = rules.get("territories") or []
    if (
        territories
        and venue["department"] not in territories
        and venue["town_code"] not in territories
    ):
        raise RuleBroken(
            "the sponsor limits these coupons to other territories",
            details={"rule": "territory", "allowed": territories},
            code="rule_territory",
        )
    venue_types = rules.get("venue_types") or []
    if venue_types and venue["venue_type"] not in venue_types:
        raise RuleBroken(
            "the sponsor does not allow this type of venue",
            details={"rule": "venue_type", "allowed": venue_types},
            code="rule_venue_type",
        )
    categories = rules.get("categories") or []
    if categories and category not in categories:
        raise RuleBroken(
            "the sponsor does not allow this category of service",
            details={"rule": "category", "allowed": categories},
            code="rule_category",
        )


def window_start(now):
    """Start of the fixed brute-force window holding ``now``."""
    minutes = (now.hour * 60 + now.minute) // WINDOW_MINUTES * WINDOW_MINUTES
    return now.replace(hour=minutes // 60, minute=minutes % 60, second=0, microsecond=0)
