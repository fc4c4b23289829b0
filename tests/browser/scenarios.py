"""What people do in the browser, one function per scenario: ``python -m tests.browser.scenarios
NAME`` reads the test's data (JSON) on stdin, asserts as it goes, prints its findings (JSON)."""

import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path

from tests.browser.browser import TABLET, chromium

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def listed(page):
    return [name.strip() for name in page.locator("ol.venues li h3").all_inner_texts()]


def wait_value(field, value, page, seconds=30):
    """Until ``field`` holds ``value`` (the pages' content policy forbids the eval that
    ``wait_for_function`` needs)."""
    for _ in range(seconds * 4):
        if field.input_value() == value:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{value} never came: {page.locator('#scan-status').inner_text()}")


def login(person, site, email, password):
    page = person.page
    page.goto(f"{site}/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.locator("main").get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


# -- the public map ----------------------------------------------------------------------------
@scenario
def find_near_town(visitor, data):
    site, names = data["site"], data["names"]
    person = visitor(f"{data['test']}-phone")
    page = person.page
    page.goto(f"{site}/")
    person.look("home")
    page.get_by_role("link", name="Trouver un lieu près de chez moi").click()
    page.get_by_label("Code postal ou ville").fill("Mérignac")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_url(re.compile(r"/carte\?q="))
    found = listed(page)
    assert found[0] == names["merignac"], found  # the nearest first
    assert found[1:] == [names["pessac"], names["bordeaux"]], found  # 3.7 km, then 5.1 km
    assert names["libourne"] not in found, found  # 32 km away: beyond the 30 km searched
    assert "lieux près de Mérignac" in page.locator("#list-title").inner_text()
    # the map is drawn, a marker per venue, though no tile could load
    page.wait_for_selector(".leaflet-marker-icon")
    assert page.locator(".leaflet-marker-icon").count() == len(found)
    assert any("tile.openstreetmap.org" in url for url in person.blocked), person.blocked
    person.look("map-merignac")

    page.locator("ol.venues").get_by_role("link", name=names["merignac"]).click()
    page.wait_for_url(f"**/lieux/{data['ids']['merignac']}")
    assert page.get_by_role("heading", level=1).inner_text() == names["merignac"]
    text = page.locator("main").inner_text()
    person.look("venue")

    page.goto(f"{site}/carte?q=33500&categorie=online_health")
    empty = listed(page)
    assert "Aucun lieu ne correspond" in page.locator("main").inner_text()
    person.look("no-venue")
    return {"venue_text": text, "empty": empty}


@scenario
def near_me_and_without_javascript(visitor, data):
    site, names = data["site"], data["names"]
    pessac = {"latitude": 44.8067, "longitude": -0.6311}
    person = visitor(
        f"{data['test']}-near-me", geolocation=pessac, permissions=["geolocation"], viewport=TABLET
    )
    page = person.page
    page.goto(f"{site}/carte")
    page.get_by_role("button", name="Autour de moi").click()
    page.wait_for_url(re.compile(r"lat=44\.8067"))
    found = listed(page)
    assert found == [names["pessac"], names["merignac"], names["bordeaux"]], found
    assert "autour de vous" in page.locator("#list-title").inner_text()
    person.look("near-me")

    plain = visitor(
        f"{data['test']}-no-js", java_script_enabled=False, viewport={"width": 320, "height": 640}
    )
    plain.page.goto(f"{site}/carte?q=33000")
    without_js = listed(plain.page)
    assert plain.page.get_by_role("button", name="Autour de moi").is_hidden()
    assert plain.page.locator("#map").is_hidden()  # no empty box where the map would be
    plain.look("no-javascript", axe=False)  # axe-core is JavaScript
    return {"without_js": without_js}


# -- the venue desk ----------------------------------------------------------------------------
@scenario
def desk_redeems(visitor, data):
    site = data["site"]
    (serial1, code1), (serial2, _), (serial3, _) = data["coupons"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET)
    page = person.page
    page.goto(f"{site}/guichet")  # not logged in: to the login page, then back
    assert "/connexion" in page.url
    login(person, site, data["email"], "pas le bon mot de passe")
    assert "incorrect" in page.get_by_role("alert").inner_text()
    person.look("login-refused")
    login(person, site, data["email"], data["password"])
    assert page.url.endswith("/guichet"), page.url
    page.get_by_label("Service rendu").select_option(data["service_id"])
    page.get_by_label("Numéro du chèque 1").fill(serial1)
    page.get_by_label("Code de sécurité 1").fill(code1)
    person.look("desk")
    # the second coupon is scanned: its printed QR code, read by html5-qrcode from a photo
    page.set_input_files("#scan-file", data["photo"])
    wait_value(page.get_by_label("Numéro du chèque 2"), serial2, page)
    assert page.locator("#scan-status").inner_text().startswith("Chèque ajouté")
    # a third coupon with a wrong code: nothing is redeemed, the reason next to it
    page.get_by_role("button", name="Ajouter un chèque").click()
    page.get_by_label("Numéro du chèque 3").fill(serial3)
    page.get_by_label("Code de sécurité 3").fill(data["wrong_code"])
    page.get_by_role("button", name="Encaisser", exact=True).click()
    page.wait_for_load_state()
    outcomes = page.locator(".outcome").all_inner_texts()
    assert "Aucun chèque n'a été encaissé" in page.get_by_role("alert").inner_text()
    person.look("refused")
    # the third taken out: the two others are redeemed, in one go
    page.get_by_label("Numéro du chèque 3").fill("")
    page.get_by_label("Code de sécurité 3").fill("")
    form = page.evaluate(
        "() => Object.fromEntries(new FormData(document.getElementById('desk-form')))"
    )
    page.get_by_role("button", name="Encaisser", exact=True).click()
    page.wait_for_url("**/guichet/encaissements/*")
    confirmed = page.locator("main").inner_text()
    redemption_url = page.url.split("?")[0]
    rating_link = page.locator("#rating-link").get_attribute("href")
    person.look("redeemed")
    # a double tap, or a retry after a network error: the same form sent again
    again = page.request.post(f"{site}/guichet", form={**form, "action": "redeem"})
    assert again.ok and again.url.split("?")[0] == redemption_url, again.url
    page.goto(f"{site}/guichet/encaissements")
    rows = page.locator("tbody tr").count()
    person.look("redemptions")
    page.get_by_role("button", name="Annuler").first.click()
    page.wait_for_url("**/guichet/encaissements?annule=*")
    after_void = page.locator("main").inner_text()
    person.look("voided")
    page.goto(f"{site}/guichet/services")
    add = page.locator("form[action='/guichet/services']")  # each service has its edit form
    add.get_by_label("Nom de l'atelier").fill("Premiers pas sur smartphone")
    add.get_by_label("Type d'atelier").select_option("smartphone_use")
    add.get_by_label("Durée en minutes (15 à 480)").fill("90")
    add.get_by_label("Prix en chèques (1 à 20)").fill("1")
    add.get_by_role("button", name="Ajouter le service").click()
    page.wait_for_load_state()
    services = page.locator("main").inner_text()
    person.look("services")
    page.goto(f"{site}/guichet/releves")
    person.look("statements")
    return {
        "outcomes": outcomes,
        "confirmed": confirmed,
        "redemption_id": redemption_url.rsplit("/", 1)[1],
        "rating_link": rating_link,
        "rows": rows,
        "after_void": after_void,
        "services": services,
    }


@scenario
def desk_edits_services(visitor, data):
    site, service_id = data["site"], data["service_id"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.goto(f"{site}/guichet/services")
    page.get_by_text("Modifier ce service").first.click()
    form = page.locator(f"form[action='/guichet/services/{service_id}']")
    form.get_by_label("Nom de l'atelier").fill("Démarches en ligne, niveau 2")
    form.get_by_label("Durée en minutes (15 à 480)").fill("150")
    person.look("service-editing")
    form.get_by_role("button", name="Enregistrer les modifications").click()
    page.wait_for_load_state()
    edited = page.locator("main").inner_text()
    person.look("service-edited")
    page.get_by_label(re.compile("^Horaires affichés")).fill(data["hours"])
    page.get_by_role("button", name="Enregistrer les horaires").click()
    page.wait_for_load_state()
    hours_saved = page.locator("main").inner_text()
    person.look("hours-saved")
    page.goto(f"{site}/lieux/{data['venue_id']}")
    public = page.locator("main").inner_text()
    person.look("venue-with-hours")
    return {"edited": edited, "hours_saved": hours_saved, "public": public}


@scenario
def venue_downloads_statement(visitor, data):
    """Venue staff open their payment statements and download one (the PDF is kept)."""
    site = data["site"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.get_by_role("link", name="Relevés").first.click()
    page.wait_for_url("**/guichet/releves")
    listed = page.locator("main ul.plain li").all_inner_texts()
    person.look("statements-listed")
    with page.expect_download() as caught:
        page.locator("main ul.plain").get_by_role("link").first.click()
    download = caught.value
    download.save_as(data["save_as"])
    forged = page.request.get(f"{site}/guichet/releves/{data['other_run']}/pdf")
    return {
        "listed": listed,
        "filename": download.suggested_filename,
        "forged_status": forged.status,
    }


@scenario
def desk_camera(visitor, data):
    """The coupon filmed by the device's camera (Chromium's fake camera films a printed coupon)."""
    site = data["site"]
    person = visitor(f"{data['test']}-camera", viewport=TABLET, permissions=["camera"])
    page = person.page
    login(person, site, data["email"], data["password"])
    page.get_by_role("button", name="Scanner un chèque avec la caméra").click()
    wait_value(page.get_by_label("Numéro du chèque 1"), data["serial"], page)
    code = page.get_by_label("Code de sécurité 1").input_value()
    person.look("camera-scanned")
    page.get_by_role("button", name="Vérifier sans encaisser").click()
    page.wait_for_load_state()
    return {"code": code, "outcomes": page.locator(".outcome").all_inner_texts()}


# -- ratings -----------------------------------------------------------------------------------
@scenario
def beneficiaries_rate(visitor, data):
    site, venue_url = data["site"], f"{data['site']}/lieux/{data['venue_id']}"
    scores = data["scores"]
    seen = {}
    for number, (link, score) in enumerate(zip(data["links"], scores, strict=True), start=1):
        person = visitor(f"{data['test']}-beneficiary-{number}")
        page = person.page
        page.goto(link)
        page.get_by_label(re.compile(f"^{score} —")).check()
        if number == 1:
            page.get_by_label(re.compile("Un commentaire")).fill(
                "Très patiente, j'ai appris à envoyer un e-mail."
            )
            person.look("rate")
        page.get_by_role("button", name="Envoyer mon avis").click()
        page.wait_for_load_state()
        assert "Votre avis est enregistré" in page.locator("main").inner_text()
        if number == 1:
            person.look("thanks")
        page.goto(venue_url)
        seen[f"venue_after_{number}"] = page.locator("main").inner_text()
        person.context.close()
    again = visitor(f"{data['test']}-twice")
    again.page.goto(data["links"][0])
    seen["twice"] = again.page.locator("main").inner_text()
    again.look("twice")
    again.page.goto(f"{site}/carte?q=Bordeaux")
    seen["map"] = again.page.locator("ol.venues").inner_text()
    again.look("map-with-score")
    again.page.goto(data["links"][0][:-4] + "0000")  # a made-up signature
    seen["forged"] = again.page.locator("h1").inner_text()

    operator = visitor(f"{data['test']}-operator", viewport=TABLET)
    login(operator, site, data["operator_email"], data["password"])
    assert operator.page.url.endswith("/operateur"), operator.page.url
    operator.look("operator-home")
    operator.page.get_by_role("link", name=re.compile("commentaire à valider")).click()
    operator.look("comments")
    operator.page.get_by_role("button", name="Valider").click()
    operator.page.wait_for_load_state()
    operator.page.goto(venue_url)
    seen["venue_approved"] = operator.page.locator("main").inner_text()
    operator.look("venue-with-comment")
    return seen


# -- accounts ----------------------------------------------------------------------------------
@scenario
def operator_makes_accounts(visitor, data):
    site = data["site"]
    operator = visitor(f"{data['test']}-operator", viewport=TABLET)
    page = operator.page
    login(operator, site, data["operator_email"], data["password"])
    page.goto(f"{site}/operateur/comptes")
    page.get_by_label("Adresse e-mail").fill("accueil@mediatheque.example")
    page.get_by_label("Rôle").select_option("venue")
    page.get_by_label(re.compile("^Identifiant du lieu")).fill(data["venue_id"])
    page.get_by_label(re.compile("^Mot de passe de départ")).fill("bienvenue à la médiathèque")
    page.get_by_role("button", name="Créer le compte").click()
    page.wait_for_load_state()
    created = page.locator("main").inner_text()
    operator.look("account-created")
    page.get_by_label("Adresse e-mail").fill("autre@example.org")
    page.get_by_label("Rôle").select_option("venue")
    page.get_by_label(re.compile("^Identifiant du lieu")).fill("ven_00000000000000000000")
    page.get_by_label(re.compile("^Mot de passe de départ")).fill("un autre mot de passe")
    page.get_by_role("button", name="Créer le compte").click()
    page.wait_for_load_state()
    unknown_venue = page.get_by_role("alert").inner_text()
    # a form sent without its token (from another site) does nothing
    forged = page.request.post(f"{site}/operateur/comptes", form={"email": "x@example.org"})

    staff = visitor(f"{data['test']}-staff")
    login(staff, site, "accueil@mediatheque.example", "bienvenue à la médiathèque")
    landed = staff.page.url
    staff.page.goto(f"{site}/compte/mot-de-passe")
    staff.page.get_by_label("Mot de passe actuel").fill("bienvenue à la médiathèque")
    staff.page.get_by_label(re.compile("^Nouveau mot de passe \\(")).fill("un nouveau mot de passe")
    staff.page.get_by_label("Nouveau mot de passe, une seconde fois").fill(
        "un nouveau mot de passe"
    )
    staff.page.get_by_role("button", name="Changer le mot de passe").click()
    staff.page.wait_for_load_state()
    changed = staff.page.locator("main").inner_text()
    staff.look("password-changed")
    staff.page.get_by_role("button", name="Se déconnecter").click()
    staff.page.wait_for_load_state()
    staff.page.goto(f"{site}/guichet")
    after_logout = staff.page.url

    guesser = visitor(f"{data['test']}-guesser")
    for _ in range(5):
        login(guesser, site, "accueil@mediatheque.example", "essai au hasard")
    login(guesser, site, "accueil@mediatheque.example", "un nouveau mot de passe")
    throttled = guesser.page.get_by_role("alert").inner_text()
    guesser.look("throttled")
    return {
        "created": created,
        "unknown_venue": unknown_venue,
        "forged_status": forged.status,
        "landed": landed,
        "changed": changed,
        "after_logout": after_logout,
        "throttled": throttled,
    }


# -- the distributor's desk --------------------------------------------------------------------
@scenario
def distributor_hands_out(visitor, data):
    site, (mine, other) = data["site"], data["serials"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET)
    page = person.page
    login(person, site, data["email"], data["password"])
    assert page.url.endswith("/distribution"), page.url
    listed_before = page.locator("#booklets tbody").inner_text()
    person.look("assigned")
    page.get_by_label("Numéro du carnet").fill(mine)
    page.get_by_label("Tranche d'âge").select_option("56_65")
    page.get_by_label("Public").select_option("job_seeker")
    page.get_by_label("Code postal du bénéficiaire").fill("33600")
    page.get_by_role("button", name="Remettre le carnet").click()
    page.wait_for_url(re.compile(r"/distribution\?remis="))
    handed = page.get_by_role("status").inner_text()
    listed_after = page.locator("#booklets tbody").inner_text()
    person.look("activated")
    page.get_by_label("Numéro du carnet").fill(other)
    page.get_by_role("button", name="Remettre le carnet").click()
    page.wait_for_load_state()
    refused = page.get_by_role("alert").inner_text()
    person.look("refused")
    # a form sent without its token (from another site) does nothing
    forged = page.request.post(f"{site}/distribution", form={"serial": mine})
    return {
        "before": listed_before,
        "handed": handed,
        "after": listed_after,
        "refused": refused,
        "forged_status": forged.status,
    }


def all_scenarios():
    """These scenarios and those of the ``scenarios_*.py`` modules beside this one (each
    registers its own with :func:`scenario` imported from ``tests.browser.scenarios``)."""
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("scenarios_"):
            importlib.import_module(f"tests.browser.{info.name}")
    registry = dict(SCENARIOS)  # run as __main__: this module's own
    registry.update(importlib.import_module("tests.browser.scenarios").SCENARIOS)
    return registry


def main():
    name = sys.argv[1]
    data = json.loads(sys.stdin.read())
    scenarios = all_scenarios()
    with chromium(camera=data.get("camera")) as visitor:
        result = scenarios[name](visitor, data)
    print(json.dumps(result or {}))


if __name__ == "__main__":
    main()
