"""Upstream events as ordering, issuance, catalog and redemption publish them, for settlement's
tests. Each builder returns the payload loaded through its schema in ``shared/events.py`` (what
the service's handler receives). Times are aware, in UTC (``shared.times``).

``settlement_db`` / ``repository``: settlement's database as the service opens it (dates read
back aware, ``SettlementRepository.TZ_AWARE``), with its indexes."""

import itertools
import secrets
from datetime import UTC, datetime, timedelta

from services.settlement.settings import Settings
from services.settlement.store import SettlementRepository
from shared import serials, times
from shared.contracts.schemas_catalog import VenueChanged
from shared.events import (
    BookletActivated,
    BookletCancelled,
    BookletsIssued,
    CouponsRedeemed,
    OrderCancelled,
    OrderConfirmed,
    RedemptionVoided,
)
from shared.money import ORDER_FEE_BP, percent_of
from shared.mongo import get_database

_sequence = itertools.count(1)
SETTINGS = Settings()
SPONSOR_IBAN = "FR7630006000011234567890189"
VENUE_IBAN = "FR1420041010050500013M02606"


def settlement_db(mongo_config, name="settlement"):
    """The test's settlement database (``name`` under its prefix), dates read back aware, with
    the repository's indexes."""
    db = get_database(mongo_config, name, tz_aware=SettlementRepository.TZ_AWARE)
    SettlementRepository.ensure_indexes(db)
    return db


def repository(mongo_config, name="settlement", cls=SettlementRepository):
    return cls(settlement_db(mongo_config, name))


def iso(moment):
    assert moment.tzinfo is not None, "times are aware (shared.times)"
    return times.iso(moment)


def order_confirmed(
    order_id=None,
    sponsor_id="spo_00000000000000000001",
    coupons=10,
    face_value_cents=1000,
    state_rate_bp=0,
    territory="33",
    at=None,
    sponsor_iban=SPONSOR_IBAN,
):
    order_id = order_id or f"ord_{next(_sequence):020x}"
    face = coupons * face_value_cents
    fee = percent_of(face, ORDER_FEE_BP)
    state = percent_of(face, state_rate_bp)
    at = iso(at or datetime(2026, 1, 10, tzinfo=UTC))
    payments = [
        {
            "payment_id": f"pay_{next(_sequence):020x}",
            "payer": "sponsor",
            "amount_cents": face - state + fee,
            "reference": f"VIR-{order_id}",
            "received_at": at,
        }
    ]
    if state:
        payments.append({**payments[0], "payer": "state", "amount_cents": state})
    return OrderConfirmed().load(
        {
            "order_id": order_id,
            "sponsor_id": sponsor_id,
            "sponsor_name": "Département de la Gironde",
            "sponsor_kind": "department",
            "territory": territory,
            "lines": [
                {
                    "line_no": 1,
                    "coupons_per_booklet": 5 if coupons % 10 else 10,
                    "face_value_cents": face_value_cents,
                    "quantity": max(1, coupons // (5 if coupons % 10 else 10)),
                }
            ],
            "coupon_count": coupons,
            "face_value_cents": face,
            "fee_cents": fee,
            "state_share_cents": state,
            "sponsor_due_cents": face - state + fee,
            "cofunded": bool(state),
            "state_rate_bp": state_rate_bp,
            "rules": {"territories": [], "venue_types": [], "categories": []},
            "payments": payments,
            "confirmed_at": at,
            "sponsor_iban": sponsor_iban,
            "invoice_reference": "INV-2026-000001",
        }
    )


def order_cancelled(confirmed, at=None, payments=None):
    """``ordering.order_cancelled`` for the order of ``confirmed`` (an ``order_confirmed``
    payload, sent or not), listing its payments (``payments``: others). Ordering sends it only
    for an order never confirmed: sent after the confirmation, it is late, replayed or forged."""
    return OrderCancelled().load(
        {
            "order_id": confirmed["order_id"],
            "sponsor_id": confirmed["sponsor_id"],
            "reason": "mistake",
            "cancelled_at": iso(at or datetime(2026, 1, 11, tzinfo=UTC)),
            "invoice_reference": "INV-2026-000001",
            "payments": confirmed["payments"] if payments is None else payments,
        }
    )


def partial_payments(confirmed, **paid):
    """Payments of the order of ``confirmed`` received before its cancellation, e.g.
    ``partial_payments(c, sponsor=5000)``: ``[{payer, amount_cents, …}]``."""
    template = confirmed["payments"][0]
    return [
        {
            **template,
            "payment_id": f"pay_{next(_sequence):020x}",
            "payer": payer,
            "amount_cents": amount,
            "reference": f"VIR-{payer}-{confirmed['order_id']}",
        }
        for payer, amount in paid.items()
    ]


def booklets_issued(confirmed, per_booklet=5, issued_at=None, valid_days=365):
    """The order's coupons in booklets of ``per_booklet`` (its face value per coupon)."""
    issued_at = issued_at or datetime(2026, 1, 15, tzinfo=UTC)
    face = confirmed["face_value_cents"] // confirmed["coupon_count"]
    booklets = []
    left = confirmed["coupon_count"]
    while left:
        size = min(per_booklet, left)
        left -= size
        coupons = [
            {
                "serial": serials.coupon_serial(next(_sequence) + 3_000_000),
                "face_value_cents": face,
                "code_digest": secrets.token_hex(8),
            }
            for _ in range(size)
        ]
        booklets.append(
            {"serial": serials.booklet_serial(next(_sequence) + 200_000), "coupons": coupons}
        )
    return BookletsIssued().load(
        {
            "order_id": confirmed["order_id"],
            "sponsor_id": confirmed["sponsor_id"],
            "sponsor_name": confirmed["sponsor_name"],
            "territory": confirmed["territory"],
            "rules": confirmed["rules"],
            "cofunded": confirmed["cofunded"],
            "state_rate_bp": confirmed["state_rate_bp"],
            "issued_at": iso(issued_at),
            "valid_from": iso(issued_at),
            "valid_until": iso(issued_at + timedelta(days=valid_days)),
            "booklets": booklets,
            "batch": 1,
            "batch_count": 1,
        }
    )


def booklet_activated(issued, booklet, at):
    return BookletActivated().load(
        {
            "booklet_serial": booklet["serial"],
            "order_id": issued["order_id"],
            "sponsor_id": issued["sponsor_id"],
            "distributor_id": None,
            "coupon_serials": [c["serial"] for c in booklet["coupons"]],
            "activated_at": iso(at),
            "valid_from": iso(at),
            "valid_until": iso(at + timedelta(days=365)),
            "profile": None,
        }
    )


def booklet_cancelled(issued, booklet, at=None):
    return BookletCancelled().load(
        {
            "booklet_serial": booklet["serial"],
            "order_id": issued["order_id"],
            "sponsor_id": issued["sponsor_id"],
            "coupon_serials": [c["serial"] for c in booklet["coupons"]],
            "reason": "lost",
            "cancelled_at": iso(at or datetime(2026, 2, 1, tzinfo=UTC)),
        }
    )


def venue(venue_id="ven_00000000000000000001", version=1, iban=VENUE_IBAN, name="Médiathèque"):
    return VenueChanged().load(
        {
            "venue_id": venue_id,
            "version": version,
            "status": "accredited",
            "name": name,
            "venue_type": "library",
            "department": "33",
            "town_code": "33063",
            "iban": iban,
            "categories": ["online_procedures"],
            "services": [],
        }
    )


def redeemed(issued, coupons, venue_id="ven_00000000000000000001", at=None, redemption_id=None):
    """A ``coupons_redeemed`` event for ``coupons`` (dicts of the issued event)."""
    return CouponsRedeemed().load(
        {
            "redemption_id": redemption_id or f"red_{next(_sequence):020x}",
            "venue_id": venue_id,
            "service_id": "svc_00000000000000000001",
            "category": "online_procedures",
            "coupons": [
                {
                    "serial": c["serial"],
                    "face_value_cents": c["face_value_cents"],
                    "order_id": issued["order_id"],
                    "sponsor_id": issued["sponsor_id"],
                    "booklet_serial": booklet_of(issued, c["serial"]),
                }
                for c in coupons
            ],
            "total_cents": sum(c["face_value_cents"] for c in coupons),
            "redeemed_at": iso(at or datetime(2026, 3, 5, tzinfo=UTC)),
        }
    )


def voided(redemption, at=None):
    return RedemptionVoided().load(
        {
            "redemption_id": redemption["redemption_id"],
            "venue_id": redemption["venue_id"],
            "coupons": redemption["coupons"],
            "total_cents": redemption["total_cents"],
            "voided_at": iso(at or datetime(2026, 3, 6, tzinfo=UTC)),
        }
    )


def booklet_of(issued, serial):
    for booklet in issued["booklets"]:
        if any(c["serial"] == serial for c in booklet["coupons"]):
            return booklet["serial"]
    raise KeyError(serial)


def all_coupons(issued):
    return [c for b in issued["booklets"] for c in b["coupons"]]
