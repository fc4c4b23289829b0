"""What the ordering service does, as plain functions over its repository (called by the service
class). Every change of an order is read - decide (domain) - conditional update on its version,
tried again on the fresh order when someone changed it meanwhile."""

import logging
from datetime import timedelta

from services.ordering import domain
from services.ordering.domain import quote, require_owner, require_status
from shared.contracts.errors_ordering import (
    DistributorNotFound,
    EnvelopeBelowReserved,
    InvoiceNotIssued,
    NotYours,
    OrderNotFound,
    SponsorNotFound,
)
from shared.contracts.schemas_ordering import CofundingDecision, OrderStatus, Payer
from shared.events import DistributorRegistered, OrderCancelled, OrderConfirmed
from shared.history import history_entry
from shared.ids import looks_like_id, new_id
from shared.outbox import outbox_entry
from shared.schemas import SYSTEM_ACTOR
from shared.times import iso, now, parse

log = logging.getLogger(__name__)


# -- sponsors and distributors ------------------------------------------------------------------
def register_sponsor(repo, data, actor):
    at = now()
    sponsor = {
        **data,
        "id": new_id("spo"),
        "created_at": at,
        "history": [history_entry(None, "registered", actor, at)],
    }
    return repo.insert_sponsor(sponsor)


def _sponsor(repo, sponsor_id):
    sponsor = repo.get_sponsor(sponsor_id) if looks_like_id(sponsor_id, "spo") else None
    if sponsor is None:
        raise SponsorNotFound(details={"sponsor_id": sponsor_id})
    return sponsor


def get_sponsor(repo, sponsor_id, actor):
    require_owner(actor, sponsor_id)
    return _sponsor(repo, sponsor_id)


def register_distributor(repo, data, actor):
    """A distribution point of a sponsor; its event tells issuance whom booklets may go to."""
    require_owner(actor, data["sponsor_id"])
    _sponsor(repo, data["sponsor_id"])
    at = now()
    distributor = {**data, "id": new_id("dis"), "created_at": at, "created_by": actor}
    event = outbox_entry(
        "distributor_registered",
        DistributorRegistered().dump(
            {
                "distributor_id": distributor["id"],
                "sponsor_id": data["sponsor_id"],
                "name": data["name"],
                "town_code": data["town_code"],
                "registered_at": iso(at),
            }
        ),
    )
    return repo.insert_distributor(distributor, event)


def get_distributor(repo, distributor_id, actor):
    found = repo.get_distributor(distributor_id) if looks_like_id(distributor_id, "dis") else None
    if found is None:
        raise DistributorNotFound(details={"distributor_id": distributor_id})
    if actor["role"] == "distributor":
        if actor.get("subject_id") != distributor_id:
            raise NotYours("this distributor is not you")
    else:
        require_owner(actor, found["sponsor_id"])
    return found


# -- co-funding campaigns -----------------------------------------------------------------------
def current_campaign(repo, settings, year=None):
    """The campaign of ``year`` (default: this year), made from the settings if nobody set it."""
    year = year or now().year  # the year in UTC
    default = domain.default_campaign(
        year,
        settings.cofunding_rate_bp,
        settings.cofunding_envelope_cents,
        settings.cofunding_min_face_value_cents,
    )
    campaign = repo.ensure_campaign(default)
    return {
        **campaign,
        **domain.campaign_minimum(campaign, settings.cofunding_min_face_value_cents),
    }


def set_campaign(repo, settings, data, actor):
    """Set a year's rate and envelope; what is left moves by the envelope's change."""
    while True:
        campaign = current_campaign(repo, settings, data["year"])
        reserved = campaign["envelope_cents"] - campaign["remaining_cents"]
        if data["envelope_cents"] < reserved:
            raise EnvelopeBelowReserved(
                details={"reserved_cents": reserved, "envelope_cents": data["envelope_cents"]}
            )
        minimum = {
            key: data.get(key, campaign[key])
            for key in ("minimum_order_cents", "minimum_order_kinds")
        }
        entry = {
            "rate_bp": data["rate_bp"],
            "envelope_cents": data["envelope_cents"],
            **minimum,
            "by": actor,
            "at": now(),
        }
        updated = repo.set_campaign(
            data["year"],
            data["rate_bp"],
            data["envelope_cents"],
            campaign["envelope_cents"],
            entry,
            minimum,
        )
        if updated is not None:
            return updated


# -- orders -------------------------------------------------------------------------------------
def get_order(repo, order_id, actor):
    order = repo.get_order(order_id) if looks_like_id(order_id, "ord") else None
    if order is None:
        raise OrderNotFound(details={"order_id": order_id})
    require_owner(actor, order["sponsor_id"])
    return order


def list_orders(repo, query, actor):
    sponsor_id = query["sponsor_id"]
    if actor["role"] == "sponsor":
        sponsor_id = sponsor_id or actor.get("subject_id")
        require_owner(actor, sponsor_id)
    return repo.list_orders(sponsor_id, query["status"], query["limit"], query["offset"])


def create_order(repo, settings, data, actor):
    """A draft order with its quote. Co-funding asked by a sponsor that cannot have it is refused
    here (422 ``cofunding_not_eligible``): the sponsor may order without it."""
    require_owner(actor, data["sponsor_id"])
    sponsor = _sponsor(repo, data["sponsor_id"])
    lines = [{"line_no": n, **line} for n, line in enumerate(data["lines"], start=1)]
    application = data.get("state_cofunding")
    rate_bp, year = _state_rate(repo, settings, sponsor, lines, bool(application))
    amounts = quote(lines, rate_bp)
    at = now()
    order = {
        "id": new_id("ord"),
        "version": 1,
        "sponsor_id": sponsor["id"],
        "sponsor_name": sponsor["name"],
        "sponsor_kind": sponsor["kind"],
        "sponsor_iban": sponsor.get("iban"),  # where refunds of unused coupons are paid
        "territory": sponsor["territory"],
        "status": OrderStatus.DRAFT.value,
        "lines": lines,
        "rules": data["rules"],
        "quote": amounts.as_dict(),
        "cofunding": {
            "requested": bool(application),
            "status": "requested" if application else None,
            "rate_bp": rate_bp,
            "state_share_cents": amounts.state_share_cents,
            "campaign_year": year,
            "reason_code": None,
            "reason": None,
            "application": application,
        },
        "payments": [],
        "paid": {"sponsor_cents": 0, "state_cents": 0},
        "invoice": None,
        "issuance": None,
        "created_at": at,
        "history": [history_entry(None, OrderStatus.DRAFT.value, actor, at, "created")],
    }
    return repo.insert_order(order)


def _state_rate(repo, settings, sponsor, lines, cofunded):
    """The State's rate (bp) and campaign year for the sponsor's order of ``lines``: ``(0, None)``
    without co-funding; asked by a sponsor that cannot have it, 422 ``cofunding_not_eligible``."""
    if not cofunded:
        return 0, None
    campaign = current_campaign(repo, settings)
    domain.check_cofunding_eligible(sponsor, quote(lines).face_value_cents, campaign)
    return campaign["rate_bp"], campaign["year"]


def quote_order(repo, settings, data, actor):
    """What an order would cost, stored nowhere: the quote ``create_order`` would give (for a
    form that shows it as it is filled). Co-funding asked by a sponsor that cannot have it is 422
    ``cofunding_not_eligible``, as for the order; the envelope is only drawn on at submission."""
    require_owner(actor, data["sponsor_id"])
    sponsor = _sponsor(repo, data["sponsor_id"])
    rate_bp, _ = _state_rate(repo, settings, sponsor, data["lines"], data["state_cofunding"])
    return {**quote(data["lines"], rate_bp).as_dict(), "state_rate_bp": rate_bp}


def list_distributors(repo, sponsor_id, actor):
    """A sponsor's distributors (operator, or the sponsor itself), by name."""
    require_owner(actor, sponsor_id)
    _sponsor(repo, sponsor_id)
    return repo.distributors_of(sponsor_id)


def _update(repo, order, changes, entries=(), events=()):
    return repo.update_order(order["id"], order["version"], changes, entries, events)


def submit_order(repo, settings, order_id, actor):
    """Submit a draft. Without co-funding, the invoice is issued. With it, the State share is
    reserved on this year's envelope (status ``cofunding_pending``) or, if what is left cannot
    cover it, co-funding is refused at once (``cofunding_envelope_exhausted``) and the order goes
    on without it: the sponsor pays the whole face value."""
    while True:
        order = get_order(repo, order_id, actor)
        require_status(order, "submit")
        at = now()
        entries = [history_entry(OrderStatus.DRAFT, OrderStatus.SUBMITTED, actor, at)]
        changes, reserved = {"status": OrderStatus.SUBMITTED.value}, None
        if order["cofunding"]["requested"]:
            changes, entry, reserved = _reserve_state_share(repo, settings, order, actor, at)
            entries.append(entry)
        if changes["status"] != OrderStatus.COFUNDING_PENDING:
            changes["invoice"] = {"reference": None}  # the amounts are final: invoice it
        updated = _update(repo, order, changes, entries)
        if updated is not None:
            return updated
        if reserved:  # the order changed meanwhile: give the share back, decide again
            repo.release_envelope(reserved, order_id)


def _reserve_state_share(repo, settings, order, actor, at):
    """Reserve the order's State share on this year's envelope. Returns the order's changes, the
    history entry, and the year of the reservation (None when the envelope could not cover it)."""
    campaign = current_campaign(repo, settings)
    year = campaign["year"]
    amounts = quote(order["lines"], campaign["rate_bp"])
    share = amounts.state_share_cents
    got = repo.reserve_envelope(year, order["id"], share)
    if got is not None and got != share:  # left by a crash before a change of rate: take anew
        repo.release_envelope(year, order["id"])
        got = repo.reserve_envelope(year, order["id"], share)
    if got is not None:
        reason = f"State share reserved on the {year} envelope"
        status, outcome, code, by = OrderStatus.COFUNDING_PENDING, "reserved", None, actor
        reserved, rate_bp = year, campaign["rate_bp"]
    else:
        reason = (
            f"the {year} State envelope has {campaign['remaining_cents']} cents left, "
            f"this order needs {amounts.state_share_cents}"
        )
        status, outcome, code, by = (
            OrderStatus.COFUNDING_REFUSED,
            "refused",
            domain.ENVELOPE_EXHAUSTED,
            SYSTEM_ACTOR,
        )
        reserved, rate_bp, amounts = None, 0, quote(order["lines"], 0)
    changes = {
        "status": status.value,
        "quote": amounts.as_dict(),
        "cofunding.status": outcome,
        "cofunding.rate_bp": rate_bp,
        "cofunding.state_share_cents": amounts.state_share_cents,
        "cofunding.campaign_year": year,
        "cofunding.reason_code": code,
        "cofunding.reason": reason,
    }
    text = f"{code}: {reason}" if code else reason
    return changes, history_entry(OrderStatus.SUBMITTED, status, by, at, text), reserved


def decide_cofunding(repo, order_id, decision, reason, actor):
    """The operator approves or refuses the State co-funding of a pending order. Refused, the
    reservation goes back to the envelope and the order goes on without co-funding."""
    while True:
        order = get_order(repo, order_id, actor)
        require_status(order, "decide_cofunding")
        at = now()
        cofunding = order["cofunding"]
        if decision == CofundingDecision.APPROVE:
            status = OrderStatus.COFUNDING_APPROVED
            changes = {"cofunding.status": "approved", "cofunding.reason": reason}
        else:
            status = OrderStatus.COFUNDING_REFUSED
            changes = {
                "quote": quote(order["lines"], 0).as_dict(),
                "cofunding.status": "refused",
                "cofunding.state_share_cents": 0,
                "cofunding.rate_bp": 0,
                "cofunding.reason_code": domain.REFUSED_BY_OPERATOR,
                "cofunding.reason": reason,
            }
        changes.update({"status": status.value, "invoice": {"reference": None}})
        entry = history_entry(order["status"], status, actor, at, reason)
        updated = _update(repo, order, changes, [entry])
        if updated is not None:
            if status == OrderStatus.COFUNDING_REFUSED:
                repo.release_envelope(cofunding["campaign_year"], order_id)
            return updated


def record_payment(repo, order_id, data, actor):
    """Record a payment received. The same reference twice records one payment; the payment that
    completes what the sponsor and the State owe confirms the order and puts ``order_confirmed``
    in the outbox, in the same update (so it is emitted once). Returns (order, payment, new)."""
    while True:
        order = get_order(repo, order_id, actor)
        existing = domain.check_payment(order, data)
        if existing is not None:
            return order, existing, False
        at = now()
        payment = {"payment_id": new_id("pay"), **data, "received_at": at, "recorded_by": actor}
        payments = [*order["payments"], payment]
        probe = {**order, "payments": payments}
        changes = {
            "payments": payments,
            "paid": {
                "sponsor_cents": domain.paid_by(probe, Payer.SPONSOR),
                "state_cents": domain.paid_by(probe, Payer.STATE),
            },
        }
        entries, events = [], []
        if domain.fully_paid(order, payments):
            changes.update({"status": OrderStatus.CONFIRMED.value, "confirmed_at": at})
            entries.append(history_entry(order["status"], OrderStatus.CONFIRMED, actor, at, "paid"))
            events.append(outbox_entry("order_confirmed", confirmed_event(probe, at)))
        updated = _update(repo, order, changes, entries, events)
        if updated is not None:
            return updated, payment, True


def event_payments(payments):
    """The order's payments as events carry them: their dates as ISO text."""
    return [{**payment, "received_at": iso(payment["received_at"])} for payment in payments]


def confirmed_event(order, at):
    """The ``ordering.order_confirmed`` payload: what issuance and redemption need."""
    amounts = order["quote"]
    return OrderConfirmed().dump(
        {
            **{key: order[key] for key in ("sponsor_id", "sponsor_name", "territory", "lines")},
            **amounts,
            "order_id": order["id"],
            "sponsor_kind": order["sponsor_kind"],
            "cofunded": amounts["state_share_cents"] > 0,
            "state_rate_bp": order["cofunding"]["rate_bp"] if amounts["state_share_cents"] else 0,
            "rules": order["rules"],
            "payments": event_payments(order["payments"]),
            "sponsor_iban": order.get("sponsor_iban"),
            "invoice_reference": (order.get("invoice") or {}).get("reference"),
            "confirmed_at": iso(at),
        }
    )


def cancel_order(repo, settings, order_id, reason, actor):
    """Cancel before issuance; a State share reserved goes back to the envelope. An invoice that
    was due is issued first (a crash may have left it so): the event names what was invoiced."""
    while True:
        order = ensure_invoice(repo, settings, get_order(repo, order_id, actor))
        require_status(order, "cancel")
        at = now()
        cofunding = order["cofunding"]
        holds_share = cofunding["status"] in ("reserved", "approved")
        changes = {"status": OrderStatus.CANCELLED.value, "cancelled_at": at}
        if holds_share:
            changes["cofunding.status"] = "released"
        event = OrderCancelled().dump(
            {
                "order_id": order_id,
                "sponsor_id": order["sponsor_id"],
                "reason": reason,
                "cancelled_at": iso(at),
                "invoice_reference": (order.get("invoice") or {}).get("reference"),
                "payments": event_payments(order["payments"]),
            }
        )
        entry = history_entry(order["status"], OrderStatus.CANCELLED, actor, at, reason)
        updated = _update(repo, order, changes, [entry], [outbox_entry("order_cancelled", event)])
        if updated is not None:
            if cofunding["campaign_year"]:  # idempotent: nothing if it holds no reservation
                repo.release_envelope(cofunding["campaign_year"], order_id)
            return updated


def mark_issued(repo, payload):
    """``issuance.booklets_issued`` (one of ``batch_count`` batches): the order is issued when
    every batch has arrived. A batch delivered twice changes nothing."""
    while True:
        order = repo.get_order(payload["order_id"])
        if order is None:
            log.warning("booklets issued for an unknown order %s", payload["order_id"])
            return None
        issuance = order.get("issuance") or {"batches": [], "booklet_count": 0}
        if payload["batch"] in issuance["batches"]:
            return order
        batches = sorted([*issuance["batches"], payload["batch"]])
        changes = {
            "issuance": {
                "batches": batches,
                "batch_count": payload["batch_count"],
                "booklet_count": issuance["booklet_count"] + len(payload["booklets"]),
                "issued_at": parse(payload["issued_at"]),
                "valid_until": parse(payload["valid_until"]),
            }
        }
        entries = []
        complete = len(batches) >= payload["batch_count"]
        if complete and order["status"] == OrderStatus.CONFIRMED:
            changes["status"] = OrderStatus.ISSUED.value
            entries.append(
                history_entry(
                    order["status"], OrderStatus.ISSUED, SYSTEM_ACTOR, now(), "booklets issued"
                )
            )
        elif complete:
            log.warning("booklets issued for order %s in status %s", order["id"], order["status"])
        updated = _update(repo, order, changes, entries)
        if updated is not None:
            return updated


def mark_dispatched(repo, order_id, actor):
    """The operator sent the printed booklets to the sponsor."""
    while True:
        order = get_order(repo, order_id, actor)
        require_status(order, "dispatch")
        at = now()
        entry = history_entry(order["status"], OrderStatus.DISPATCHED, actor, at, "dispatched")
        updated = _update(
            repo, order, {"status": OrderStatus.DISPATCHED.value, "dispatched_at": at}, [entry]
        )
        if updated is not None:
            return updated


# -- the invoice --------------------------------------------------------------------------------
def ensure_invoice(repo, settings, order):
    """Issue the order's invoice if it is due and not yet issued: its number, and a snapshot of
    everything it shows (issuer, recipient, lines, amounts), never rewritten afterwards."""
    invoice = order.get("invoice")
    if invoice is None or invoice.get("reference"):
        return order
    number, issued_at = repo.invoice_number(order["id"], now())
    sponsor = repo.get_sponsor(order["sponsor_id"]) or {}
    snapshot = {
        "reference": f"INV-{issued_at.year}-{number:06d}",  # the year of issue, in UTC
        "issued_at": issued_at,
        # a calendar date, not a moment: kept as ISO text (``2026-12-22``)
        "due_date": (issued_at + timedelta(days=settings.invoice_due_days)).date().isoformat(),
        "due_days": settings.invoice_due_days,
        "issuer": settings.issuer(),
        "recipient": {
            "sponsor_id": order["sponsor_id"],
            "name": order["sponsor_name"],
            "kind": order["sponsor_kind"],
            "territory": order["territory"],
            "address": sponsor.get("address"),
            "siret": sponsor.get("siret"),
        },
        "order_id": order["id"],
        "lines": order["lines"],
        "quote": order["quote"],
        "state_rate_bp": order["cofunding"]["rate_bp"]
        if order["quote"]["state_share_cents"]
        else 0,
        "fee_bp": domain.ORDER_FEE_BP,
    }
    return repo.set_invoice_if_missing(order["id"], snapshot)


def invoice_of(repo, settings, order_id, actor):
    """The order's invoice snapshot (issued lazily if a crash left it due); 409 before."""
    order = ensure_invoice(repo, settings, get_order(repo, order_id, actor))
    if not order.get("invoice"):
        raise InvoiceNotIssued(details={"status": order["status"]})
    return order["invoice"]
