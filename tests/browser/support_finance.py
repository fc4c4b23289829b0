"""The world of the operator's money pages: a co-funded order awaiting its decision, and coupons
redeemed at a venue in the last finished month (as redemption announces them)."""

from datetime import UTC, datetime, timedelta

from nameko.standalone.events import event_dispatcher

from shared.events import CouponsRedeemed
from shared.mongo import get_database
from tests import settlement_support as ev
from tests.browser.support import OPERATOR, accredited_venue, wait_for
from tests.factories import IBANS

APPLICATION = {
    "target_publics": {"skills_plan_priority_pct": 60, "digital_precarity_pct": 40},
    "geographic_area": "Gironde, quartiers prioritaires",
    "partners": ["CCAS de Bordeaux"],
    "budget_cents": 5_000_000,
}


def cofunded_order_pending(rpc, booklets=20):
    """A department's order of ``booklets`` booklets of 10 coupons of 10 EUR, co-funded by the
    State at the campaign's rate, submitted: awaiting the operator's decision."""
    ordering = rpc("ordering")
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
    line = {"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": booklets}
    payload = {"sponsor_id": sponsor["id"], "lines": [line], "state_cofunding": APPLICATION}
    order = ordering.create_order(payload, as_sponsor)
    order = ordering.submit_order(order["id"], as_sponsor)
    assert order["status"] == "cofunding_pending", order["status"]
    return order


def last_finished_month_day():
    """The 10th of the month before this one, at noon UTC."""
    first = datetime.now(UTC).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=20)).replace(day=10)


def redeemed_last_month(rpc, config, coupons=3):
    """A venue accredited (its IBAN known to settlement) redeems ``coupons`` coupons of 10 EUR on
    the 10th of the last finished month, of an order confirmed in January: ``venue``."""
    venue, _ = accredited_venue(rpc, config, "bordeaux")
    dispatch = event_dispatcher(config)
    confirmed = ev.order_confirmed(coupons=10)
    issued = ev.booklets_issued(confirmed)
    redeemed = ev.redeemed(
        issued, ev.all_coupons(issued)[:coupons], venue_id=venue["id"], at=last_finished_month_day()
    )
    dispatch("ordering", "order_confirmed", confirmed)
    dispatch("redemption", "coupons_redeemed", CouponsRedeemed().dump(redeemed))
    settlement = rpc("settlement")
    wait_for(
        lambda: settlement.ledger_balance()["liabilities"]["venue_payable_cents"] == coupons * 1000
    )
    return rpc("catalog").get_venue(venue["id"], public=False)


def expired_booklets(rpc, config, coupons=10):
    """An order confirmed in January whose booklets were valid 30 days: past their grace month,
    an expiry run today expires its ``coupons`` coupons and refunds its sponsor."""
    dispatch = event_dispatcher(config)
    confirmed = ev.order_confirmed(coupons=coupons)
    issued = ev.booklets_issued(
        confirmed, issued_at=datetime(2026, 1, 15, tzinfo=UTC), valid_days=30
    )
    dispatch("ordering", "order_confirmed", confirmed)
    dispatch("issuance", "booklets_issued", issued)
    # the stack's issuance also issues this order (it heard order_confirmed): its booklets,
    # valid a year from today, expire in none of these runs; wait for the January ones
    serials = [booklet["serial"] for booklet in issued["booklets"]]
    booklets = get_database(config, "settlement").booklets
    wait_for(lambda: booklets.count_documents({"serial": {"$in": serials}}) == len(serials))
    return confirmed
