"""Redemption rules: validity windows, sponsors' rules, brute-force guards. No I/O."""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from shared import times
from shared.contracts.errors_redemption import (
    CouponExpired,
    CouponNotYetValid,
    RuleBroken,
)
from shared.validity import grace_until


@dataclass(frozen=True)
class Guard:
    """Brute-force protection of one kind of subject (a venue, a coupon): ``limit`` failed
    guesses within any ``window`` (sliding: the last ``window`` before each guess) lock the
    subject for ``lock`` from the guess that reached the limit; while locked it is refused (429)
    and its guesses are neither answered nor counted."""

    kind: str
    limit: int
    window: timedelta
    lock: timedelta


# a venue: wrong security codes and unknown serials (a venue probing which serials exist)
VENUE_GUARD = Guard("venue", 10, window=timedelta(minutes=15), lock=timedelta(minutes=15))
# a coupon: wrong security codes from any venues (a coupon guessed from several venues)
COUPON_GUARD = Guard("coupon", 5, window=timedelta(hours=24), lock=timedelta(hours=24))
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
    if now >= grace_until(valid_until):
        raise CouponExpired(
            "the grace month for late submission is over",
            details={
                "valid_until": times.iso(valid_until),
                "grace_until": times.iso(grace_until(valid_until)),
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


class Guess(StrEnum):
    """What a failed guess was (each counts against its venue; a wrong code against its coupon
    too)."""

    WRONG_CODE = "wrong_code"
    UNKNOWN_SERIAL = "unknown_serial"


def locked_until(subject, now):
    """When the lock of ``subject`` (a venue or coupon document as read) ends, if it is locked at
    ``now``; else None."""
    until = (subject or {}).get("locked_until")
    return until if until is not None and until > now else None


def lock_record(guard, subject_id, guard_state, lock_id, now):
    """What operators see of a lock (``GET /redemption-locks``), from the subject's guard as the
    update that locked it left it: the failed guesses of the window, who sent them, until when."""
    failures = guard_state.get("failed_guesses") or []
    reasons = [failure.get("reason") for failure in failures]
    locked_until = guard_state["locked_until"]
    return {
        "lock_id": lock_id,
        "kind": guard.kind,
        "venue_id": subject_id if guard.kind == "venue" else None,
        "serial": subject_id if guard.kind == "coupon" else None,
        "venue_ids": sorted({failure["venue_id"] for failure in failures}),
        "serials": sorted({failure["serial"] for failure in failures}),
        "wrong_codes": reasons.count(Guess.WRONG_CODE),
        "unknown_serials": reasons.count(Guess.UNKNOWN_SERIAL),
        "window_start": failures[0]["at"] if failures else now,
        "locked_at": now,
        "locked_until": locked_until,
        "expires_at": locked_until + timedelta(days=LOCK_HISTORY_DAYS),
    }
