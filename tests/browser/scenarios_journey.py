"""Issue 13's whole journey in the browser, one person at a time: a sponsor orders 1,000
co-funded coupons, the operator approves them, records both payments, prints and sends the
booklets, the sponsor hands one to a distributor, the distributor gives it to a beneficiary, a
venue redeems coupons, the sponsor's dashboard shows them, the operator pays the venue and
downloads the SEPA file; a venue applies and, accredited, is on the public map."""

import re

from tests.browser.browser import PHONE, TABLET
from tests.browser.scenarios import listed, login, scenario
from tests.browser.scenarios_application import fill_application, send
from tests.browser.scenarios_console import _decide
from tests.browser.scenarios_sponsor import wait_quote


def _wait_text(page, selector, text, seconds=90):
    """Until ``selector`` holds ``text``, the page reloaded each second."""
    for _ in range(seconds):
        if text in page.locator(selector).inner_text():
            return
        page.wait_for_timeout(1000)
        page.reload()
    raise AssertionError(f"{text!r} never came: {page.locator(selector).inner_text()!r}")


@scenario
def journey_sponsor_orders(visitor, data):
    person = visitor(f"{data['test']}-1-sponsor", viewport=TABLET)
    page = person.page
    login(person, data["site"], data["sponsor_email"], data["password"])
    page.get_by_role("link", name="Commander des carnets").click()
    page.wait_for_url("**/espace/commande")
    page.get_by_label("Nombre de carnets").first.fill("100")
    page.get_by_label("Demander le cofinancement de l'État").check()
    wait_quote(page, "Part payée par l'État")
    page.get_by_label("Part des publics prioritaires").fill("60")
    page.get_by_label("Part des personnes en grande précarité").fill("40")
    page.get_by_label("Territoire couvert").fill("Gironde, quartiers prioritaires")
    page.get_by_label("Partenaires").fill("CCAS de Pessac")
    page.get_by_label("Budget total du projet").fill("30000")
    page.get_by_label("Territoires où les chèques sont acceptés").fill("33")
    quote = page.locator("#quote").inner_text()
    person.look("order-quote")
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_url(re.compile(r"/espace\?fait=ordered"))
    person.look("ordered")
    return {"quote": quote, "orders": page.locator("#orders").inner_text()}


@scenario
def journey_operator_confirms(visitor, data):
    site, order_id = data["site"], data["order_id"]
    person = visitor(f"{data['test']}-2-operator", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["operator_email"], data["password"])
    page.get_by_role("navigation").get_by_role("link", name="Commandes", exact=True).click()
    page.locator("#pending").get_by_role("link", name=order_id).click()
    page.wait_for_url(f"**/operateur/commandes/{order_id}")
    page.get_by_label("Accorder le cofinancement").check()
    page.get_by_label("Raison (le commanditaire la lit)").fill(
        "Publics prioritaires, dossier complet"
    )
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_url("**?fait=decision")
    for payer, amount, reference in (
        ("sponsor", data["sponsor_amount"], "VIR-GIRONDE-2026-12"),
        ("state", data["state_amount"], "ANCT-2026-0451"),
    ):
        page.get_by_label("Payeur").select_option(payer)
        page.get_by_label("Montant reçu").fill(amount)
        page.get_by_label("Référence bancaire du virement").fill(reference)
        page.get_by_role("button", name="Enregistrer le paiement").click()
        page.wait_for_url("**?fait=paiement")
    _wait_text(page, "#order-status", "Carnets émis")
    person.look("order-issued")
    with page.expect_download(timeout=240_000) as caught:
        page.get_by_role("link", name="Fichier d'impression des carnets (PDF)").click()
    caught.value.save_as(data["print_to"])
    page.get_by_role("button", name="Marquer les carnets expédiés au commanditaire").click()
    page.wait_for_url("**?fait=expedition")
    person.look("order-dispatched")
    return {
        "status": page.locator("#order-status").inner_text(),
        "payments": page.locator("#payments li").all_inner_texts(),
        "booklets": page.locator("#booklets").inner_text(),
    }


@scenario
def journey_sponsor_assigns(visitor, data):
    person = visitor(f"{data['test']}-3-sponsor", viewport=TABLET)
    page = person.page
    login(person, data["site"], data["sponsor_email"], data["password"])
    page.get_by_role("link", name="Carnets", exact=True).click()
    page.wait_for_url("**/espace/carnets")
    for serial in data["serials"]:
        page.get_by_label(f"Choisir le carnet {serial}").check()
    page.get_by_label("Structure distributrice", exact=True).select_option(
        label=data["distributor"]
    )
    page.get_by_role("button", name="Confier les carnets").click()
    page.wait_for_load_state()
    person.look("assigned")
    return {"outcomes": page.locator("#outcomes").inner_text()}


@scenario
def journey_distributor_hands_out(visitor, data):
    person = visitor(f"{data['test']}-4-distributor", viewport=TABLET)
    page = person.page
    login(person, data["site"], data["distributor_email"], data["password"])
    handed = []
    for serial, (age, public) in zip(data["serials"], data["profiles"], strict=True):
        page.get_by_label("Numéro du carnet").fill(serial)
        page.get_by_label("Tranche d'âge").select_option(age)
        page.get_by_label("Public", exact=True).select_option(public)
        page.get_by_label("Code postal du bénéficiaire").fill("33600")
        page.get_by_role("button", name="Remettre le carnet").click()
        page.wait_for_url(re.compile(r"/distribution\?remis="))
        handed.append(page.get_by_role("status").first.inner_text())
    person.look("handed-out")
    return {"handed": handed}


@scenario
def journey_venue_redeems(visitor, data):
    person = visitor(f"{data['test']}-5-venue", viewport=TABLET)
    page = person.page
    login(person, data["site"], data["venue_email"], data["password"])
    page.get_by_label("Service rendu").select_option(data["service_id"])
    for n, (serial, code) in enumerate(data["coupons"], start=1):
        if n > 1 and page.get_by_label(f"Numéro du chèque {n}").count() == 0:
            page.get_by_role("button", name="Ajouter un chèque").click()
        page.get_by_label(f"Numéro du chèque {n}").fill(serial)
        page.get_by_label(f"Code de sécurité {n}").fill(code)
    person.look("basket")
    page.get_by_role("button", name="Encaisser", exact=True).click()
    page.wait_for_url("**/guichet/encaissements/*")
    person.look("redeemed")
    return {"confirmed": page.locator("main").inner_text()}


@scenario
def journey_sponsor_dashboard(visitor, data):
    person = visitor(f"{data['test']}-6-sponsor", viewport=TABLET)
    page = person.page
    login(person, data["site"], data["sponsor_email"], data["password"])
    page.get_by_role("link", name="Tableau de bord").click()
    page.wait_for_url("**/espace/tableau-de-bord")
    page.wait_for_selector("#map .leaflet-marker-icon")
    person.look("dashboard")
    return {
        "main": page.locator("main").inner_text(),
        "totals": page.locator("#table-totaux").inner_text(),
        "venues": page.locator("#table-lieux").inner_text(),
        "ages": page.locator("#table-ages").inner_text(),
    }


@scenario
def journey_operator_pays(visitor, data):
    site = data["site"]
    person = visitor(f"{data['test']}-7-operator", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["operator_email"], data["password"])
    page.get_by_role("navigation").get_by_role("link", name="Paiements", exact=True).click()
    page.wait_for_url("**/operateur/reglements")
    page.get_by_label("Encaissements payés jusqu'au (inclus)").fill(data["today"])
    page.get_by_role("button", name="Lancer le paiement", exact=True).click()
    page.wait_for_url(re.compile(r"/operateur/reglements/paiements/SR-"))
    _wait_text(page, "main", "Terminé", seconds=120)
    person.look("run-completed")
    with page.expect_download() as caught:
        page.get_by_role("link", name="Fichier de virements SEPA").click()
    caught.value.save_as(data["sepa_to"])
    return {"run": page.locator("main").inner_text()}


@scenario
def journey_venue_joins(visitor, data):
    site, venue = data["site"], data["venue"]
    applicant = visitor(f"{data['test']}-8-applicant", viewport=PHONE)
    page = applicant.page
    page.goto(f"{site}/candidature")
    fill_application(page, venue)
    send(page)
    applicant.look("application-sent")
    sent = page.locator("main").inner_text()

    operator = visitor(f"{data['test']}-9-operator", viewport=TABLET)
    page = operator.page
    login(operator, site, data["operator_email"], data["password"])
    page.goto(f"{site}/operateur/lieux")
    _decide(page, f"Décision sur {venue['name']}", "Visite faite, ateliers vus", "Accréditer")
    operator.look("accredited")

    public = visitor(f"{data['test']}-10-public", viewport=PHONE)
    page = public.page
    page.goto(f"{site}/carte?q={venue['city']}")
    found = listed(page)
    public.look("on-the-map")
    return {"sent": sent, "map": found}
