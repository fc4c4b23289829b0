"""Scenarios of issue 13's venue application and the distributor's scanning (see
tests/browser/test_application.py and test_distributor.py)."""

import re

from tests.browser.browser import PHONE, TABLET
from tests.browser.scenarios import login, scenario, wait_value

FORM = "#application-form"


def fill_application(page, venue):
    """Fill the public form with ``venue`` (the labels people read)."""
    page.get_by_label("Nom du lieu").fill(venue["name"])
    page.get_by_label("Type de lieu").select_option(venue["venue_type"])
    page.get_by_label("Adresse (numéro et rue)").fill(venue["address"])
    page.get_by_label("Code postal").fill(venue["postcode"])
    page.get_by_label("Commune", exact=True).fill(venue["city"])
    page.get_by_label("Code commune INSEE").fill(venue["town_code"])
    page.get_by_label("IBAN du compte qui reçoit les remboursements").fill(venue["iban"])
    for category in venue["categories"]:
        page.get_by_label(category).check()
    page.get_by_label("Présentation du lieu (facultatif)").fill(venue["description"])
    page.get_by_label("Adresse e-mail").fill(venue["email"])
    page.get_by_label("Téléphone").fill(venue["phone"])
    page.get_by_label("Mot de passe de votre compte").fill(venue["password"])
    page.get_by_label("Le même mot de passe, encore").fill(venue["password"])


def send(page):
    page.locator(FORM).get_by_role("button", name="Envoyer la candidature").click()
    page.wait_for_load_state()


@scenario
def venue_applies(visitor, data):
    site, venue = data["site"], data["venue"]
    where = data["position"]
    person = visitor(
        f"{data['test']}-phone",
        viewport=PHONE,
        permissions=["geolocation"],
        geolocation={"latitude": where["lat"], "longitude": where["lon"]},
    )
    page = person.page
    page.goto(f"{site}/")
    page.get_by_role("link", name="Proposer mon lieu").click()
    page.wait_for_url(f"{site}/candidature")
    person.look("application-form")
    # a wrong IBAN and a postcode of 4 digits: refused in French, nothing made
    fill_application(page, {**venue, "iban": data["bad_iban"], "postcode": "3370"})
    page.get_by_role("button", name="Utiliser la position de ce lieu").click()
    wait_value(page.locator("#lat"), f"{where['lat']:.5f}", page)
    send(page)
    refusals = {
        "alert": page.locator("#form-error").inner_text(),
        "iban": page.locator("#iban-error").inner_text(),
        "postcode": page.locator("#postcode-error").inner_text(),
        "kept": page.get_by_label("Nom du lieu").input_value(),
    }
    person.look("application-refused")
    # corrected: sent, the applicant is told it is being examined
    page.get_by_label("IBAN du compte qui reçoit les remboursements").fill(venue["iban"])
    page.get_by_label("Code postal").fill(venue["postcode"])
    page.get_by_label("Mot de passe de votre compte").fill(venue["password"])
    page.get_by_label("Le même mot de passe, encore").fill(venue["password"])
    send(page)
    page.wait_for_url(f"{site}/candidature/envoyee")
    sent = page.get_by_role("status").inner_text()
    person.look("application-sent")
    # a form without its token (sent from another site) does nothing
    forged = page.request.post(
        f"{site}/candidature", form={"name": "Faux lieu", "contact_email": "faux@example.org"}
    )
    # the account exists: logged in, the desk says the application waits
    login(person, site, venue["email"], venue["password"])
    page.wait_for_url(f"{site}/guichet")
    waiting = page.locator("#venue-status").inner_text()
    person.look("application-waiting")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_load_state()
    # the same e-mail again: refused in French
    page.goto(f"{site}/candidature")
    fill_application(page, {**venue, "name": venue["name"] + " bis"})
    send(page)
    taken = page.locator("#contact_email-error").inner_text()
    person.look("application-email-taken")
    # more applications from the same address, up to the limit, then one more: throttled
    accepted = 0
    for number in range(data["more"]):
        page.goto(f"{site}/candidature")
        token = page.locator(f"{FORM} input[name=csrf_token]").input_value()
        answer = page.request.post(
            f"{site}/candidature",
            form={
                "csrf_token": token,
                "name": f"Tiers-lieu numéro {number}",
                "venue_type": "third_place",
                "address": f"{number + 1} avenue de la Marne",
                "postcode": venue["postcode"],
                "city": venue["city"],
                "town_code": venue["town_code"],
                "iban": venue["iban"],
                "offered_categories": "smartphone_use",
                "contact_email": f"tiers-lieu-{number}@example.org",
                "phone": venue["phone"],
                "password": venue["password"],
                "password_again": venue["password"],
            },
            max_redirects=0,
        )
        accepted += answer.status == 303
    page.goto(f"{site}/candidature")
    fill_application(page, {**venue, "email": "encore-un@example.org"})
    send(page)
    throttled = page.locator("#form-error").inner_text()
    person.look("application-throttled")
    return {
        "refusals": refusals,
        "sent": sent,
        "forged_status": forged.status,
        "waiting": waiting,
        "taken": taken,
        "accepted": accepted,
        "throttled": throttled,
    }


@scenario
def applied_venue_on_map(visitor, data):
    """Once accredited, the venue that applied is on the public map, and its desk is open."""
    site = data["site"]
    person = visitor(f"{data['test']}-map")
    page = person.page
    page.goto(f"{site}/carte?q={data['postcode']}")
    names = [n.strip() for n in page.locator("ol.venues li h3").all_inner_texts()]
    person.look("applied-venue-on-map")
    page.goto(f"{site}/lieux/{data['venue_id']}")
    heading = page.get_by_role("heading", level=1).inner_text()
    login(person, site, data["email"], data["password"])
    page.wait_for_url(f"{site}/guichet")
    desk = page.locator("main").inner_text()
    person.look("accredited-desk")
    return {"names": names, "heading": heading, "desk": desk}


# -- the distributor's desk: scanning a booklet ------------------------------------------------
@scenario
def distributor_scans(visitor, data):
    """A coupon of the booklet, photographed (or filmed): the booklet's serial is found among
    those assigned, and the booklet handed out."""
    site = data["site"]
    options = {"viewport": TABLET}
    if data.get("camera"):
        options["permissions"] = ["camera"]
    person = visitor(f"{data['test']}-{'camera' if data.get('camera') else 'tablet'}", **options)
    page = person.page
    login(person, site, data["email"], data["password"])
    assert page.url.endswith("/distribution"), page.url
    person.look("scan-ready")
    serial_field = page.get_by_label("Numéro du carnet")
    if data.get("camera"):
        page.get_by_role("button", name="Scanner le carnet avec la caméra").click()
    else:
        page.set_input_files("#scan-file", data["photo"])
    wait_value(serial_field, data["booklet"], page)
    scanned = page.locator("#scan-status").inner_text()
    person.look("scanned")
    page.get_by_label("Tranche d'âge").select_option("26_35")
    page.get_by_role("button", name="Remettre le carnet").click()
    page.wait_for_url(re.compile(r"/distribution\?remis="))
    handed = page.get_by_role("status").first.inner_text()
    person.look("scanned-activated")
    result = {"scanned": scanned, "handed": handed}
    if data.get("typed_coupon"):  # a coupon's serial typed: its booklet is found too
        serial_field.fill(data["typed_coupon"])
        page.get_by_role("button", name="Remettre le carnet").click()
        page.wait_for_load_state()
        result["typed_coupon"] = page.locator("main").inner_text()
        person.look("coupon-typed")
    return result
