"""The world of the operator's console tests: venues awaiting accreditation, an accredited one to
suspend, services venues added (pending), coupons, the operator's and a venue's accounts."""

from shared.errors import AppError
from tests.browser.support import OPERATOR, PASSWORD, accredited_venue, coupons, wait_for
from tests.factories import service_payload, venue_payload

OPERATOR_EMAIL = "equipe@aptic.example"
VENUE_EMAIL = "accueil@epn-pessac.example"


def console_world(rpc, config):
    """What the operator finds on the console (ids and names), accounts made."""
    catalog = rpc("catalog")
    to_accredit = catalog.register_venue(venue_payload("arcachon"), OPERATOR)
    to_refuse = catalog.register_venue(venue_payload("libourne"), OPERATOR)
    to_suspend, _ = accredited_venue(rpc, config, "merignac")
    desk, _ = accredited_venue(rpc, config, "pessac")
    # services the venues add themselves: pending, not offered until the operator checks them
    to_approve = catalog.add_service(
        desk["id"], service_payload("smartphone_use", title="Prendre en main son smartphone")
    )
    to_refuse_service = catalog.add_service(
        to_suspend["id"], service_payload("online_health", title="Santé en ligne pas à pas")
    )
    rpc("web").create_user(OPERATOR_EMAIL, "operator", None, PASSWORD)
    rpc("web").create_user(VENUE_EMAIL, "venue", desk["id"], PASSWORD)
    return {
        "venues": {
            "accredit": _brief(to_accredit),
            "refuse": _brief(to_refuse),
            "suspend": _brief(to_suspend),
            "desk": _brief(desk),
        },
        "services": {
            "approve": {"id": to_approve["id"], "title": to_approve["title"]},
            "refuse": {"id": to_refuse_service["id"], "title": to_refuse_service["title"]},
        },
        "coupon": coupons(config, count=1)[0],
    }


def _brief(venue):
    return {"id": venue["id"], "name": venue["name"], "city": venue["city"]}


def refusal_code(rpc, venue_id, service_id, coupon):
    """Redemption's answer to a check of ``coupon`` for this service: None if it may be
    redeemed, else the stable code of the refusal."""
    serial, code = coupon
    query = {"serial": serial, "code": code, "service_id": service_id}
    try:
        rpc("redemption").check_coupon(venue_id, query)
    except AppError as exc:
        return exc.code
    return None


def wait_redeemable(rpc, venue_id, service_id, coupon):
    wait_for(lambda: refusal_code(rpc, venue_id, service_id, coupon) is None)
