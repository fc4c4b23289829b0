"""The world of the browser tests: accredited venues with services, coupons issued, accounts."""

import eventlet
from nameko.exceptions import MethodNotFound
from nameko.standalone.events import event_dispatcher

from shared.errors import NotFound
from shared.mongo import get_database
from tests.factories import service_payload, venue_payload
from tests.redemption_support import issued

OPERATOR = {"role": "operator", "key_id": None, "subject_id": None, "label": "browser test"}

PASSWORD = "un mot de passe solide"


def wait_for(predicate, timeout=15):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def accredited_venue(rpc, config, place="bordeaux", category="online_admin_procedures", **fields):
    """A venue accredited with one service, known to redemption: ``(venue, service)``."""
    catalog = rpc("catalog")
    venue = catalog.register_venue(venue_payload(place, **fields), OPERATOR)
    catalog.decide_accreditation(
        venue["id"], {"decision": "accredit", "reason": "visite faite"}, OPERATOR
    )
    service = catalog.add_service(venue["id"], service_payload(category))
    try:  # where the operator checks a venue's services before coupons pay for them
        catalog.approve_service(venue["id"], service["id"], {"reason": "atelier vu"}, OPERATOR)
    except MethodNotFound:
        pass
    store = get_database(config, "redemption")

    def known():
        found = store.venues.find_one({"venue_id": venue["id"]}) or {}
        return service["id"] in (found.get("services") or {})

    wait_for(known)
    return venue, service


def coupons(config, count=5):
    """Coupons issued (a ``booklets_issued`` event), once redemption knows them:
    ``[(serial, code), ...]``."""
    event, codes = issued(per_booklet=count)
    event_dispatcher(config)("issuance", "booklets_issued", event)
    store = get_database(config, "redemption")
    last = list(codes)[-1]
    wait_for(lambda: store.coupons.find_one({"serial": last}) is not None)
    return list(codes.items())


def account(rpc, email, role, subject_id=None):
    return rpc("web").create_user(email, role, subject_id, PASSWORD)


def distributor_with_booklets(rpc, booklets=2):
    """A sponsor's paid order issued, and a distributor of that sponsor given its first booklet:
    ``(distributor, [serial, ...])`` (the others stay with the sponsor)."""
    from tests.factories import IBANS

    ordering, issuance = rpc("ordering"), rpc("issuance")
    sponsor = ordering.register_sponsor(
        {
            "name": "Département de la Gironde",
            "kind": "department",
            "territory": "33",
            "iban": IBANS[1],
        },
        OPERATOR,
    )
    as_sponsor = {"role": "sponsor", "key_id": None, "subject_id": sponsor["id"], "label": "test"}
    distributor = ordering.register_distributor(
        {"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"}, as_sponsor
    )
    line = {"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": booklets}
    order = ordering.create_order({"sponsor_id": sponsor["id"], "lines": [line]}, as_sponsor)
    order = ordering.submit_order(order["id"], as_sponsor)
    payment = {
        "amount_cents": order["quote"]["sponsor_due_cents"],
        "payer": "sponsor",
        "reference": "VIR-0001",
    }
    ordering.record_payment(order["id"], payment, OPERATOR)

    def published():
        try:
            return issuance.order_booklets(order["id"], {}, OPERATOR)["status"] == "published"
        except NotFound:
            return False

    wait_for(published, timeout=30)
    issuance.dispatch_order(order["id"], OPERATOR)
    serials = [b["serial"] for b in issuance.order_booklets(order["id"], {}, OPERATOR)["booklets"]]

    def assigned():
        try:
            issuance.assign_booklet(serials[0], {"distributor_id": distributor["id"]}, as_sponsor)
        except NotFound:  # issuance does not know the distributor yet
            return False
        return True

    wait_for(assigned)
    return distributor, serials
