"""Sponsor staff in their space: they order co-funded coupons with the quote shown as they type
(and without JavaScript), see the order in their list, download the invoice and a credit note,
assign booklets to a distributor, report one lost, block one; another sponsor's orders and
booklets are refused."""

import subprocess

import pytest

from shared.mongo import get_database
from tests.browser import support_sponsor as world
from tests.browser.support import OPERATOR, PASSWORD
from tests.factories import IBANS

pytestmark = pytest.mark.browser
NBSP, NNBSP = "\u00a0", "\u202f"


def plain(text):
    """The page's text with its no-break spaces (in amounts, before % and :) as spaces."""
    return text.replace(NNBSP, " ").replace(NBSP, " ")


def pdf_text(path):
    assert path.read_bytes().startswith(b"%PDF")
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    return done.stdout


def test_sponsor_orders_cofunded_coupons_with_the_live_quote(rpc, stack_config, browse):
    sponsor = world.sponsor(rpc)
    email = world.account(rpc, sponsor)
    seen = browse("sponsor_orders_cofunded", email=email, password=PASSWORD)
    assert "Vous n'avez encore rien commandé." in seen["empty"]
    assert "Indiquez le nombre de carnets pour voir le devis." in seen["waiting"]
    # 1,000 coupons of 10 EUR: 10,000 EUR face value, 4 % fee, no co-funding yet
    for figure in ("1 000 chèques", "10 000,00 €", "400,00 €", "10 400,00 €"):
        assert figure in plain(seen["typed"]), (figure, seen["typed"])
    assert "Frais de gestion (4 %)" in plain(seen["typed"])
    assert plain(seen["typo"]) == "Indiquez un nombre entier de carnets, de 1 à 100 000."
    assert seen["invalid"] == "true"
    # co-funded: the State pays 50 % of the face value; the fee stays with the sponsor
    assert "Part payée par l'État (50 %)" in plain(seen["cofunded"])
    assert "− 5 000,00 €" in plain(seen["cofunded"])
    assert "5 400,00 €" in plain(seen["cofunded"])
    assert seen["alert"] == "La commande n'est pas envoyée : corrigez les champs signalés."
    assert "Indiquez un pourcentage entier, de 0 à 100." in seen["missing"]
    assert "Décrivez le territoire couvert (2 à 500 caractères)." in seen["missing"]
    assert "Indiquez le budget du projet en euros." in seen["missing"]
    assert seen["kept"] == "100"  # what was typed comes back
    assert seen["territory_error"] == (
        "Des codes de département (33) ou de commune INSEE (33063), séparés par des virgules."
    )
    assert "Votre commande est envoyée" in seen["done"]
    assert "Territoires acceptés : 33, 40" in seen["listed"]
    assert "Ateliers acceptés : Utiliser son smartphone ou sa tablette" in seen["listed"]
    assert "En attente de la décision de cofinancement de l'État" in seen["listed"]
    assert "5 400,00 €" in plain(seen["listed"]) and "5 000,00 €" in plain(seen["listed"])
    # without JavaScript: 20 booklets of 5 coupons = 100 coupons, 1,000 EUR + 40 EUR
    assert "1 040,00 €" in plain(seen["without_js"]), seen["without_js"]
    assert (
        plain(seen["no_js_error"]) == "Indiquez la valeur d'un chèque en euros, de 0,01 € à 100 €."
    )

    orders = list(get_database(stack_config, "ordering").orders.find({}))
    assert len(orders) == 1
    order = orders[0]
    assert order["status"] == "cofunding_pending" and order["sponsor_id"] == sponsor["id"]
    assert order["quote"] == {
        "coupon_count": 1000,
        "face_value_cents": 1_000_000,
        "fee_cents": 40_000,
        "state_share_cents": 500_000,
        "sponsor_due_cents": 540_000,
    }
    assert order["cofunding"]["application"] == {
        "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
        "geographic_area": "Gironde, quartiers prioritaires",
        "partners": ["CCAS de Pessac", "Mairie de Talence"],
        "budget_cents": 3_000_000,
    }
    assert order["rules"] == {
        "territories": ["33", "40"],
        "venue_types": [],
        "categories": ["smartphone_use"],
    }
    assert order["history"][-1]["by"]["label"] == f"web: {email}"


def test_sponsor_downloads_documents_and_acts_on_booklets(rpc, stack_config, browse, tmp_path):
    sponsor = world.sponsor(rpc)
    other = world.sponsor(rpc, name="Département des Landes", territory="40")
    pessac = world.distributor(rpc, sponsor, "CCAS de Pessac")
    world.distributor(rpc, sponsor, "Mairie de Talence", "33522")
    order, serials = world.paid_and_issued(rpc, sponsor, booklets=4)
    _, note = world.cancelled_after_payment(rpc, sponsor)
    other_order, other_serials = world.paid_and_issued(rpc, other, booklets=1, reference="VIR-9")
    _, other_note = world.cancelled_after_payment(rpc, other, reference="VIR-10")
    # the fourth booklet is already with a beneficiary
    issuance = rpc("issuance")
    issuance.assign_booklet(serials[3], {"distributor_id": pessac["id"]}, world.as_sponsor(sponsor))
    as_pessac = {"role": "distributor", "key_id": None, "subject_id": pessac["id"], "label": "t"}
    issuance.activate_booklet(serials[3], {}, as_pessac)
    email = world.account(rpc, sponsor)
    invoice, credit_note = tmp_path / "invoice.pdf", tmp_path / "credit-note.pdf"
    seen = browse(
        "sponsor_acts_on_booklets",
        email=email,
        password=PASSWORD,
        serials=serials,
        invoice=order["invoice"]["reference"],
        distributor="CCAS de Pessac",
        invoice_to=str(invoice),
        credit_note_to=str(credit_note),
        other_order=other_order["id"],
        other_note=other_note,
        other_serial=other_serials[0],
    )
    reference = order["invoice"]["reference"]
    assert reference in seen["orders"] and "Carnets imprimés" in seen["orders"]
    assert "Vous : 208,00 € sur 208,00 €" in plain(seen["orders"])  # 4 x 5 x 10 EUR + 4 %
    assert "Annulée" in seen["orders"] and note in seen["notes"]
    assert "Carnets imprimés" in seen["order_page"] and "VIR-0001" in seen["order_page"]
    assert "Chèques acceptés dans tous les lieux, pour tous les ateliers." in seen["order_page"]
    history = [line.split("\t")[1:] for line in seen["history"].splitlines()]
    assert history == [
        ["Pas encore envoyée", "Vous"],
        ["Envoyée : en attente de votre paiement", "Vous"],
        ["Payée : carnets en impression", "Équipe APTIC"],
        ["Carnets imprimés", "La plateforme"],
    ], seen["history"]
    text = pdf_text(invoice)
    assert reference in text and "Gironde" in text
    assert note in pdf_text(credit_note)
    for serial in serials:
        assert serial in seen["listed"]
    assert other_serials[0] not in seen["listed"]
    assert seen["assigned"].startswith("2 carnets confiés à CCAS de Pessac.")
    assert seen["after_assign"].count("CCAS de Pessac") == 3  # two now, and the one handed out
    assert f"Carnet {serials[1]} : Déclaré perdu" in seen["lost"]
    assert f"Carnet {serials[2]} : Bloqué" in seen["blocked"]
    assert f"Carnet {serials[3]} : Ce carnet ne peut pas être bloqué" in seen["blocked"]
    assert seen["only_cancelled"] == 2 and seen["ticked"] == 2
    assert seen["town_error"] == "Le code INSEE de la commune a 5 caractères (33063 pour Bordeaux)."
    assert seen["added"].startswith("La structure distributrice est ajoutée")
    assert seen["offered"] == [
        "Choisir",
        "CCAS de Pessac",
        "Mairie de Mérignac",
        "Mairie de Talence",
    ]
    assert seen["forged"] == {
        "invoice": 403,
        "order": 403,
        "unknown": 404,
        "credit_note": 403,
        "block": 403,
        "cancel": 403,
        "no_token": 403,
    }
    booklets = {b["serial"]: b for b in get_database(stack_config, "issuance").booklets.find({})}
    added = get_database(stack_config, "ordering").distributors.find_one({"town_code": "33281"})
    assert (added["name"], added["sponsor_id"]) == ("Mairie de Mérignac", sponsor["id"])
    assert booklets_status(stack_config, serials[0]) == "assigned"
    assert booklets[serials[0]]["distributor_id"] == pessac["id"]
    assert (booklets[serials[1]]["status"], booklets[serials[1]]["cancel_reason"]) == (
        "cancelled",
        "lost",
    )
    assert (booklets[serials[2]]["status"], booklets[serials[2]]["cancel_reason"]) == (
        "cancelled",
        "blocked",
    )
    assert booklets[serials[3]]["status"] == "activated"
    assert booklets[other_serials[0]]["status"] == "dispatched"
    assert rpc("ordering").get_order(other_order["id"], OPERATOR)["status"] == "issued"


def booklets_status(config, serial):
    return get_database(config, "issuance").booklets.find_one({"serial": serial})["status"]


def test_distributor_staff_are_sent_to_their_desk(rpc, browse):
    sponsor = world.sponsor(rpc)
    pessac = world.distributor(rpc, sponsor, "CCAS de Pessac")
    email = "accueil@ccas-pessac.example"
    rpc("web").create_user(email, "distributor", pessac["id"], PASSWORD)
    seen = browse("distributor_space_redirects", email=email, password=PASSWORD)
    assert seen["url"].endswith("/distribution")


def test_a_company_is_refused_cofunding_in_french(rpc, stack_config, browse):
    company = rpc("ordering").register_sponsor(
        {"name": "Banque du Sud-Ouest", "kind": "company", "territory": "33", "iban": IBANS[2]},
        OPERATOR,
    )
    email = world.account(rpc, company, "rse@banque.example")
    seen = browse("sponsor_not_eligible_for_cofunding", email=email, password=PASSWORD)
    rule = "Le cofinancement de l'État est réservé aux collectivités et à leurs groupements."
    assert rule in seen["live"] and "Le devis est calculé sans cofinancement." in seen["live"]
    assert "1 040,00 €" in plain(seen["live"])  # 10 x 10 x 10 EUR + 4 %, no State share
    assert "Part payée par l'État" not in seen["live"]
    assert seen["refused"] == "Votre structure ne peut pas demander le cofinancement de l'État."
    assert get_database(stack_config, "ordering").orders.count_documents({}) == 0
