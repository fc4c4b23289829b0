"""What redemption does, over its own store: learn from events, check, redeem, void."""

from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.redemption import domain
from services.redemption.domain import CouponStatus, RedemptionStatus
from shared import serials, times
from shared.contracts.errors_redemption import (
    BookletCancelled,
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponLocked,
    CouponNotFound,
    IdempotencyKeyReused,
    InvalidCodeFormat,
    InvalidSecurityCode,
    InvalidSerialInput,
    NotVoidable,
    NotYours,
    RedemptionNotFound,
    RequestInProgress,
    ServiceNotOffered,
    VenueLocked,
    VenueNotAccredited,
)
from shared.errors import AppError
from shared.events import CouponsRedeemed, RedemptionVoided
from shared.history import history_entry
from shared.ids import looks_like_id, new_id
from shared.outbox import OUTBOX_FIELD, outbox_entry


# -- learning from events (every handler idempotent) ---------------------------------------
def on_booklets_issued(repo, event):
    repo.upsert_order(
        {
            "order_id": event["order_id"],
            "sponsor_id": event["sponsor_id"],
            "territory": event["territory"],
            "rules": event["rules"],
        }
    )
    valid_from, valid_until = times.parse(event["valid_from"]), times.parse(event["valid_until"])
    coupons = []
    for booklet in event["booklets"]:
        repo.upsert_booklet(
            booklet["serial"],
            {
                "order_id": event["order_id"],
                "sponsor_id": event["sponsor_id"],
                "valid_from": valid_from,
                "valid_until": valid_until,
                "cancelled": False,
            },
        )
        for coupon in booklet["coupons"]:
            coupons.append(
                {
                    "serial": coupon["serial"],
                    "code_digest": coupon["code_digest"],
                    "face_value_cents": coupon["face_value_cents"],
                    "booklet_serial": booklet["serial"],
                    "order_id": event["order_id"],
                    "sponsor_id": event["sponsor_id"],
                    "status": CouponStatus.USABLE.value,
                }
            )
    return repo.add_coupons(coupons)


def on_booklet_activated(repo, event):
    repo.upsert_booklet(
        event["booklet_serial"],
        {"order_id": event["order_id"], "sponsor_id": event["sponsor_id"], "cancelled": False},
        {
            "valid_from": times.parse(event["valid_from"]),
            "valid_until": times.parse(event["valid_until"]),
            "activated_at": times.parse(event["activated_at"]),
        },
    )


def on_booklet_cancelled(repo, event):
    repo.upsert_booklet(
        event["booklet_serial"],
        {"order_id": event["order_id"], "sponsor_id": event["sponsor_id"]},
        {"cancelled": True, "cancelled_at": times.parse(event["cancelled_at"])},
    )


def on_venue_changed(repo, event):
    venue = {
        "venue_id": event["venue_id"],
        "version": event["version"],
        "status": event["status"],
        "venue_type": event["venue_type"],
        "department": event["department"],
        "town_code": event["town_code"],
        "services": {s["service_id"]: s["category"] for s in event["services"]},
    }
    repo.save_venue_if_newer(venue)


# -- checks (pure: over what one read returned) ---------------------------------------------
LINE_FIELDS = ("serial", "face_value_cents", "order_id", "sponsor_id", "booklet_serial")


def _parse(coupon):
    try:
        serial = serials.coupon_serial(serials.parse_coupon_serial(coupon["serial"]))
    except serials.InvalidSerial as exc:
        raise InvalidSerialInput(str(exc), details={"serial": coupon["serial"][:40]}) from None
    if not serials.is_well_formed_code(coupon["code"]):
        raise InvalidCodeFormat(details={"serial": serial})
    return serial, serials.normalize(coupon["code"])


def check_venue(venue, venue_id, service_id, now):
    """The category of ``service_id`` if ``venue`` (as read, with its lock) may redeem now."""
    locked_until = domain.locked_until(venue, now)
    if locked_until is not None:
        raise VenueLocked(details={"locked_until": times.iso(locked_until)})
    if venue is None or venue["status"] != "accredited":
        raise VenueNotAccredited(details={"venue_id": venue_id})
    if service_id is None:
        return None
    if service_id not in venue["services"]:
        raise ServiceNotOffered(details={"service_id": service_id})
    return venue["services"][service_id]


def check_coupon(digest_key, venue, category, serial, code, found, now, accepted_at=None):
    """The coupon as read (``found``: its snapshot entry, or None), if ``venue`` may redeem it
    now for ``category``; else why not. An unknown serial and a wrong code are counted by the
    caller (:func:`_count_guess`); a locked coupon is refused before its code is compared, so
    that it confirms no guess."""
    if found is None or found["booklet"] is None:
        raise CouponNotFound(details={"serial": serial})
    coupon, booklet = found["coupon"], found["booklet"]
    locked_until = domain.locked_until(coupon, now)
    if locked_until is not None:
        raise _coupon_locked(serial, locked_until)
    if not serials.code_matches(digest_key, serial, code, coupon["code_digest"]):
        raise InvalidSecurityCode(details={"serial": serial})
    if booklet.get("cancelled"):
        raise BookletCancelled(details={"serial": serial})
    if coupon["status"] == CouponStatus.EXPIRED:
        raise CouponExpired(details={"serial": serial})
    if coupon["status"] != CouponStatus.USABLE:
        raise _already_redeemed(serial, coupon)
    domain.check_validity(booklet["valid_from"], booklet["valid_until"], now, accepted_at)
    if category is not None:
        domain.check_rules((found["order"] or {}).get("rules") or {}, venue, category)
    return coupon, booklet


def _already_redeemed(serial, coupon):
    redeemed_at = coupon.get("redeemed_at")
    return CouponAlreadyRedeemed(
        details={"serial": serial, "redeemed_at": times.iso(redeemed_at) if redeemed_at else None}
    )


def _coupon_locked(serial, locked_until):
    return CouponLocked(details={"serial": serial, "locked_until": times.iso(locked_until)})


# the refusals that answer a guess (a serial that exists or not, a code right or wrong): counted
GUESSES = (CouponNotFound, InvalidSecurityCode)


def _count_guess(repo, venue_id, refusal, now):
    """Count a failed guess before answering it: against the venue (a wrong code or an unknown
    serial), then, for a wrong code, against the coupon, each in one atomic update that also
    checks the lock. Returns if both counted it (the refusal is answered); raises
    ``VenueLocked`` or ``CouponLocked`` if the venue or the coupon got locked since the read
    (the guess is then neither counted there nor answered)."""
    serial = refusal.details["serial"]
    wrong_code = isinstance(refusal, InvalidSecurityCode)
    failure = {
        "at": now,
        "venue_id": venue_id,
        "serial": serial,
        "reason": domain.Guess.WRONG_CODE if wrong_code else domain.Guess.UNKNOWN_SERIAL,
    }
    _guess(repo, domain.VENUE_GUARD, venue_id, failure, now)
    if wrong_code:
        _guess(repo, domain.COUPON_GUARD, serial, failure, now)


def _guess(repo, guard, subject_id, failure, now):
    lock_id = new_id("lck")
    counted, state = repo.record_failure(guard, subject_id, failure, now, lock_id)
    if state is not None and state.get("lock_id") == lock_id:  # this failure locked it
        repo.add_lock(domain.lock_record(guard, subject_id, state, lock_id, now))
    if not counted and state is not None:
        locked_until = state.get("locked_until") or now
        if guard.kind == domain.COUPON_GUARD.kind:
            raise _coupon_locked(subject_id, locked_until)
        raise VenueLocked(details={"locked_until": times.iso(locked_until)})


def check(repo, digest_key, venue_id, data, now=None):
    """``GET /coupons/{serial}?code=``: usable or why not (nothing changes but the counts of
    failed guesses)."""
    now = times.aware(now) or times.now()
    serial, code = _parse(data)
    snapshot = repo.snapshot(venue_id, [serial])
    try:
        category = check_venue(snapshot.venue, venue_id, data.get("service_id"), now)
        coupon, booklet = check_coupon(
            digest_key, snapshot.venue, category, serial, code, snapshot.coupons.get(serial), now
        )
    except GUESSES as refusal:
        _count_guess(repo, venue_id, refusal, now)
        raise
    return {
        "serial": serial,
        "usable": True,
        "face_value_cents": coupon["face_value_cents"],
        "valid_until": times.iso(booklet["valid_until"]),
    }


# -- redeem --------------------------------------------------------------------------------
def _fingerprint(data):
    return {
        "service_id": data["service_id"],
        "serials": sorted(_parse(c)[0] for c in data["coupons"]),
    }


def _replay(existing, data):
    if existing["fingerprint"] != _fingerprint(data):
        raise IdempotencyKeyReused(details={"idempotency_key": existing["idempotency_key"]})
    return existing


def _replay_by_key(repo, venue_id, data):
    """Coupons carry this request's claim key: it is done (answer as the first time) or still
    being written (retry in a moment)."""
    existing = repo.redemption_by_key(venue_id, data["idempotency_key"])
    if existing is None:
        raise RequestInProgress()
    return _replay(existing, data)


def redeem(repo, digest_key, venue_id, data, actor, now=None):
    """All the coupons or none, idempotent on ``(venue_id, idempotency_key)``; four round trips
    when accepted: read everything, claim the coupons, insert the accepted redemption with its
    event in the outbox (the service then publishes it and pulls it from the outbox).

    Returns ``(redemption, created)``; a created redemption still holds its ``outbox``."""
    now = times.aware(now) or times.now()
    parsed = [_parse(c) for c in data["coupons"]]  # 400s before any lookup
    wanted = [serial for serial, _ in parsed]
    key = domain.claim_key(venue_id, data["idempotency_key"])
    snapshot = repo.snapshot(venue_id, wanted)  # round trip 1
    if any(found["coupon"].get("claim_key") == key for found in snapshot.coupons.values()):
        return _replay_by_key(repo, venue_id, data), False
    try:
        category, lines = _check_request(digest_key, snapshot, venue_id, data, parsed, now)
    except AppError as refusal:
        # a retried request answers as the first time, even if things changed since (a void)
        existing = repo.redemption_by_key(venue_id, data["idempotency_key"])
        if existing is not None:
            return _replay(existing, data), False
        if isinstance(refusal, GUESSES):
            _count_guess(repo, venue_id, refusal, now)
        raise
    redemption_id = new_id("red")
    if repo.claim(wanted, redemption_id, key, now) < len(wanted):  # round trip 2
        repo.release(redemption_id)  # another request took one since the read: give back ours
        return _explain_taken(repo, venue_id, data, wanted, key, now), False
    event = CouponsRedeemed().dump(
        {
            "redemption_id": redemption_id,
            "venue_id": venue_id,
            "service_id": data["service_id"],
            "category": category,
            "coupons": lines,
            "total_cents": sum(line["face_value_cents"] for line in lines),
            "redeemed_at": times.iso(now),
        }
    )
    redemption = {
        "id": redemption_id,
        "venue_id": venue_id,
        "service_id": data["service_id"],
        "category": category,
        "idempotency_key": data["idempotency_key"],
        "fingerprint": _fingerprint(data),
        "status": RedemptionStatus.ACCEPTED.value,
        "coupons": lines,
        "total_cents": event["total_cents"],
        "created_at": now,
        "accepted_at": now,
        "service_accepted_at": times.aware(data.get("accepted_at")),
        "history": [history_entry(None, "accepted", actor, times.iso(now))],
        OUTBOX_FIELD: [outbox_entry("coupons_redeemed", event)],
    }
    try:
        repo.insert_redemption(redemption)  # round trip 3
    except DuplicateKeyError:
        return _insert_refused(repo, redemption, data)
    return redemption, True


def _check_request(digest_key, snapshot, venue_id, data, parsed, now):
    """Every check of a redemption, in the documented order, over the snapshot."""
    accepted_at = times.aware(data.get("accepted_at"))
    category = check_venue(snapshot.venue, venue_id, data["service_id"], now)
    lines = []
    for serial, code in parsed:
        coupon, _ = check_coupon(
            digest_key,
            snapshot.venue,
            category,
            serial,
            code,
            snapshot.coupons.get(serial),
            now,
            accepted_at,
        )
        lines.append({field: coupon[field] for field in LINE_FIELDS})
    return category, lines


def _explain_taken(repo, venue_id, data, wanted, key, now):
    """A claim got fewer coupons than asked (and gave them back): say which one was taken (or
    locked since the read), or answer as the same request that took them."""
    held = {coupon["serial"]: coupon for coupon in repo.coupons(wanted)}
    if any(coupon.get("claim_key") == key for coupon in held.values()):
        return _replay_by_key(repo, venue_id, data)
    for serial in wanted:
        coupon = held.get(serial, {})
        if coupon.get("status") == CouponStatus.EXPIRED:
            raise CouponExpired(details={"serial": serial})
        if coupon.get("status") != CouponStatus.USABLE:
            raise _already_redeemed(serial, coupon)
        locked_until = domain.locked_until(coupon, now)
        if locked_until is not None:
            raise _coupon_locked(serial, locked_until)
    raise _already_redeemed(wanted[0], held.get(wanted[0], {}))


def _insert_refused(repo, redemption, data):
    """The insert of an accepted redemption met a unique index: another request with this key
    (answer as it), or a tombstone with this id (recovery gave this request up: its coupons are
    not ours any more). Either way, give back what this request still holds, and only that."""
    existing = repo.redemption_by_key(redemption["venue_id"], data["idempotency_key"])
    if existing is not None and existing["id"] == redemption["id"]:
        return redemption, True  # our own insert, written once and reported twice
    repo.release(redemption["id"])
    if existing is None:
        raise RequestInProgress("this request took too long and was undone: retry it")
    return _replay(existing, data), False


# -- recovery: claims a crash left without their redemption ----------------------------------
RECOVERY_WATERMARK = "coupon_claims"


def recover(repo, now=None):
    """Timer: give back coupons a crash left claimed without a redemption; release the coupons
    of voids left half done. Returns the ids of the redemptions given up."""
    now = times.aware(now) or times.now()
    given_up = recover_claims(repo, now)
    for voided in repo.voided_unreleased():
        _release_voided(repo, voided["id"])
    return given_up


def recover_claims(repo, now):
    """Claims older than ``PENDING_TIMEOUT_SECONDS`` whose redemption does not exist.

    From a watermark (minus one timeout, for claims written late or by a slower clock) up to
    ``now - timeout``, by windows of ``redeemed_at`` (indexed): the claims of a window, then one
    ``$in`` on the redemptions' ids. An orphan gets a tombstone (status ``abandoned``) under its
    id FIRST; only if that insert succeeds are its coupons released, so a slow request that
    inserts later loses on the unique id and releases nothing it does not own."""
    timeout = timedelta(seconds=domain.PENDING_TIMEOUT_SECONDS)
    upto = now - timeout
    mark = repo.watermark(RECOVERY_WATERMARK)
    start = (
        upto - timedelta(hours=domain.RECOVERY_LOOKBACK_HOURS) if mark is None else mark - timeout
    )
    given_up = []
    while start < upto:
        end = min(upto, start + timedelta(minutes=domain.RECOVERY_STEP_MINUTES))
        given_up += _recover_window(repo, repo.claims_between(start, end), now)
        repo.advance_watermark(RECOVERY_WATERMARK, end)
        start = end
    return given_up


def _recover_window(repo, claims, now):
    held = {}
    for claim in claims:
        held.setdefault(claim["redemption_id"], []).append(claim)
    if not held:
        return []
    statuses = repo.redemption_statuses(held)
    given_up = []
    for redemption_id, coupons in held.items():
        status = statuses.get(redemption_id)
        if status is None:
            status = _tombstone(repo, redemption_id, coupons, now)
        if status == RedemptionStatus.ABANDONED:  # ours now, or a tombstone whose release crashed
            repo.release(redemption_id)
            given_up.append(redemption_id)
    return given_up


def _tombstone(repo, redemption_id, coupons, now):
    """Take ``redemption_id`` for good (its status), or the status of whoever has it."""
    try:
        repo.insert_redemption(
            {
                "id": redemption_id,
                "venue_id": None,  # never a venue's: no client key can meet it
                "idempotency_key": f"abandoned:{redemption_id}",
                "status": RedemptionStatus.ABANDONED.value,
                "claim_key": coupons[0].get("claim_key"),
                "coupons": [{"serial": coupon["serial"]} for coupon in coupons],
                "created_at": now,
                "history": [],
            }
        )
        return RedemptionStatus.ABANDONED
    except DuplicateKeyError:  # the request's own insert came first after all (or a tombstone)
        existing = repo.redemption(redemption_id)
        return existing["status"] if existing else None


def on_run_completed(repo, event):
    """A settlement run paid these redemptions: settled, no longer voidable. One the venue voided
    after the run took it (the void crossed the run) was paid all the same: settlement refuses
    that void, so it is settled too and takes its coupons back (where still usable), so that
    they are not redeemed and paid a second time."""
    at = times.parse(event["completed_at"])
    repo.settle(event["redemption_ids"], event["run_id"], at)
    for redemption in repo.voided_among(event["redemption_ids"]):
        repo.restore_paid(redemption, event["run_id"], at)


# -- void and read -------------------------------------------------------------------------
def get_redemption(repo, redemption_id, venue_id=None):
    redemption = repo.redemption(redemption_id) if looks_like_id(redemption_id, "red") else None
    if redemption is None or redemption["status"] not in domain.VISIBLE_STATUSES:
        raise RedemptionNotFound(details={"redemption_id": redemption_id})
    if venue_id is not None and redemption["venue_id"] != venue_id:
        raise NotYours(details={"redemption_id": redemption_id})
    return redemption


def void(repo, redemption_id, venue_id, actor):
    """Undo an accepted redemption before it is settled; its coupons become usable again."""
    redemption = get_redemption(repo, redemption_id, venue_id)
    now = times.now()
    event = RedemptionVoided().dump(
        {
            "redemption_id": redemption_id,
            "venue_id": redemption["venue_id"],
            "coupons": redemption["coupons"],
            "total_cents": redemption["total_cents"],
            "voided_at": times.iso(now),
        }
    )
    voided = repo.finish(
        redemption_id,
        RedemptionStatus.ACCEPTED,
        {"status": RedemptionStatus.VOIDED.value, "voided_at": now, "coupons_released": False},
        history_entry("accepted", "voided", actor, times.iso(now)),
        outbox_entry("redemption_voided", event),
    )
    if voided is None:
        raise NotVoidable(details={"status": repo.redemption(redemption_id)["status"]})
    _release_voided(repo, redemption_id)
    return repo.redemption(redemption_id)


def _release_voided(repo, redemption_id):
    repo.release(redemption_id)
    repo.mark_released(redemption_id)


def out(redemption):
    """A redemption as clients see it (times as ISO text; no fingerprint, no key)."""
    hidden = ("_id", "fingerprint", OUTBOX_FIELD)
    result = {k: v for k, v in redemption.items() if k not in hidden}
    for key in ("created_at", "accepted_at", "voided_at", "settled_at"):
        if isinstance(result.get(key), datetime):
            result[key] = times.iso(result[key])
    return result
