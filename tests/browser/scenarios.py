"""What people do in the browser, one function per scenario: ``python -m tests.browser.scenarios
NAME`` reads the test's data (JSON) on stdin, asserts as it goes, prints its findings (JSON)."""

import json
import re
import sys

from tests.browser.browser import TABLET, chromium

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def listed(page):
    return [name.strip() for name in page.locator("ol.venues li h3").all_inner_texts()]


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
    plain.look("no-javascript", axe=False)  # axe-core is JavaScript
    return {"without_js": without_js}


def main():
    name = sys.argv[1]
    data = json.loads(sys.stdin.read())
    with chromium() as visitor:
        result = SCENARIOS[name](visitor, data)
    print(json.dumps(result or {}))


if __name__ == "__main__":
    main()
