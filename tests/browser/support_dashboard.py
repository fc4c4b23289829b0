"""The world of the dashboard's browser test: a sponsor's order issued by issuance, booklets
handed out by its distributor with anonymous profiles (issuance's ``booklet_activated`` carries
them to settlement), coupons redeemed at venues (``redemption.coupons_redeemed`` events, as the
redemption service sends them: the test has no security code to type), booklets about to
expire."""

from datetime import timedelta
from itertools import count

from nameko.standalone.events import event_dispatcher

from shared.errors import NotFound
from shared.mongo import get_database
from shared.times import iso, now
from tests.browser.support import OPERATOR, accredited_venue, wait_for
from tests.factories import IBANS

FACE = 1000
_redemptions = count(1)


def actor(role, subject_id):
    return {"role": role, "key_id": None, "subject_id": subject_id, "label": "browser test"}


def sponsor_with_booklets(rpc, name, booklets, iban, per_booklet=5):
    """A sponsor's paid order issued and dispatched, a distributor of that sponsor:
    ``(sponsor, distributor, serials)``."""
    ordering, issuance = rpc("ordering"), rpc("issuance")
    sponsor = ordering.register_sponsor(
        {"name": name, "kind": "department", "territory": "33", "iban": iban}, OPERATOR
    )
    as_sponsor = actor("sponsor", sponsor["id"])
    distributor = ordering.register_distributor(
        {"name": f"CCAS ({name})", "sponsor_id": sponsor["id"], "town_code": "33318"}, as_sponsor
    )
    line = {"coupons_per_booklet": per_booklet, "face_value_cents": FACE, "quantity": booklets}
    order = ordering.create_order({"sponsor_id": sponsor["id"], "lines": [line]}, as_sponsor)
    order = ordering.submit_order(order["id"], as_sponsor)
    payment = {
        "amount_cents": order["quote"]["sponsor_due_cents"],
        "payer": "sponsor",
        "reference": f"VIR-{sponsor['id'][-6:]}",
    }
    ordering.record_payment(order["id"], payment, OPERATOR)

    def published():
        try:
            return issuance.order_booklets(order["id"], {}, OPERATOR)["status"] == "published"
        except NotFound:
            return False

    wait_for(published, timeout=30)
    issuance.dispatch_order(order["id"], OPERATOR)
    listed = issuance.order_booklets(order["id"], {}, OPERATOR)["booklets"]
    return sponsor, distributor, [b["serial"] for b in listed]


def hand_out(rpc, sponsor, distributor, serials, profiles):
    """The distributor is given ``serials`` and hands each to a beneficiary with its profile."""
    issuance = rpc("issuance")
    as_sponsor = actor("sponsor", sponsor["id"])
    as_distributor = actor("distributor", distributor["id"])
    for serial, profile in zip(serials, profiles, strict=True):

        def assigned(serial=serial):
            try:
                issuance.assign_booklet(serial, {"distributor_id": distributor["id"]}, as_sponsor)
            except NotFound:  # issuance does not know the distributor yet
                return False
            return True

        wait_for(assigned)
        issuance.activate_booklet(serial, {"profile": profile}, as_distributor)


def settlement_knows(config, serials, activated=0):
    """Until settlement knows the booklets' coupons, and ``activated`` of them handed out."""
    db = get_database(config, "settlement")

    def known():
        booklets = list(db.booklets.find({"serial": {"$in": list(serials)}}))
        handed = [b for b in booklets if b.get("activated_at")]
        coupons = db.coupons.count_documents({"booklet_serial": {"$in": list(serials)}})
        return len(booklets) == len(serials) and len(handed) >= activated and coupons > 0

    wait_for(known, timeout=30)


def redeem(config, sponsor, serial, venue, coupons, category="online_admin_procedures"):
    """``coupons`` coupons of booklet ``serial`` redeemed at ``venue`` (the event redemption
    sends), once settlement has booked it."""
    db = get_database(config, "settlement")
    wait_for(lambda: db.venues.find_one({"venue_id": venue["id"]}) is not None)
    found = list(db.coupons.find({"booklet_serial": serial, "status": "outstanding"}))
    chosen = sorted(found, key=lambda c: c["serial"])[:coupons]
    redemption_id = f"red_{next(_redemptions):020x}"
    event = {
        "redemption_id": redemption_id,
        "venue_id": venue["id"],
        "service_id": "svc_00000000000000000001",
        "category": category,
        "coupons": [
            {
                "serial": c["serial"],
                "face_value_cents": c["face_value_cents"],
                "order_id": c["order_id"],
                "sponsor_id": sponsor["id"],
                "booklet_serial": serial,
            }
            for c in chosen
        ],
        "total_cents": sum(c["face_value_cents"] for c in chosen),
        "redeemed_at": iso(now()),
    }
    event_dispatcher(config)("redemption", "coupons_redeemed", event)
    wait_for(lambda: db.payables.find_one({"id": redemption_id}) is not None)


def expiring_soon(config, serials, days=12):
    """Settlement's copy of these booklets ends in ``days`` days (their alert shows)."""
    db = get_database(config, "settlement")
    db.booklets.update_many(
        {"serial": {"$in": list(serials)}}, {"$set": {"valid_until": now() + timedelta(days=days)}}
    )


AGE_BANDS = ["26_35"] * 6 + ["56_65"] * 3 + ["over_75"] * 2
PUBLICS = ["job_seeker"] * 5 + ["senior"] * 4 + [None] * 2


def dashboard_world(rpc, config):
    """The Gironde: 14 booklets of 5 coupons; 11 handed out with profiles; 6 beneficiaries use
    2 coupons each at a library in Bordeaux, 4 use 1 at Mérignac, 1 uses 1 at Pessac (those
    two venues: under 5 each, merged); 2 booklets not handed out expire in 12 days.
    Pessac's town: 3 booklets, 2 handed out (fewer than 5 in all)."""
    big, _ = accredited_venue(rpc, config, "bordeaux", name="Médiathèque Mériadeck")
    mid, _ = accredited_venue(rpc, config, "merignac", name="EPN du Burck")
    small, _ = accredited_venue(rpc, config, "pessac", name="Repair café de Pessac")
    sponsor, distributor, serials = sponsor_with_booklets(
        rpc, "Département de la Gironde", 14, IBANS[1]
    )
    profiles = [
        {"age_band": age, **({"public_category": public} if public else {}), "postcode": "33000"}
        for age, public in zip(AGE_BANDS, PUBLICS, strict=True)
    ]
    hand_out(rpc, sponsor, distributor, serials[:11], profiles)
    settlement_knows(config, serials, activated=11)
    for serial in serials[:6]:
        redeem(config, sponsor, serial, big, 2)
    for serial in serials[6:10]:
        redeem(config, sponsor, serial, mid, 1)
    redeem(config, sponsor, serials[10], small, 1)
    expiring_soon(config, serials[12:14])

    few, few_distributor, few_serials = sponsor_with_booklets(rpc, "Ville de Pessac", 3, IBANS[2])
    hand_out(rpc, few, few_distributor, few_serials[:2], [{"age_band": "18_25"}, None])
    settlement_knows(config, few_serials, activated=2)
    redeem(config, few, few_serials[0], big, 1)
    return {
        "sponsor": sponsor,
        "serials": serials,
        "venues": {"big": big, "mid": mid, "small": small},
        "few": few,
    }
