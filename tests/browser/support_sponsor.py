"""The world of the sponsor's browser tests: a department with its distributors, its orders paid
and issued as the operator would do it (over RPC), and another sponsor's order and booklets."""

from shared.errors import NotFound
from tests.browser.support import OPERATOR, PASSWORD, wait_for
from tests.factories import IBANS

EMAIL = "commandes@gironde.example"


def as_sponsor(sponsor):
    return {"role": "sponsor", "key_id": None, "subject_id": sponsor["id"], "label": "test"}


def sponsor(rpc, name="Département de la Gironde", territory="33", iban=IBANS[1]):
    payload = {"name": name, "kind": "department", "territory": territory, "iban": iban}
    return rpc("ordering").register_sponsor(payload, OPERATOR)


def distributor(rpc, owner, name, town_code="33318"):
    payload = {"name": name, "sponsor_id": owner["id"], "town_code": town_code}
    found = rpc("ordering").register_distributor(payload, as_sponsor(owner))
    issuance = rpc("issuance")

    def known():  # issuance learns it from ordering.distributor_registered
        try:
            issuance.distributor_booklets(found["id"], {"limit": 1}, OPERATOR)
        except NotFound:
            return False
        return True

    wait_for(known)
    return found


def paid_and_issued(rpc, owner, booklets=4, reference="VIR-0001"):
    """An order of ``owner`` submitted, paid by the sponsor, issued and sent to it (the booklets
    dispatched): ``(order, [serial, ...])``."""
    ordering, issuance = rpc("ordering"), rpc("issuance")
    me = as_sponsor(owner)
    line = {"coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": booklets}
    order = ordering.create_order({"sponsor_id": owner["id"], "lines": [line]}, me)
    order = ordering.submit_order(order["id"], me)
    payment = {
        "amount_cents": order["quote"]["sponsor_due_cents"],
        "payer": "sponsor",
        "reference": reference,
    }
    ordering.record_payment(order["id"], payment, OPERATOR)

    def published():
        try:
            return issuance.order_booklets(order["id"], {}, OPERATOR)["status"] == "published"
        except NotFound:
            return False

    wait_for(published, timeout=30)
    wait_for(lambda: ordering.get_order(order["id"], OPERATOR)["status"] == "issued")
    issuance.dispatch_order(order["id"], OPERATOR)
    found = issuance.order_booklets(order["id"], {}, OPERATOR)["booklets"]
    return ordering.get_order(order["id"], OPERATOR), [b["serial"] for b in found]


def cancelled_after_payment(rpc, owner, reference="VIR-0002"):
    """An order of ``owner`` partly paid (100 EUR), then cancelled by the operator: settlement
    refunds what was paid with a credit note. ``(order, credit note reference)``."""
    ordering, settlement = rpc("ordering"), rpc("settlement")
    me = as_sponsor(owner)
    line = {"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 2}
    order = ordering.create_order({"sponsor_id": owner["id"], "lines": [line]}, me)
    order = ordering.submit_order(order["id"], me)
    payment = {"amount_cents": 10_000, "payer": "sponsor", "reference": reference}
    ordering.record_payment(order["id"], payment, OPERATOR)
    ordering.cancel_order(order["id"], {"reason": "erreur de quantité"}, OPERATOR)
    funder = f"sponsor:{owner['id']}"

    def credited():
        notes = settlement.list_credit_notes({"funder_id": funder})["credit_notes"]
        return [n for n in notes if order["id"] in n["order_ids"]]

    wait_for(credited, timeout=30)
    return order, credited()[0]["reference"]


def account(rpc, owner, email=EMAIL):
    rpc("web").create_user(email, "sponsor", owner["id"], PASSWORD)
    return email
