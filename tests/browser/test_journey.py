"""Issue 13's journey, every role in the browser, on one platform: a sponsor orders 1,000
co-funded coupons; the operator approves the co-funding, records the sponsor's and the State's
payments by their bank references, downloads the print file and sends the booklets; the sponsor
hands five to a distributor, which gives them to five beneficiaries with their anonymous profile;
a venue redeems a coupon of each; the sponsor's dashboard shows them, hiding cells under 5; the
operator pays the venue and downloads the SEPA file. Then a venue applies, the operator
accredits it, and it is on the public map. Screenshots: ``test_every_role_*``."""

import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shared.mongo import get_database
from shared.serials import security_code
from tests.browser import support_sponsor as world
from tests.browser.support import OPERATOR, PASSWORD, account, accredited_venue, wait_for
from tests.browser.support_application import application
from tests.conftest import TEST_SECRETS

pytestmark = pytest.mark.browser

PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"
PROFILES = [("26_35", "job_seeker")] * 4 + [("66_75", "senior")]


def euros(cents):
    return f"{cents // 100},{cents % 100:02d}"


def test_every_role_does_its_work_in_the_browser(rpc, stack_config, browse, tmp_path):
    sponsor = world.sponsor(rpc)
    distributor = world.distributor(rpc, sponsor, "CCAS de Pessac")
    venue, service = accredited_venue(rpc, stack_config, "bordeaux")
    people = {
        "sponsor_email": account(rpc, "commandes@gironde.example", "sponsor", sponsor["id"])[
            "email"
        ],
        "operator_email": account(rpc, "tresorerie@aptic.example", "operator")["email"],
        "distributor_email": account(
            rpc, "accueil@ccas-pessac.example", "distributor", distributor["id"]
        )["email"],
        "venue_email": account(rpc, "mediation@epn-bordeaux.example", "venue", venue["id"])[
            "email"
        ],
        "password": PASSWORD,
    }

    # the sponsor orders 100 booklets of 10 coupons of 10 EUR, co-funded
    ordered = browse("journey_sponsor_orders", **people)
    assert "1 000 chèques" in ordered["quote"].replace("\u202f", " ")
    ordering = rpc("ordering")
    (order,) = ordering.list_orders({"sponsor_id": sponsor["id"]}, OPERATOR)["orders"]
    assert order["status"] == "cofunding_pending"
    quote = order["quote"]
    assert (quote["face_value_cents"], quote["fee_cents"]) == (1_000_000, 40_000)
    assert (quote["state_share_cents"], quote["sponsor_due_cents"]) == (500_000, 540_000)

    # the operator approves, records both payments, prints and sends the booklets
    print_file = tmp_path / "print.pdf"
    confirmed = browse(
        "journey_operator_confirms",
        **people,
        order_id=order["id"],
        sponsor_amount=euros(quote["sponsor_due_cents"]),
        state_amount=euros(quote["state_share_cents"]),
        print_to=str(print_file),
    )
    assert confirmed["booklets"] == "100"
    assert len(confirmed["payments"]) == 2
    assert print_file.read_bytes().startswith(b"%PDF")
    issuance = rpc("issuance")
    booklets = issuance.order_booklets(order["id"], {"limit": 100}, OPERATOR)["booklets"]
    assert len(booklets) == 100 and {b["status"] for b in booklets} == {"dispatched"}
    serials = [b["serial"] for b in booklets[:5]]
    printed = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "3", str(print_file), "-"], capture_output=True, text=True
    ).stdout
    assert serials[0] in printed  # the first booklet's cover

    # the sponsor hands five to its distributor, which gives them to five beneficiaries
    assigned = browse(
        "journey_sponsor_assigns", **people, serials=serials, distributor=distributor["name"]
    )
    assert "5" in assigned["outcomes"]
    handed = browse("journey_distributor_hands_out", **people, serials=serials, profiles=PROFILES)
    assert len(handed["handed"]) == 5
    for serial, (age, public) in zip(serials, PROFILES, strict=True):
        booklet = issuance.get_booklet(serial, OPERATOR)
        assert booklet["status"] == "activated"
        assert booklet["profile"] == {
            "age_band": age,
            "public_category": public,
            "postcode": "33600",
        }

    # a venue redeems the first coupon of each booklet, in one basket
    secret = TEST_SECRETS["OPERATOR_SECRET"]
    firsts = [issuance.get_booklet(s, OPERATOR)["coupon_serials"][0] for s in serials]
    coupons = [(c, security_code(secret, c)) for c in firsts]
    redemption_db = get_database(stack_config, "redemption")
    wait_for(lambda: redemption_db.coupons.count_documents({"serial": {"$in": firsts}}) == 5)
    redeemed = browse("journey_venue_redeems", **people, service_id=service["id"], coupons=coupons)
    assert "50,00" in redeemed["confirmed"]

    # the sponsor's dashboard: five beneficiaries at the venue, the small age band hidden
    settlement = rpc("settlement")
    wait_for(
        lambda: settlement.ledger_balance()["liabilities"]["venue_payable_cents"] == 5000,
        timeout=30,
    )
    dashboard = browse("journey_sponsor_dashboard", **people)
    assert venue["name"] in dashboard["venues"]
    assert "moins de 5" in dashboard["ages"]  # one beneficiary of 66 to 75
    assert "26 à 35 ans" not in dashboard["ages"] or "moins de 5" in dashboard["ages"]

    # the operator pays the venue up to today and downloads the SEPA file
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    sepa = tmp_path / "sepa.xml"
    paid = browse("journey_operator_pays", **people, today=today, sepa_to=str(sepa))
    assert "Terminé" in paid["run"]
    root = ET.fromstring(sepa.read_bytes())
    transfers = {
        t.find(f"{PAIN}CdtrAcct/{PAIN}Id/{PAIN}IBAN").text: t.find(f"{PAIN}Amt/{PAIN}InstdAmt").text
        for t in root.iter(f"{PAIN}CdtTrfTxInf")
    }
    assert transfers[venue["iban"].replace(" ", "")] == "48.00"  # 50.00 less 4 %

    # a venue applies; the operator accredits it; it is on the public map
    applicant = application("arcachon", email="candidature@epn-arcachon.example")
    joined = browse("journey_venue_joins", **people, venue=applicant)
    assert "en cours d'examen" in joined["sent"]
    assert applicant["name"] in joined["map"]
