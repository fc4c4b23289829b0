"""Settlement's event intake from ordering, issuance and catalog: an order's money in (or back,
for an order cancelled before its confirmation), its booklets and coupons, the venues' bank
details. Redemptions and voids are in ``redemptions``.

Every handler is idempotent: its ledger entry has a key made of the event's identity, so a
redelivered event writes nothing; its other writes are upserts or conditional updates."""

import logging
from functools import partial

from services.settlement import domain, periods, snapshots
from services.settlement.postings import (
    book_waiting,
    refund_item,
    sponsor_funder_id,
    state_id,
)
from shared import times
from shared.times import iso

log = logging.getLogger(__name__)


# -- ordering -----------------------------------------------------------------------------------
# No cancellation once confirmed (docs/ordering.md, docs/settlement.md): confirmation starts
# issuance, and from then on the order's coupons may be printed, handed out and redeemed. So
# settlement moves money for an order either as confirmed (money in, coupons a liability, fund
# and fees) or as cancelled before its confirmation (what was paid goes back): whichever of the
# two events it honoured first, never both. Events can arrive late, twice or out of order.
def on_order_confirmed(repo, event):
    """Money in: the sponsor's and the State's payments; the coupons are now a liability; 1 %
    of the face value is the cooperation fund's (of the territory's department).

    An order whose cancellation was honoured first (it reached settlement before this
    confirmation: a reordered or forged stream) is not booked: what it paid was refunded, so
    its coupons must never be paid. Logged at ERROR and recorded (``confirm_refused_at``)."""
    sponsor_share = event["face_value_cents"] - event["state_share_cents"]
    funders = {sponsor_funder_id(event["sponsor_id"]): sponsor_share}
    if event["state_share_cents"]:
        funders[state_id()] = event["state_share_cents"]
    confirmed_at = times.parse(event["confirmed_at"])
    order = repo.confirm_order(
        {
            "order_id": event["order_id"],
            "sponsor_id": event["sponsor_id"],
            "sponsor_name": event["sponsor_name"],
            "sponsor_iban": event.get("sponsor_iban"),
            "invoice_reference": event.get("invoice_reference"),
            "territory": event["territory"],
            "department": domain.department_of(event["territory"]),
            "face_value_cents": event["face_value_cents"],
            "coupon_count": event["coupon_count"],
            "fee_cents": event["fee_cents"],
            "state_share_cents": event["state_share_cents"],
            "cofunded": event["cofunded"],
            "funders": funders,
            "confirmed_at": confirmed_at,
        }
    )
    if order.get("status") != "confirmed":
        log.error(
            "order %s: confirmation refused, the order was cancelled and refunded before it "
            "arrived; no money booked, its coupons will not be paid",
            event["order_id"],
        )
        repo.record_anomaly(event["order_id"], "confirm_refused_at", confirmed_at)
        return
    order_id = event["order_id"]
    repo.post(
        f"order_confirmed:{order_id}",
        "order_confirmed",
        domain.order_confirmed_postings(
            event["face_value_cents"],
            event["fee_cents"],
            event["territory"],
            payers={
                sponsor_funder_id(event["sponsor_id"]): event["face_value_cents"]
                - event["state_share_cents"]
                + event["fee_cents"],
                state_id(): event["state_share_cents"],
            },
            order_id=order_id,
        ),
        confirmed_at,
        {"order_id": order_id, "sponsor_id": event["sponsor_id"]},
    )
    fund = domain.fund_share(event["face_value_cents"])
    repo.add_fund_contribution(
        {
            "id": order_id,
            "order_id": order_id,
            "sponsor_id": event["sponsor_id"],
            "sponsor_name": event["sponsor_name"],
            "territory": event["territory"],
            "department": domain.department_of(event["territory"]),
            "face_value_cents": event["face_value_cents"],
            "amount_cents": fund,
            "order_fee_cents": event["fee_cents"] - fund,
            "confirmed_at": confirmed_at,
        }
    )
    # the money is in: redemptions of its coupons that arrived first and waited are booked
    book_waiting(repo, order_id)


def on_order_cancelled(repo, settings, event):
    """An order cancelled before its confirmation: every cent received goes back to whom paid
    it (fee included: no service was rendered), booked in and straight out to refunds, with a
    credit note per payer.

    An order settlement knows as confirmed, or whose booklets or coupons it has heard of (only
    a confirmed order is issued), is not cancelled: ordering refuses that since confirmation
    starts issuance, so such an event is late, replayed or forged. It moves no money, is
    logged at ERROR and recorded on the order (``cancel_refused_at``) for the operator."""
    at = times.parse(event["cancelled_at"])
    local_day = periods.local_date(at, settings.zone)
    outcome, before = repo.cancel_order(event["order_id"], {"cancelled_at": at})
    if outcome == "refused":
        log.error(
            "order %s: cancellation refused, the order is %s; no money moved (no cancellation "
            "once confirmed)",
            event["order_id"],
            "confirmed" if before.get("status") == "confirmed" else "issued",
        )
        return
    paid = {}
    for payment in event["payments"]:
        funder = (
            state_id() if payment["payer"] == "state" else sponsor_funder_id(event["sponsor_id"])
        )
        paid[funder] = paid.get(funder, 0) + payment["amount_cents"]
    if not sum(paid.values()):
        return
    key = f"order_cancelled:{event['order_id']}"
    repo.post(
        key,
        "order_cancelled",
        domain.cancelled_order_postings(paid, event["order_id"]),
        at,
        {"order_id": event["order_id"], "sponsor_id": event["sponsor_id"]},
    )
    order = before or {}
    items = [
        refund_item(
            settings,
            f"{key}:{funder}",
            funder,
            amount,
            at,
            order_id=event["order_id"],
            reason="order_cancelled",
            sponsor_name=order.get("sponsor_name", event["sponsor_id"]),
            sponsor_iban=order.get("sponsor_iban"),
        )
        for funder, amount in sorted(paid.items())
        if amount
    ]
    repo.add_refunds(items)
    # the invoice is corrected by a new document: a credit note per payer, for all it paid
    total_paid = sum(paid.values())
    for item in items:
        repo.issue_document(
            "credit_note",
            "AV",
            item["id"],
            local_day.year,
            partial(
                snapshots.cancellation_credit_note,
                settings=settings,
                issued_at=iso(at),
                as_of=local_day.isoformat(),
                item=item,
                line={
                    "order_id": event["order_id"],
                    "invoice_reference": event.get("invoice_reference")
                    or order.get("invoice_reference"),
                    "coupon_count": order.get("coupon_count", 0),
                    "face_value_cents": total_paid,
                    "share_bp": item["amount_cents"] * 10_000 // total_paid,
                    "amount_cents": item["amount_cents"],
                },
            ),
        )


# -- issuance -----------------------------------------------------------------------------------
def _coupons_exist(repo, order_id, what):
    """Booklets or coupons of the order exist: it was confirmed (a later cancellation is
    refused). Of an order whose cancellation was honoured (refunded), they are recorded, never
    paid (their redemptions are disputed, their expiry refunds nothing): logged at ERROR."""
    order = repo.note_coupons_of(order_id)
    if order is not None and order.get("status") == "cancelled":
        log.error(
            "order %s was cancelled and refunded, yet %s: its coupons will not be paid",
            order_id,
            what,
        )
        repo.record_anomaly(order_id, "issued_after_cancel_at", times.now())
    return order


def on_booklets_issued(repo, event):
    _coupons_exist(repo, event["order_id"], "booklets of it were issued")
    valid_until = times.parse(event["valid_until"])
    booklets, coupons = [], []
    for booklet in event["booklets"]:
        booklets.append(
            {
                "serial": booklet["serial"],
                "order_id": event["order_id"],
                "sponsor_id": event["sponsor_id"],
                "coupon_count": len(booklet["coupons"]),
                "issued_at": times.parse(event["issued_at"]),
                "activated_at": None,
                "cancelled_at": None,
                "expiry_run_id": None,
                "valid_until": valid_until,
            }
        )
        coupons += [
            {
                "serial": c["serial"],
                "booklet_serial": booklet["serial"],
                "order_id": event["order_id"],
                "sponsor_id": event["sponsor_id"],
                "face_value_cents": c["face_value_cents"],
            }
            for c in booklet["coupons"]
        ]
    repo.add_booklets(booklets, coupons)


def on_booklet_activated(repo, event):
    _coupons_exist(repo, event["order_id"], "a booklet of it was handed out")
    repo.activate_booklet(
        event["booklet_serial"],
        {
            "order_id": event["order_id"],
            "sponsor_id": event["sponsor_id"],
            "activated_at": times.parse(event["activated_at"]),
            "valid_until": times.parse(event["valid_until"]),
            # the anonymous profile (age band, public category, postcode), for the dashboard
            "profile": event.get("profile") or None,
        },
    )


def on_booklet_cancelled(repo, event):
    _coupons_exist(repo, event["order_id"], "a booklet of it was cancelled")
    repo.cancel_booklet(
        event["booklet_serial"],
        {
            "order_id": event["order_id"],
            "sponsor_id": event["sponsor_id"],
            "cancelled_at": times.parse(event["cancelled_at"]),
            "cancel_reason": event["reason"],
        },
    )


# -- catalog ------------------------------------------------------------------------------------
def on_venue_changed(repo, event):
    repo.save_venue_if_newer(
        {
            key: event[key]
            for key in ("venue_id", "version", "status", "name", "department", "town_code", "iban")
        }
    )
