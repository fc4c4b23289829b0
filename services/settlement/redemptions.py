"""Settlement's intake of redemption's events: a venue is owed the face value of the coupons it
redeemed (paid by the next run); a void before a run drops the line, after a run it is refused.
Each in one transaction, whatever arrived before it."""

import logging

from services.settlement.domain import PayableStatus
from services.settlement.postings import _post_redemption, _post_void
from shared import times

log = logging.getLogger(__name__)


# -- redemption ---------------------------------------------------------------------------------
def on_coupons_redeemed(repo, event):
    """A venue is owed the face value of the coupons it redeemed (paid by the next run).

    One transaction: the coupons, the payable line and the journal entry change together or
    not at all (a crash half way leaves nothing for the redelivery to repair)."""
    repo.in_transaction(lambda tx: _book_redemption(tx, event))


def face_by_order(coupons):
    """``{order_id: face value}`` of an event's coupons."""
    by_order = {}
    for coupon in coupons:
        by_order[coupon["order_id"]] = (
            by_order.get(coupon["order_id"], 0) + coupon["face_value_cents"]
        )
    return by_order


def _order_lines(by_order, sign=1):
    """A payable line's ``orders``: ``[{order_id, amount_cents}]`` (what the run pays per
    order)."""
    return [
        {"order_id": order_id, "amount_cents": sign * cents}
        for order_id, cents in sorted(by_order.items())
    ]


def _book_redemption(repo, event):
    """Book a redemption, whatever arrived before it (docs/settlement.md, "Whatever the order of
    events"): its void (the pair of entries is written now), its order's cancellation (disputed),
    another redemption or the expiry of its coupons (disputed), or nothing yet of its order's
    money (it waits, unpaid, for the confirmation)."""
    rid = event["redemption_id"]
    by_serial = {c["serial"]: c for c in event["coupons"]}
    by_order = face_by_order(event["coupons"])
    known = repo.get_payable(rid)
    item = {
        "id": rid,
        "redemption_id": rid,
        "kind": "redemption",
        "venue_id": event["venue_id"],
        "service_id": event["service_id"],
        "category": event["category"],
        "serials": sorted(by_serial),
        "coupon_count": len(by_serial),
        "amount_cents": event["total_cents"],
        "orders": _order_lines(by_order),
        "redeemed_at": times.parse(event["redeemed_at"]),
        "status": PayableStatus.OPEN,
        "run_id": None,
    }
    if known is not None and known["status"] == PayableStatus.DISPUTED:
        return
    # the coupons' orders were confirmed (a cancellation arriving from now on is refused); an
    # order whose cancellation was honoured was refunded: its coupons are never paid. Written
    # in this transaction, so that a cancellation at the same time cannot pass unseen.
    orders = {order_id: repo.note_coupons_of(order_id) or {} for order_id in by_order}
    if known is not None and known["status"] == PayableStatus.VOIDED:
        # voided already (the void overtook it, or this is a redelivery): its coupons stay
        # usable; the void waited for its redemption, both entries are written now, together
        # (nothing is owed: the venue's payable never goes below zero)
        repo.add_payable(item)
        _post_redemption(repo, item)
        _post_void(repo, item, known.get("voided_at") or item["redeemed_at"])
        return
    cancelled = sorted(o for o, order in orders.items() if order.get("status") == "cancelled")
    if cancelled:
        log.error(
            "redemption %s holds coupons of orders cancelled and refunded %s: not paid",
            rid,
            cancelled,
        )
        repo.add_payable(
            {
                **item,
                "status": PayableStatus.DISPUTED,
                "disputed_reason": "order_cancelled",
                "disputed_orders": cancelled,
            }
        )
        return
    refused = repo.mark_redeemed(list(by_serial), rid, by_serial)
    if refused:
        # a coupon already expired and refunded (or redeemed elsewhere, or paid to another
        # redemption whose void settlement refused): paying it would pay a coupon twice. The
        # redemption is kept aside for the operator; no money moves.
        log.error("redemption %s holds coupons no longer outstanding: %s", rid, refused)
        repo.release_coupons(rid)
        repo.add_payable(
            {
                **item,
                "status": PayableStatus.DISPUTED,
                "disputed_reason": "not_outstanding",
                "disputed_serials": refused,
            }
        )
        return
    waiting = sorted(o for o, order in orders.items() if order.get("status") != "confirmed")
    if waiting:
        # no money booked in for these orders yet (their confirmation is late): the coupons are
        # taken, the line waits unpaid, no entry; the confirmation books it (or the next run)
        repo.add_payable({**item, "status": PayableStatus.WAITING, "waiting_orders": waiting})
        repo.note_waiting(waiting)
        return
    if known is not None and known["status"] == PayableStatus.WAITING:
        repo.open_waiting(rid)  # redelivered once its orders are confirmed: booked now
    repo.add_payable(item)
    _post_redemption(repo, item)


def on_redemption_voided(repo, event):
    """Before a run: the line is dropped. After a run paid it (the void crossed the run): the
    void is refused (the venue keeps what it was paid; the coupons stay used), recorded for the
    operator (``anomalies``: ``void_refused``).

    One transaction: the line, the coupons and the journal entries."""
    repo.in_transaction(lambda tx: _book_void(tx, event))


def _book_void(repo, event):
    rid = event["redemption_id"]
    at = times.parse(event["voided_at"])
    before = repo.void_payable(rid, {"voided_at": at, "venue_id": event["venue_id"]})
    if before is None:
        return  # before its redemption: nothing booked; the redemption writes both entries
    status = before.get("status")
    if status == PayableStatus.SETTLED:
        # a run took (and paid) the line before the void arrived: a coupon's face value is
        # payable to one redemption only, so the void cannot free its coupons to be paid again
        log.error(
            "redemption %s: void refused, run %s paid it already; the coupons stay used",
            rid,
            before.get("run_id"),
        )
        repo.refuse_void(rid, at)
        return
    if status not in (PayableStatus.OPEN, PayableStatus.WAITING):
        return  # disputed (no money moved for it), or voided already (a redelivery)
    repo.release_coupons(rid)
    if status == PayableStatus.WAITING:
        _post_redemption(repo, before)  # it waited unbooked: the pair, together
    _post_void(repo, before, at)
