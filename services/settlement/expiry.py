"""Expiry runs: coupons whose validity (and grace month) ended, and coupons of cancelled booklets,
are expired and their face value refunded to the funders pro rata, with one credit note per
funder; the credit notes read back; what expires soon (the sponsor's alerts)."""

import logging
from datetime import timedelta
from functools import partial

from services.settlement import domain, periods, snapshots
from services.settlement.domain import ExpiryRunStatus
from services.settlement.postings import refund_item
from services.settlement.progress import Progress, create_run, once
from shared import times
from shared.contracts.errors_settlement import DocumentNotFound, ExpiryRunNotFound, NotYours
from shared.times import iso
from shared.validity import add_month

log = logging.getLogger(__name__)


ALERT_DAYS = 30


# -- expiry runs ----------------------------------------------------------------------------------
def expiry_run_id_for(as_of):
    return f"EXP-{as_of.isoformat()}"


def expiry_run(repo, settings, as_of, today=None, progress=None, actor=None):
    """The expiry run of ``as_of`` (see :func:`start_expiry_run`)."""
    return start_expiry_run(repo, settings, as_of, today, progress, actor)[0]


def start_expiry_run(repo, settings, as_of, today=None, progress=None, actor=None):
    """Expire coupons whose validity (and grace month) ended before ``as_of`` (the local
    midnight it begins at, in the operator's timezone) and coupons of cancelled booklets;
    refund their face value to the funders pro rata; one credit note per funder.
    ``(run, created)``: the same ``as_of`` again answers the same run (``created`` False).

    A day outside the scheme's life is :class:`InvalidPeriod`; one still to come is
    :class:`PeriodNotOver`."""
    message = "coupons cannot be expired in advance"
    as_of = periods.past_day(as_of, "as_of", settings.zone, message, today)
    run_id = expiry_run_id_for(as_of)
    return once(
        repo,
        "expiry_runs",
        run_id,
        ExpiryRunStatus.COMPLETED,
        lambda: _expiry_run(repo, settings, run_id, as_of, progress, actor),
    )


def _expiry_run(repo, settings, run_id, as_of, progress_callback, actor):
    run, created = create_run(
        repo,
        "expiry_runs",
        run_id,
        ExpiryRunStatus.EXPIRING,
        settings,
        actor,
        as_of=as_of.isoformat(),
        before=periods.start_of(as_of, settings.zone),
    )
    if run["status"] == ExpiryRunStatus.EXPIRING:
        # a run created before this field existed began at midnight UTC
        moment = run.get("before") or periods.start_of(as_of, times.UTC)
        progress = Progress(repo, "expiry_runs", run_id, "booklets", None, progress_callback)
        orders = {}  # order_id -> its status here (one read per order)
        for booklet in repo.booklets_to_expire(moment):
            if booklet.get("cancelled_at") is not None:
                reason = "cancelled"
            elif add_month(booklet["valid_until"]) <= moment:
                reason = "expired"
            else:
                continue  # in its grace month: late redemptions may still come
            order_id = booklet.get("order_id")
            if order_id not in orders:
                orders[order_id] = (repo.get_order(order_id) or {}).get("status")
            if orders[order_id] not in ("confirmed", "cancelled"):
                # its order's money is not booked as received yet (the confirmation is late):
                # nothing to refund from; its coupons stay outstanding for a later run
                log.warning(
                    "booklet %s of order %s not expired: the order's confirmation has not "
                    "arrived; a later expiry run takes it",
                    booklet["serial"],
                    order_id,
                )
                continue
            repo.expire_booklet(booklet["serial"], run_id, reason)
            progress.advance()
        run = repo.update_run("expiry_runs", run_id, {"status": ExpiryRunStatus.REFUNDING})
    if run["status"] == ExpiryRunStatus.REFUNDING:
        run = _refund_expired(repo, settings, run)
    return run, created


def _refund_expired(repo, settings, run):
    run_id, at = run["id"], run["created_at"]
    year = periods.local_date(at, settings.zone).year
    notes = {}
    totals = {"coupons": 0, "face_value_cents": 0, "cancelled": 0}
    for row in repo.expired_by_order(run_id):
        order = repo.get_order(row["order_id"])
        if order is not None and order.get("status") == "cancelled":
            # its cancellation was honoured: everything paid for it was refunded then
            log.error(
                "expired coupons of order %s, cancelled and refunded before: not refunded again",
                row["order_id"],
            )
            continue
        if order is None or "funders" not in order:
            log.error("expired coupons of unknown order %s: not refunded", row["order_id"])
            continue
        shares = domain.refund_shares(row["face_value_cents"], order["funders"])
        repo.post(
            f"expired:{run_id}:{row['order_id']}",
            "coupons_expired",
            domain.refund_postings(row["face_value_cents"], order["funders"], row["order_id"]),
            at,
            {
                "expiry_run_id": run_id,
                "order_id": row["order_id"],
                "serials": repo.expired_serials_of_order(run_id, row["order_id"]),
            },
        )
        items = [
            refund_item(
                settings,
                f"expired:{run_id}:{row['order_id']}:{funder}",
                funder,
                amount,
                at,
                order_id=row["order_id"],
                expiry_run_id=run_id,
                reason="expired",
                sponsor_name=order["sponsor_name"],
                sponsor_iban=order.get("sponsor_iban"),
            )
            for funder, amount in sorted(shares.items())
            if amount
        ]
        repo.add_refunds(items)
        weight = sum(order["funders"].values())
        for item in items:
            note = notes.setdefault(
                item["funder_id"],
                {"funder": item, "lines": [], "expired": 0, "cancelled": 0},
            )
            note["lines"].append(
                {
                    "order_id": row["order_id"],
                    "invoice_reference": order.get("invoice_reference"),
                    "coupon_count": row["coupons"],
                    "face_value_cents": row["face_value_cents"],
                    "share_bp": order["funders"][item["funder_id"]] * 10_000 // weight,
                    "amount_cents": item["amount_cents"],
                }
            )
            note["cancelled"] += row["cancelled"]
            note["expired"] += row["coupons"] - row["cancelled"]
        totals["coupons"] += row["coupons"]
        totals["cancelled"] += row["cancelled"]
        totals["face_value_cents"] += row["face_value_cents"]
    credit_notes = []
    for funder_id in sorted(notes):
        note = notes[funder_id]
        funder = note["funder"]
        doc = repo.issue_document(
            "credit_note",
            "AV",
            f"{run_id}:{funder_id}",
            year,
            partial(
                snapshots.expiry_credit_note,
                settings=settings,
                run=run,
                issued_at=iso(at),
                funder=funder,
                note=note,
            ),
        )
        credit_notes.append(
            {
                "funder_id": funder_id,
                "name": funder["name"],
                "reference": doc["reference"],
                "amount_cents": doc["snapshot"]["total_cents"],
            }
        )
    return repo.update_run(
        "expiry_runs",
        run_id,
        {
            "status": ExpiryRunStatus.COMPLETED,
            "completed_at": times.now(),
            "coupon_count": totals["coupons"],
            "cancelled_coupon_count": totals["cancelled"],
            "refunded_cents": totals["face_value_cents"],
            "credit_notes": credit_notes,
        },
    )


def get_expiry_run(repo, run_id):
    run = repo.get_run("expiry_runs", run_id)
    if run is None:
        raise ExpiryRunNotFound(details={"expiry_run_id": run_id})
    return run


def credit_notes(repo, funder_id=None, limit=50, offset=0):
    """A page of credit notes, newest first (``funder_id``: only that funder's):
    ``(notes, total)``."""
    docs, total = repo.documents("credit_note", funder_id, limit=limit, offset=offset)
    return [doc["snapshot"] for doc in docs], total


def credit_note_by_reference(repo, reference, funder_id=None):
    doc = repo.get_document_by_reference(reference)
    if doc is None or doc["kind"] != "credit_note":
        raise DocumentNotFound(details={"reference": reference})
    if funder_id is not None and doc["snapshot"]["funder"]["funder_id"] != funder_id:
        raise NotYours(details={"reference": reference})
    return doc["snapshot"]


def credit_note(repo, run_id, funder_id):
    get_expiry_run(repo, run_id)
    doc = repo.get_document("credit_note", f"{run_id}:{funder_id}")
    if doc is None:
        raise DocumentNotFound(details={"expiry_run_id": run_id, "funder_id": funder_id})
    return doc["snapshot"]


def expiry_events(run, serials, batch_size):
    ids = list(serials)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)] or [[]]
    for number, chunk in enumerate(batches, 1):
        yield {
            "expiry_run_id": run["id"],
            "as_of": run["as_of"],
            "coupon_serials": chunk,
            "batch": number,
            "batch_count": len(batches),
        }


def expiry_alerts(repo, sponsor_id, as_of, tz=None):
    """What expires in the 30 days from ``as_of`` (days of the operator's timezone ``tz``), for
    the sponsor's dashboard: booklets issued, handed out, not yet handed out, started (at least
    one coupon redeemed), per local end date, with the serials of those not yet handed out
    (``blockable``: the sponsor may block them). ``as_of`` outside the scheme's life:
    :class:`InvalidPeriod`."""
    tz = tz or periods.zone(periods.DEFAULT_TIMEZONE)
    day = periods.check_day(periods.to_day(as_of), "as_of")
    until = day + timedelta(days=ALERT_DAYS)
    by_date = {}
    for booklet in repo.sponsor_booklets(
        sponsor_id, periods.start_of(day, tz), periods.start_of(until, tz)
    ):
        if booklet.get("cancelled_at") is not None or booklet.get("expiry_run_id"):
            continue
        end = periods.local_date(booklet["valid_until"], tz).isoformat()
        row = by_date.setdefault(
            end,
            {
                "valid_until": end,
                "issued": 0,
                "handed_out": 0,
                "not_handed_out": 0,
                "started": 0,
                "blockable": [],
            },
        )
        row["issued"] += 1
        if booklet.get("activated_at"):
            row["handed_out"] += 1
        else:
            row["not_handed_out"] += 1
            row["blockable"].append(booklet["serial"])
        if repo.booklet_redeemed_count(booklet["serial"]):
            row["started"] += 1
    rows = [by_date[k] for k in sorted(by_date)]
    totals = {
        k: sum(r[k] for r in rows) for k in ("issued", "handed_out", "not_handed_out", "started")
    }
    return {
        "sponsor_id": sponsor_id,
        "as_of": day.isoformat(),
        "until": until.isoformat(),
        "expiring": rows,
        "totals": totals,
    }
