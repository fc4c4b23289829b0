"""The operator's money pages in the browser: a co-funding decision, payments recorded by their
bank reference, a settlement run and an expiry run started from the page and followed until
done, their documents downloaded, the ledger's balance; other people are refused."""

import re
import time

from tests.browser.browser import TABLET
from tests.browser.scenarios import login, scenario


def _wait_text(page, selector, text, seconds=60, reload=False):
    """Until ``selector`` holds ``text`` (the page refreshes itself, or is reloaded)."""
    for _ in range(seconds * 2):
        found = page.locator(selector)
        if found.count() and text in found.first.inner_text():
            return found.first.inner_text()
        if reload:
            page.reload()
        page.wait_for_timeout(500)
    raise AssertionError(f"{text!r} never came in {selector}: {page.locator('main').inner_text()}")


@scenario
def operator_orders_and_payments(visitor, data):
    site, order_id = data["site"], data["order_id"]
    person = visitor(f"{data['test']}-operator", viewport=TABLET)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.get_by_role("navigation").get_by_role("link", name="Commandes", exact=True).click()
    page.wait_for_url("**/operateur/commandes")
    pending = page.locator("#pending").inner_text()
    campaign = page.locator("#campaign").inner_text()
    person.look("orders")

    # the campaign: an envelope below what orders committed is refused; then changed
    page.get_by_label("Enveloppe de l'année (en euros)").fill("500,00")
    page.get_by_role("button", name="Enregistrer la campagne").click()
    page.wait_for_load_state()
    envelope_refused = page.locator("#campaign-error").inner_text()
    page.get_by_label("Taux de l'État (en %)").fill("50")
    page.get_by_label("Enveloppe de l'année (en euros)").fill("2 000 000,00")
    page.get_by_role("button", name="Enregistrer la campagne").click()
    page.wait_for_url("**?campagne=1")
    campaign_saved = page.locator("#campaign").inner_text()
    person.look("campaign-saved")

    page.locator("#pending").get_by_role("link", name=order_id).click()
    page.wait_for_url(f"**/operateur/commandes/{order_id}")
    person.look("order-cofunding")
    page.get_by_label("Accorder le cofinancement").check()
    page.get_by_label("Raison (le commanditaire la lit)").fill("Dossier complet, publics visés")
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_url("**?fait=decision")
    approved = page.locator("#order-status").inner_text()

    # a wrong amount format: refused in French, nothing recorded
    page.get_by_label("Payeur").select_option("sponsor")
    page.get_by_label("Montant reçu").fill("1080.00")
    page.get_by_label("Référence bancaire du virement").fill("VIR-2026-0042")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    page.wait_for_load_state()
    refused = page.locator("#payment-error").inner_text()
    person.look("payment-refused")

    page.get_by_label("Montant reçu").fill(data["sponsor_amount"])
    page.get_by_role("button", name="Enregistrer le paiement").click()
    page.wait_for_url("**?fait=paiement")
    after_sponsor = page.locator("#order-status").inner_text()
    page.get_by_label("Payeur").select_option("state")
    page.get_by_label("Montant reçu").fill(data["state_amount"])
    page.get_by_label("Référence bancaire du virement").fill("ANCT-2026-0007")
    page.get_by_role("button", name="Enregistrer le paiement").click()
    page.wait_for_url("**?fait=paiement")
    confirmed = page.locator("#order-status").inner_text()
    payments = page.locator("#payments li").all_inner_texts()
    booklets = _wait_text(page, "#order-status", "Carnets émis", seconds=60, reload=True)
    booklet_count = page.locator("#booklets").inner_text()
    person.look("order-paid")
    page.get_by_role("link", name="← Commandes à traiter").click()
    page.wait_for_url("**/operateur/commandes")
    paid = page.locator("#paid tbody tr").all_inner_texts()

    forged = page.request.post(
        f"{site}/operateur/commandes/{order_id}/paiements",
        form={"payer": "sponsor", "amount": "1,00", "reference": "FORGED-1"},
    )
    return {
        "pending": pending,
        "campaign": campaign,
        "envelope_refused": envelope_refused,
        "campaign_saved": campaign_saved,
        "approved": approved,
        "refused": refused,
        "after_sponsor": after_sponsor,
        "confirmed": confirmed,
        "payments": payments,
        "issued": booklets,
        "booklet_count": booklet_count,
        "paid": paid,
        "forged_status": forged.status,
    }


@scenario
def operator_runs(visitor, data):
    site = data["site"]
    person = visitor(f"{data['test']}-operator", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.get_by_role("navigation").get_by_role("link", name="Paiements", exact=True).click()
    page.wait_for_url("**/operateur/reglements")
    cutoff = page.get_by_label("Encaissements payés jusqu'au (inclus)").input_value()
    as_of = page.get_by_label("Expirer au").input_value()
    person.look("runs")

    page.get_by_role("button", name="Lancer le paiement").click()
    page.wait_for_url(re.compile(r"/operateur/reglements/paiements/SR-"))
    started = page.locator("main").inner_text()
    page.goto(page.url + "&auto=0")  # still, for the screenshot (the page reloads itself)
    person.look("run-progress")
    page.goto(page.url.removesuffix("&auto=0"))
    _wait_text(page, "#run-status", "Terminé", seconds=90)
    net = page.locator("#run-net").inner_text()
    payouts = page.locator("#payouts tbody tr").all_inner_texts()
    person.look("run-completed")
    with page.expect_download() as caught:
        page.get_by_role("link", name=re.compile("Synthèse du paiement")).click()
    caught.value.save_as(data["summary_as"])
    with page.expect_download() as caught:
        page.get_by_role("link", name="Fichier de virements SEPA").click()
    caught.value.save_as(data["sepa_as"])
    sepa_name = caught.value.suggested_filename

    page.get_by_role("link", name="← Paiements").click()
    page.wait_for_url("**/operateur/reglements")
    page.get_by_role("button", name="Lancer l'expiration").click()
    page.wait_for_url(re.compile(r"/operateur/reglements/expirations/EXP-"))
    _wait_text(page, "#run-status", "Terminé", seconds=90, reload=True)
    expired = page.locator("main").inner_text()
    credit_notes = page.locator("#credit-notes li").all_inner_texts()
    person.look("expiry-completed")
    with page.expect_download() as caught:
        page.locator("#credit-notes").get_by_role("link").first.click()
    caught.value.save_as(data["credit_note_as"])

    page.get_by_role("link", name="← Paiements").click()
    page.wait_for_url("**/operateur/reglements")
    runs = page.locator("#runs li").all_inner_texts()
    expiry_runs = page.locator("#expiry-runs li").all_inner_texts()
    ledger = page.locator("#ledger-status").inner_text()
    invariants = page.locator("#invariants li").all_inner_texts()
    anomalies = page.locator("#anomalies").inner_text()
    page.locator("#ledger-title").scroll_into_view_if_needed()
    person.look("ledger")

    # asked for a minute ago and never begun (another run held the lock): said, no more reloads
    page.goto(
        f"{site}/operateur/reglements/paiements/SR-2026-01-31?demande={int(time.time()) - 120}"
    )
    stalled = page.locator("#progress").inner_text()
    scripts = page.locator("script[src='/static/finance.js']").count()
    person.look("run-stalled")
    page.goto(f"{site}/operateur/reglements")

    # a day still to come: refused in French
    page.get_by_label("Encaissements payés jusqu'au (inclus)").fill("2099-01-31")
    page.get_by_role("button", name="Lancer le paiement").click()
    page.wait_for_load_state()
    future = page.locator("#run-error").inner_text()
    forged = page.request.post(f"{site}/operateur/reglements/paiement", form={"period_end": cutoff})
    return {
        "cutoff": cutoff,
        "as_of": as_of,
        "started": started,
        "net": net,
        "payouts": payouts,
        "sepa_name": sepa_name,
        "expired": expired,
        "credit_notes": credit_notes,
        "runs": runs,
        "expiry_runs": expiry_runs,
        "ledger": ledger,
        "invariants": invariants,
        "anomalies": anomalies,
        "future": future,
        "stalled": stalled,
        "stalled_scripts": scripts,
        "forged_status": forged.status,
    }


@scenario
def money_pages_refused(visitor, data):
    """Someone who is not operator staff: every money page is refused (403)."""
    site = data["site"]
    person = visitor(f"{data['test']}-venue")
    page = person.page
    login(person, site, data["email"], data["password"])
    statuses = {}
    for path in data["paths"]:
        statuses[path] = page.goto(f"{site}{path}").status
    person.look("refused")
    return {"statuses": statuses, "text": page.locator("main").inner_text()}


@scenario
def operator_refuses_cofunding(visitor, data):
    """The operator refuses an order's co-funding with a reason: the sponsor pays all."""
    site, order_id = data["site"], data["order_id"]
    person = visitor(f"{data['test']}-operator", viewport=TABLET)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.goto(f"{site}/operateur/commandes/{order_id}")
    page.get_by_label("Refuser : le commanditaire paie tout").check()
    page.get_by_label("Raison (le commanditaire la lit)").fill("Publics visés hors du plan")
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_url("**?fait=decision")
    person.look("cofunding-refused")
    payers = page.get_by_label("Payeur").locator("option").all_inner_texts()
    return {
        "status": page.locator("#order-status").inner_text(),
        "decision": page.locator("#cofunding-decision").inner_text(),
        "facts": page.locator("main dl.facts").first.inner_text(),
        "payers": payers,
    }
