"""The world of the browser tests: accredited venues with services, coupons issued, accounts."""

import eventlet
from nameko.exceptions import MethodNotFound
from nameko.standalone.events import event_dispatcher

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
