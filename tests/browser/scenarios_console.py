"""The operator's console in the browser: venues accredited, refused, suspended (with reasons,
their history), services approved or refused, API keys made and revoked; others are refused."""

import json
import re
import urllib.error
import urllib.request

from tests.browser.browser import TABLET
from tests.browser.scenarios import listed, login, scenario


def _decide(page, name, reason, button):
    """Fill the reason of ``name``'s decision form and press ``button``."""
    form = page.get_by_role("form", name=name)
    form.get_by_label(re.compile("^Raison")).fill(reason)
    form.get_by_role("button", name=button).click()
    page.wait_for_load_state()


def _notice(page):
    return page.get_by_role("status").inner_text()


def _gateway_status(gateway, key):
    """The gateway's answer to an operator's request with ``key``: its HTTP status."""
    request = urllib.request.Request(
        f"{gateway}/api/v1/services", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            json.load(answer)
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@scenario
def operator_console(visitor, data):
    site, venues, services = data["site"], data["venues"], data["services"]
    seen = {}
    operator = visitor(f"{data['test']}-operator", viewport=TABLET)
    page = operator.page
    login(operator, site, data["operator_email"], data["password"])
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Lieux").click()
    page.wait_for_url("**/operateur/lieux")
    seen["applied"] = page.locator("main").inner_text()
    operator.look("venues-applied")

    # accredit one: it is then on the public map
    accredit = venues["accredit"]
    _decide(
        page,
        f"Décision sur {accredit['name']}",
        "Visite faite, label France services",
        "Accréditer",
    )
    seen["accredited_notice"] = _notice(page)
    seen["accredited_tab"] = page.url
    operator.look("venue-accredited")
    page.goto(f"{site}/carte?q={accredit['city']}")
    seen["map"] = listed(page)
    operator.look("map-after-accreditation")

    # refuse another application, with a reason
    page.goto(f"{site}/operateur/lieux")
    refuse = venues["refuse"]
    _decide(
        page,
        f"Décision sur {refuse['name']}",
        "Hors du territoire du dispositif",
        "Refuser la candidature",
    )
    seen["refused_notice"] = _notice(page)
    seen["refused_still_listed"] = page.locator(f"#lieu-{refuse['id']}").count()
    operator.look("venue-refused")

    # suspend an accredited venue, then read its history
    page.get_by_role("link", name=re.compile("^Accrédités")).click()
    page.wait_for_load_state()
    suspend = venues["suspend"]
    _decide(page, f"Décision sur {suspend['name']}", "Contrôle : ateliers non tenus", "Suspendre")
    seen["suspended_notice"] = _notice(page)
    page.get_by_role("link", name=re.compile("^Suspendus")).click()
    page.wait_for_load_state()
    card = page.locator(f"#lieu-{suspend['id']}")
    card.get_by_text("Historique des décisions").click()
    seen["history"] = card.locator(f"#historique-{suspend['id']}").inner_text()
    seen["reinstate_offered"] = card.get_by_role("button", name="Rétablir l'accréditation").count()
    operator.look("venue-history")
    # the audit done, it is reinstated
    _decide(
        page,
        f"Décision sur {suspend['name']}",
        "Contrôle refait : ateliers repris",
        "Rétablir l'accréditation",
    )
    seen["reinstated_notice"] = _notice(page)

    # the services venues added: one approved, one refused (a reason is needed to refuse)
    approve = services["approve"]
    _decide(
        page,
        f"Décision sur le service {approve['title']}",
        "Programme vérifié",
        "Valider le service",
    )
    seen["approved_notice"] = _notice(page)
    operator.look("service-approved")
    refuse_service = services["refuse"]
    form = page.get_by_role("form", name=f"Décision sur le service {refuse_service['title']}")
    form.get_by_role("button", name="Refuser le service").click()
    page.wait_for_load_state()
    seen["service_refusal_without_reason"] = page.get_by_role("alert").inner_text()
    operator.look("service-refusal-needs-reason")
    _decide(
        page,
        f"Décision sur le service {refuse_service['title']}",
        "Ce n'est pas un atelier de médiation numérique",
        "Refuser le service",
    )
    seen["service_refused_notice"] = _notice(page)
    seen["services_after"] = page.locator("main").inner_text()

    # a form sent without its token (from another site) does nothing
    forged = page.request.post(
        f"{site}/operateur/lieux/{venues['desk']['id']}/decision",
        form={"decision": "suspend", "reason": "formulaire forgé"},
    )
    seen["forged_status"] = forged.status
    # a decision that no longer fits: the refused venue is revoked for good
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    late = page.request.post(
        f"{site}/operateur/lieux/{refuse['id']}/decision",
        form={"csrf_token": token, "decision": "accredit", "reason": "nouvelle visite"},
    )
    seen["late_decision"] = {"status": late.status, "text": late.text()}

    # API keys: made (shown once), it works at the gateway, revoked (then refused)
    page.goto(f"{site}/operateur")
    page.locator("main").get_by_role("link", name="Clés d'API").click()
    page.wait_for_url("**/operateur/cles")
    page.get_by_label("Rôle de la clé").select_option("venue")
    page.get_by_label(re.compile("^Identifiant du lieu")).fill("ven_00000000000000000000")
    page.get_by_role("button", name="Créer la clé").click()
    page.wait_for_load_state()
    seen["unknown_subject"] = page.get_by_role("alert").inner_text()
    page.get_by_label("Rôle de la clé").select_option("operator")
    page.get_by_label(re.compile("^Identifiant du lieu")).fill("")
    page.get_by_label(re.compile("^Libellé")).fill("Export comptable")
    page.get_by_role("button", name="Créer la clé").click()
    page.wait_for_load_state()
    key = page.get_by_label("La clé", exact=True).input_value()
    seen["created_notice"] = _notice(page)
    operator.look("key-created")
    seen["status_with_key"] = _gateway_status(data["gateway"], key)
    page.goto(f"{site}/operateur/cles")
    seen["key_shown_again"] = key in page.content()
    key_id = re.search(r"Clé créée : (\S+)\.", seen["created_notice"]).group(1)
    page.get_by_role("button", name=f"Révoquer la clé {key_id}").click()
    page.wait_for_load_state()
    seen["revoked_notice"] = _notice(page)
    seen["keys_after"] = page.locator("#keys").inner_text()
    operator.look("key-revoked")
    seen["status_after_revocation"] = _gateway_status(data["gateway"], key)
    seen["key_id"] = key_id

    # venue staff are refused the console
    staff = visitor(f"{data['test']}-venue")
    login(staff, site, data["venue_email"], data["password"])
    seen["staff_status"] = {
        path: staff.page.goto(f"{site}{path}").status
        for path in ("/operateur/lieux", "/operateur/cles")
    }
    staff.look("console-refused")
    staff.page.goto(f"{site}/guichet")  # a page of their own: their form token
    token = staff.page.locator("input[name=csrf_token]").first.get_attribute("value")
    posted = staff.page.request.post(
        f"{site}/operateur/cles", form={"csrf_token": token, "role": "operator", "label": "x"}
    )
    seen["staff_post_status"] = posted.status
    return seen
