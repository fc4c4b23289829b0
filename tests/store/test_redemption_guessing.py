"""Guessing security codes and serials (issue "Hostile input", finding 3), over the store on the
test run's server, with a controllable clock: guesses counted per venue (wrong codes and unknown
serials, 10 in any 15 minutes) and per coupon (wrong codes from any venues, 5 in any 24 hours);
the lock checked and the failure counted in one atomic update, so concurrent guesses never get
more answers than the threshold; a sliding window, not a fixed one."""

from datetime import UTC, datetime, timedelta

import eventlet
import pytest

from services.redemption import api
from services.redemption.store import RedemptionRepository
from shared import serials, times
from shared.errors import AppError, TooManyAttempts
from shared.mongo import get_database
from tests.redemption_support import (
    DIGEST_KEY,
    VENUE_ACTOR,
    VENUE_ID,
    issued,
    request,
    venue_event,
    wrong,
)

# the documented thresholds (docs/redemption.md, docs/security.md)
VENUE_LIMIT, VENUE_WINDOW, VENUE_LOCK = 10, timedelta(minutes=15), timedelta(minutes=15)
COUPON_LIMIT, COUPON_WINDOW, COUPON_LOCK = 5, timedelta(hours=24), timedelta(hours=24)
T0 = datetime(2026, 3, 2, 14, 59, 55, tzinfo=UTC)


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "redemption", tz_aware=True)
    RedemptionRepository.ensure_indexes(db)
    return RedemptionRepository(db)


def venue(n):
    return f"ven_{n:020x}"


def accredit(repo, *venue_ids):
    for venue_id in venue_ids:
        api.on_venue_changed(repo, venue_event(venue_id))


def issue(repo, count):
    """``count`` coupons valid around T0: ``[(serial, code)]``."""
    event, codes = issued(
        booklets=(count + 9) // 10, per_booklet=10, valid_from=T0 - timedelta(days=30)
    )
    api.on_booklets_issued(repo, event)
    return list(codes.items())[:count]


def outcome(call):
    """What a venue is answered: ``"ok"`` or the error's code (with its details)."""
    try:
        call()
    except AppError as exc:
        return exc.code
    return "ok"


def check(repo, venue_id, serial, code, at):
    query = {"serial": serial, "code": code}
    return outcome(lambda: api.check(repo, DIGEST_KEY, venue_id, query, now=at))


def redeem(repo, venue_id, coupons, at):
    actor = {**VENUE_ACTOR, "subject_id": venue_id}
    return outcome(lambda: api.redeem(repo, DIGEST_KEY, venue_id, request(coupons), actor, now=at))


def unknown_serial(n):
    return serials.coupon_serial(9_000_000 + n)  # well formed, never issued


# -- per coupon: a coupon guessed from several venues locks -----------------------------------
def test_three_venues_nine_wrong_codes_each_at_one_coupon_lock_the_coupon(repo):
    guessers = [venue(1), venue(2), venue(3)]
    accredit(repo, *guessers, VENUE_ID)
    (serial, code), (other, other_code) = issue(repo, 2)

    answers = []
    for attempt in range(9):  # round robin, as in the report: 27 guesses
        for n, guesser in enumerate(guessers):
            at = T0 + timedelta(seconds=attempt * 3 + n)
            answers.append(check(repo, guesser, serial, wrong(code), at))
    assert answers.count("invalid_security_code") == COUPON_LIMIT
    assert answers[:COUPON_LIMIT] == ["invalid_security_code"] * COUPON_LIMIT
    assert set(answers[COUPON_LIMIT:]) == {"coupon_locked"}

    # locked for everyone, even with the right code, for 24 h after the fifth wrong code
    fifth = T0 + timedelta(seconds=COUPON_LIMIT - 1)  # one guess a second
    with pytest.raises(AppError) as caught:
        api.redeem(
            repo,
            DIGEST_KEY,
            VENUE_ID,
            request([(serial, code)]),
            VENUE_ACTOR,
            now=T0 + timedelta(minutes=1),
        )
    assert caught.value.code == "coupon_locked"
    assert isinstance(caught.value, TooManyAttempts)  # 429, as a venue's lock
    assert caught.value.details == {
        "serial": serial,
        "locked_until": times.iso(fifth + COUPON_LOCK),
    }
    assert check(repo, VENUE_ID, serial, code, fifth + COUPON_LOCK - timedelta(seconds=1)) == (
        "coupon_locked"
    )
    assert check(repo, VENUE_ID, other, other_code, T0) == "ok"  # other coupons are not
    assert redeem(repo, VENUE_ID, [(serial, code)], fifth + COUPON_LOCK) == "ok"  # then over

    (lock,) = [lock for lock in repo.locks()[0] if lock["kind"] == "coupon"]
    assert lock["serial"] == serial and lock["wrong_codes"] == COUPON_LIMIT
    assert lock["venue_ids"] == guessers  # seen by operators: who guessed
    assert lock["locked_until"] == fifth + COUPON_LOCK
    assert not [lock for lock in repo.locks()[0] if lock["kind"] == "venue"]  # no venue reached 10


def test_a_coupon_locks_though_no_venue_guessed_much(repo):
    guessers = [venue(n) for n in range(1, 7)]
    accredit(repo, *guessers)
    ((serial, code),) = issue(repo, 1)
    answers = [
        check(repo, guesser, serial, wrong(code), T0 + timedelta(hours=n * 4))
        for n, guesser in enumerate(guessers)  # one each, over 20 hours
    ]
    assert answers == ["invalid_security_code"] * COUPON_LIMIT + ["coupon_locked"]


def test_wrong_codes_older_than_a_day_are_forgotten(repo):
    accredit(repo, venue(1))
    ((serial, code),) = issue(repo, 1)
    for n in range(COUPON_LIMIT - 1):
        assert check(repo, venue(1), serial, wrong(code), T0 + timedelta(minutes=20 * n)) == (
            "invalid_security_code"
        )
    later = T0 + COUPON_WINDOW + timedelta(hours=1)
    for n in range(COUPON_LIMIT - 1):
        assert check(repo, venue(1), serial, wrong(code), later + timedelta(minutes=20 * n)) == (
            "invalid_security_code"
        )
    assert check(repo, venue(1), serial, code, later + timedelta(hours=2)) == "ok"


# -- per venue: unknown serials are counted ---------------------------------------------------
def test_unknown_serials_lock_the_venue(repo):
    accredit(repo, VENUE_ID)
    ((serial, code),) = issue(repo, 1)
    answers = [
        check(repo, VENUE_ID, unknown_serial(n), code, T0 + timedelta(seconds=n))
        for n in range(VENUE_LIMIT)
    ]
    assert answers == ["coupon_not_found"] * VENUE_LIMIT
    later = T0 + timedelta(minutes=1)
    assert check(repo, VENUE_ID, unknown_serial(99), code, later) == "too_many_attempts"
    assert check(repo, VENUE_ID, serial, code, later) == "too_many_attempts"
    assert redeem(repo, VENUE_ID, [(serial, code)], later) == "too_many_attempts"
    (lock,) = repo.locks()[0]
    assert (lock["kind"], lock["venue_id"]) == ("venue", VENUE_ID)
    assert (lock["unknown_serials"], lock["wrong_codes"]) == (VENUE_LIMIT, 0)
    assert lock["locked_until"] == T0 + timedelta(seconds=VENUE_LIMIT - 1) + VENUE_LOCK


def test_unknown_serials_in_redemptions_count_with_wrong_codes(repo):
    accredit(repo, VENUE_ID)
    coupons = issue(repo, 10)
    answers = []
    for n in range(VENUE_LIMIT // 2):
        serial, code = coupons[n]
        at = T0 + timedelta(seconds=n)
        answers.append(redeem(repo, VENUE_ID, [(serial, code), (unknown_serial(n), code)], at))
        answers.append(redeem(repo, VENUE_ID, [(serial, wrong(code))], at))
    assert answers == ["coupon_not_found", "invalid_security_code"] * (VENUE_LIMIT // 2)
    serial, code = coupons[-1]
    assert redeem(repo, VENUE_ID, [(serial, code)], T0 + timedelta(minutes=1)) == (
        "too_many_attempts"
    )


# -- a sliding window ---------------------------------------------------------------------------
def test_a_burst_across_a_quarter_hour_boundary_locks(repo):
    accredit(repo, VENUE_ID)
    coupons = issue(repo, 20)  # one wrong code per coupon: only the venue's count matters
    before = [
        check(repo, VENUE_ID, serial, wrong(code), T0)  # 14:59:55
        for serial, code in coupons[:9]
    ]
    after = [
        check(repo, VENUE_ID, serial, wrong(code), T0 + timedelta(seconds=10))  # 15:00:05
        for serial, code in coupons[9:18]
    ]
    assert before == ["invalid_security_code"] * 9
    assert after == ["invalid_security_code"] + ["too_many_attempts"] * 8
    serial, code = coupons[19]
    locked_until = T0 + timedelta(seconds=10) + VENUE_LOCK
    assert check(repo, VENUE_ID, serial, code, locked_until - timedelta(seconds=1)) == (
        "too_many_attempts"
    )
    assert check(repo, VENUE_ID, serial, code, locked_until) == "ok"


def test_guesses_further_apart_than_the_window_do_not_add_up(repo):
    accredit(repo, VENUE_ID)
    coupons = issue(repo, 20)
    answers = [
        check(
            repo,
            VENUE_ID,
            serial,
            wrong(code),
            T0 + (VENUE_WINDOW + timedelta(seconds=1)) * (n // 9),
        )
        for n, (serial, code) in enumerate(coupons[:18])  # 9, then 9 more 15 min 1 s later
    ]
    assert answers == ["invalid_security_code"] * 18
    assert repo.locks()[0] == []


# -- one atomic update: concurrent guesses never get more answers than the threshold --------------
def test_concurrent_wrong_codes_from_one_venue_get_exactly_ten_answers(repo):
    accredit(repo, VENUE_ID)
    coupons = issue(repo, 30)
    pool = eventlet.GreenPool(30)  # green threads: every request reads before any counts
    answers = list(
        pool.imap(lambda coupon: check(repo, VENUE_ID, coupon[0], wrong(coupon[1]), T0), coupons)
    )
    assert answers.count("invalid_security_code") == VENUE_LIMIT, answers
    assert answers.count("too_many_attempts") == len(coupons) - VENUE_LIMIT
    assert [lock["kind"] for lock in repo.locks()[0]] == ["venue"]  # locked once


def test_concurrent_wrong_codes_at_one_coupon_get_exactly_five_answers(repo):
    guessers = [venue(n) for n in range(1, 21)]
    accredit(repo, *guessers)
    ((serial, code),) = issue(repo, 1)
    pool = eventlet.GreenPool(20)
    answers = list(
        pool.imap(lambda guesser: check(repo, guesser, serial, wrong(code), T0), guessers)
    )
    assert answers.count("invalid_security_code") == COUPON_LIMIT, answers
    assert answers.count("coupon_locked") == len(guessers) - COUPON_LIMIT
    assert [lock["kind"] for lock in repo.locks()[0]] == ["coupon"]


def test_a_guess_read_before_the_coupon_locked_cannot_redeem_after(repo):
    """The right code, read while the coupon was free, claimed after it locked: refused (the
    claim is conditional on the coupon's lock too), and nothing is kept."""
    accredit(repo, VENUE_ID, venue(1))
    (serial, code), (second, second_code) = issue(repo, 2)

    class LockedMeanwhile(RedemptionRepository):
        def claim(self, *args, **kwargs):
            for _ in range(COUPON_LIMIT):
                check(repo, venue(1), serial, wrong(code), T0)
            return super().claim(*args, **kwargs)

    racing = LockedMeanwhile(repo.db)
    coupons = [(second, second_code), (serial, code)]
    assert redeem(racing, VENUE_ID, coupons, T0) == "coupon_locked"
    held = {coupon["serial"]: coupon for coupon in repo.coupons([serial, second])}
    assert {coupon["status"] for coupon in held.values()} == {"usable"}
