"""What redemption does, over its own store: learn from events, check, redeem, void."""

from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.redemption import domain
from services.redemption.domain import CouponStatus, RedemptionStatus, parse_time
from services.redemption.exceptions import (
    BookletCancelled,
    CouponAlreadyRedeemed,
    CouponExpired,
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
from shared import serials
from shared.events import CouponsRedeemed, RedemptionVoided
from shared.ids import looks_like_id, new_id
from shared.outbox import outbox_entry
from shared.schemas import iso, utcnow


def now_naive():
    return utcnow().replace(tzinfo=None)


def to_naive(value):
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


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
    valid_from, valid_until = parse_time(event["valid_from"]), parse_time(event["valid_until"])
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
            "valid_from": parse_time(event["valid_from"]),
            "valid_until": parse_time(event["valid_until"]),
            "activated_at": parse_time(event["activated_at"]),
        },
    )


def on_booklet_cancelled(repo, event):
    repo.upsert_booklet(
        event["booklet_serial"],
        {"order_id": event["order_id"], "sponsor_id": event["sponsor_id"]},
        {"cancelled": True, "cancelled_at": parse_time(event["cancelled_at"])},
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


# -- checks --------------------------------------------------------------------------------
def _parse(coupon):
    try:
        serial = serials.coupon_serial(serials.parse_coupon_serial(coupon["serial"]))
    except serials.InvalidSerial as exc:
        raise InvalidSerialInput(str(exc), details={"serial": coupon["serial"][:40]}) from None
    if not serials.is_well_formed_code(coupon["code"]):
        raise InvalidCodeFormat(details={"serial": serial})
    return serial, serials.normalize(coupon["code"])


def _venue(repo, venue_id, service_id):
    venue = repo.venue(venue_id)
    if venue is None or venue["status"] != "accredited":
        raise VenueNotAccredited(details={"venue_id": venue_id})
    if service_id is None:
        return venue, None
    if service_id not in venue["services"]:
        raise ServiceNotOffered(details={"service_id": service_id})
    return venue, venue["services"][service_id]


def _check_not_locked(repo, venue_id, now):
    lock = repo.active_lock(venue_id, now)
    if lock:
        raise VenueLocked(details={"locked_until": iso(lock["locked_until"])})


def _wrong_code(repo, venue_id, serial, now):
    """Count a wrong code; lock the venue when it reaches the threshold."""
    window = domain.window_start(now)
    count = repo.count_wrong_code(venue_id, window)
    if count == domain.WRONG_CODES_PER_WINDOW:
        repo.lock(
            {
                "venue_id": venue_id,
                "wrong_codes": count,
                "window_start": window,
                "locked_at": now,
                "locked_until": now + timedelta(minutes=domain.LOCK_MINUTES),
            }
        )
    raise InvalidSecurityCode(details={"serial": serial})


def check_coupon(repo, digest_key, venue, category, serial, code, now, accepted_at=None):
    """The coupon as stored, if ``venue`` may redeem it now for ``category``; else why not."""
    coupon = repo.coupon(serial)
    if coupon is None:
        raise CouponNotFound(details={"serial": serial})
    if not serials.code_matches(digest_key, serial, code, coupon["code_digest"]):
        _wrong_code(repo, venue["venue_id"], serial, now)
    booklet = repo.booklet(coupon["booklet_serial"])
    if booklet.get("cancelled"):
        raise BookletCancelled(details={"serial": serial})
    if coupon["status"] == CouponStatus.EXPIRED:
        raise CouponExpired(details={"serial": serial})
    if coupon["status"] in (CouponStatus.REDEEMED, CouponStatus.RESERVED):
        redeemed_at = coupon.get("redeemed_at")
        raise CouponAlreadyRedeemed(
            details={"serial": serial, "redeemed_at": iso(redeemed_at) if redeemed_at else None}
        )
    domain.check_validity(booklet["valid_from"], booklet["valid_until"], now, accepted_at)
    order = repo.order(coupon["order_id"]) or {"rules": {}}
    if category is not None:
        domain.check_rules(order["rules"], venue, category)
    return coupon, booklet


class Prefetched:
    """The reads of one request's checks in three queries (coupons, their booklets, their orders:
    ``$in`` on unique keys) instead of three per coupon; every other call goes to the store.
    Only reads: the claims that follow are conditional updates on the store itself."""

    def __init__(self, repo, serials):
        self._repo = repo
        self._coupons = {c["serial"]: c for c in repo.coupons(serials)}
        booklets = {c["booklet_serial"] for c in self._coupons.values()}
        self._booklets = {b["serial"]: b for b in repo.booklets(booklets)} if booklets else {}
        orders = {c["order_id"] for c in self._coupons.values()}
        self._orders = {o["order_id"]: o for o in repo.orders(orders)} if orders else {}

    def coupon(self, serial):
        return self._coupons.get(serial)

    def booklet(self, serial):
        return self._booklets.get(serial)

    def order(self, order_id):
        return self._orders.get(order_id)

    def __getattr__(self, name):
        return getattr(self._repo, name)


def check(repo, digest_key, venue_id, data):
    """``GET /coupons/{serial}?code=``: usable or why not (nothing changes but brute-force counts)."""
    now = now_naive()
    serial, code = _parse(data)
    _check_not_locked(repo, venue_id, now)
    venue, category = _venue(repo, venue_id, data.get("service_id"))
    coupon, booklet = check_coupon(repo, digest_key, venue, category, serial, code, now)
    return {
        "serial": serial,
        "usable": True,
        "face_value_cents": coupon["face_value_cents"],
        "valid_until": iso(booklet["valid_until"]),
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
    if existing["status"] == RedemptionStatus.PENDING:
        raise RequestInProgress()
    return existing


def redeem(repo, digest_key, venue_id, data, actor):
    """All the coupons or none: check, claim each with a conditional update, then accept."""
    now = now_naive()
    parsed = [_parse(c) for c in data["coupons"]]  # 400s before any lookup
    existing = repo.redemption_by_key(venue_id, data["idempotency_key"])
    if existing:
        return _replay(existing, data), False
    _check_not_locked(repo, venue_id, now)
    venue, category = _venue(repo, venue_id, data["service_id"])
    accepted_at = to_naive(data.get("accepted_at"))
    lines = []
    reads = Prefetched(repo, [serial for serial, _ in parsed])
    for serial, code in parsed:
        coupon, _ = check_coupon(reads, digest_key, venue, category, serial, code, now, accepted_at)
        lines.append(
            {
                key: coupon[key]
                for key in (
                    "serial",
                    "face_value_cents",
                    "order_id",
                    "sponsor_id",
                    "booklet_serial",
                )
            }
        )
    redemption = {
        "id": new_id("red"),
        "venue_id": venue_id,
        "service_id": data["service_id"],
        "category": category,
        "idempotency_key": data["idempotency_key"],
        "fingerprint": _fingerprint(data),
        "status": RedemptionStatus.PENDING.value,
        "coupons": lines,
        "total_cents": sum(line["face_value_cents"] for line in lines),
        "created_at": now,
        "service_accepted_at": accepted_at,
        "history": [],
        "outbox": [],
    }
    try:
        repo.insert_pending(redemption)
    except DuplicateKeyError:  # the same request, racing: answer as the first one will
        return _replay(repo.redemption_by_key(venue_id, data["idempotency_key"]), data), False
    wanted = [line["serial"] for line in lines]
    if repo.claim_all(wanted, redemption["id"]) < len(wanted):
        # another request took one of them since the checks: give back what we got, name it
        undo_pending(repo, redemption["id"])
        now_held = {c["serial"]: c for c in repo.coupons(wanted)}
        taken = next((s for s in wanted if now_held[s]["status"] != CouponStatus.USABLE), wanted[0])
        redeemed_at = now_held[taken].get("redeemed_at")
        raise CouponAlreadyRedeemed(
            details={"serial": taken, "redeemed_at": iso(redeemed_at) if redeemed_at else None}
        )
    repo.mark_redeemed(redemption["id"], now)
    event = CouponsRedeemed().dump(
        {
            "redemption_id": redemption["id"],
            "venue_id": venue_id,
            "service_id": data["service_id"],
            "category": category,
            "coupons": lines,
            "total_cents": redemption["total_cents"],
            "redeemed_at": iso(now),
        }
    )
    accepted = repo.finish(
        redemption["id"],
        RedemptionStatus.PENDING,
        {"status": RedemptionStatus.ACCEPTED.value, "accepted_at": now},
        _history("pending", "accepted", actor, now),
        outbox_entry("coupons_redeemed", event),
    )
    return accepted, True


def undo_pending(repo, redemption_id):
    """Undo a redemption interrupted before it was accepted (its claimed coupons are freed)."""
    repo.release(redemption_id, CouponStatus.RESERVED)
    repo.delete_pending(redemption_id)


def recover(repo):
    """Timer: finish what a crash interrupted (pending redemptions, voids not yet released)."""
    before = now_naive() - timedelta(seconds=domain.PENDING_TIMEOUT_SECONDS)
    for stale in repo.stale_pending(before):
        undo_pending(repo, stale["id"])
    for voided in repo.voided_unreleased():
        _release_voided(repo, voided["id"])


# -- void and read -------------------------------------------------------------------------
def get_redemption(repo, redemption_id, venue_id=None):
    redemption = repo.redemption(redemption_id) if looks_like_id(redemption_id, "red") else None
    if redemption is None or redemption["status"] == RedemptionStatus.PENDING:
        raise RedemptionNotFound(details={"redemption_id": redemption_id})
    if venue_id is not None and redemption["venue_id"] != venue_id:
        raise NotYours(details={"redemption_id": redemption_id})
    return redemption


def void(repo, redemption_id, venue_id, actor):
    """Undo an accepted redemption before it is settled; its coupons become usable again."""
    redemption = get_redemption(repo, redemption_id, venue_id)
    now = now_naive()
    event = RedemptionVoided().dump(
        {
            "redemption_id": redemption_id,
            "venue_id": redemption["venue_id"],
            "coupons": redemption["coupons"],
            "total_cents": redemption["total_cents"],
            "voided_at": iso(now),
        }
    )
    voided = repo.finish(
        redemption_id,
        RedemptionStatus.ACCEPTED,
        {"status": RedemptionStatus.VOIDED.value, "voided_at": now, "coupons_released": False},
        _history("accepted", "voided", actor, now),
        outbox_entry("redemption_voided", event),
    )
    if voided is None:
        raise NotVoidable(details={"status": repo.redemption(redemption_id)["status"]})
    _release_voided(repo, redemption_id)
    return repo.redemption(redemption_id)


def _release_voided(repo, redemption_id):
    repo.release(redemption_id, CouponStatus.REDEEMED)
    repo.mark_released(redemption_id)


def _history(status_from, status_to, actor, at):
    return {"from": status_from, "to": status_to, "by": actor, "at": iso(at), "reason": None}


def out(redemption):
    """A redemption as clients see it (times as ISO text; no fingerprint, no key)."""
    result = {k: v for k, v in redemption.items() if k not in ("fingerprint", "outbox")}
    for key in ("created_at", "accepted_at", "voided_at", "settled_at"):
        if isinstance(result.get(key), datetime):
            result[key] = iso(result[key])
    return result
