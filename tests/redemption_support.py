"""Upstream events as issuance and catalog publish them, for redemption's tests."""

import itertools
from datetime import UTC, datetime, timedelta

from shared import serials
from shared.events import BookletsIssued
from tests.conftest import TEST_SECRETS

_sequences = itertools.count(1)
SECRET = TEST_SECRETS["OPERATOR_SECRET"]
DIGEST_KEY = TEST_SECRETS["CODE_DIGEST_KEY"]


def iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def issued(
    order_id="ord_0000000000000000000a",
    sponsor_id="spo_0000000000000000000a",
    booklets=1,
    per_booklet=5,
    face_value_cents=1000,
    rules=None,
    valid_from=None,
    valid_until=None,
):
    """A ``booklets_issued`` event and the printed codes: ``(event, {serial: code})``."""
    now = datetime.now(UTC)
    valid_from = valid_from or now - timedelta(days=1)
    valid_until = valid_until or valid_from + timedelta(days=365)
    codes, booklet_list = {}, []
    for _ in range(booklets):
        coupons = []
        for _ in range(per_booklet):
            serial = serials.coupon_serial(next(_sequences) + 7_000_000)
            codes[serial] = serials.security_code(SECRET, serial)
            coupons.append(
                {
                    "serial": serial,
                    "face_value_cents": face_value_cents,
                    "code_digest": serials.code_digest(DIGEST_KEY, serial, codes[serial]),
                }
            )
        booklet_list.append(
            {"serial": serials.booklet_serial(next(_sequences) + 500_000), "coupons": coupons}
        )
    event = {
        "order_id": order_id,
        "sponsor_id": sponsor_id,
        "sponsor_name": "Département test",
        "territory": "33",
        "rules": rules or {"territories": [], "venue_types": [], "categories": []},
        "cofunded": False,
        "state_rate_bp": 0,
        "issued_at": iso(valid_from),
        "valid_from": iso(valid_from),
        "valid_until": iso(valid_until),
        "booklets": booklet_list,
        "batch": 1,
        "batch_count": 1,
    }
    return BookletsIssued().dump(event), codes


def venue_event(
    venue_id="ven_00000000000000000001",
    version=2,
    status="accredited",
    venue_type="public_digital_space",
    department="33",
    town_code="33063",
    services=(("svc_00000000000000000001", "online_admin_procedures"),),
):
    return {
        "venue_id": venue_id,
        "version": version,
        "status": status,
        "name": "EPN test",
        "venue_type": venue_type,
        "department": department,
        "town_code": town_code,
        "iban": "FR7630006000011234567890189",
        "categories": sorted({c for _, c in services}),
        "services": [{"service_id": s, "category": c, "price_coupons": 1} for s, c in services],
    }


def wrong(code):
    """A well-formed code that is not ``code``."""
    return ("2" if code[0] != "2" else "3") + code[1:]


VENUE_ID = "ven_00000000000000000001"
SERVICE_ID = "svc_00000000000000000001"
VENUE_ACTOR = {"role": "venue", "key_id": "key_t", "subject_id": VENUE_ID, "label": None}


def seed(repo, booklets=2, per_booklet=10, **kwargs):
    """A venue and coupons known to redemption's store, as their events make them: ``{serial:
    code}``."""
    from services.redemption import api

    api.on_venue_changed(repo, venue_event(VENUE_ID))
    event, codes = issued(booklets=booklets, per_booklet=per_booklet, **kwargs)
    api.on_booklets_issued(repo, event)
    return codes


def request(coupons, key=None, service_id=SERVICE_ID):
    """A redemption request as the service loads it (``coupons``: ``[(serial, code)]``)."""
    import uuid

    from shared.contracts.schemas_redemption import RedemptionInput

    return RedemptionInput().load_or_raise(
        {
            "service_id": service_id,
            "idempotency_key": key or uuid.uuid4().hex,
            "coupons": [{"serial": s, "code": c} for s, c in coupons],
        }
    )
