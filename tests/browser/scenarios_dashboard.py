"""The sponsor's dashboard in the browser: charts and tables, cells under 5 hidden, a CSV, the
expiry alert and its blocking, a read-only link shared, opened logged out, revoked."""

import re

from tests.browser.browser import TABLET
from tests.browser.scenarios import login, scenario

DASHBOARD = "/espace/tableau-de-bord"


def table_text(page, name):
    return page.locator(f"#table-{name}").inner_text()


def wait_charts(page, seconds=15):
    """Until Chart.js has drawn every chart of the page (their boxes are shown)."""
    boxes = page.locator(".chart-box")
    for _ in range(seconds * 4):
        if boxes.count() and all(boxes.nth(i).is_visible() for i in range(boxes.count())):
            return boxes.count()
        page.wait_for_timeout(250)
    raise AssertionError("the charts were never drawn")


@scenario
def sponsor_dashboard(visitor, data):
    site = data["site"]
    person = visitor(f"{data['test']}-sponsor", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["email"], data["password"])
    page.get_by_role("link", name="Tableau de bord").click()
    page.wait_for_url(f"**{DASHBOARD}")
    charts = wait_charts(page)
    page.wait_for_selector("#map .leaflet-marker-icon")
    seen = {
        "charts": charts,
        "markers": page.locator("#map .leaflet-marker-icon").count(),
        "main": page.locator("main").inner_text(),
        "totals": table_text(page, "totaux"),
        "venues": table_text(page, "lieux"),
        "ages": table_text(page, "ages"),
        "issued": table_text(page, "emissions"),
        "publics": table_text(page, "publics"),
        "alerts": table_text(page, "alertes"),
        "chart_label": page.locator("canvas.chart").first.get_attribute("aria-label"),
    }
    person.look("dashboard")

    with page.expect_download() as caught:
        page.get_by_role(
            "link", name="Télécharger « Par tranche d'âge des bénéficiaires » (CSV)"
        ).click()
    download = caught.value
    download.save_as(data["csv_path"])
    seen["csv_name"] = download.suggested_filename

    # the alert: block the 2 booklets not handed out that expire within 30 days
    page.get_by_role("button", name="Bloquer les 2 carnets non remis").click()
    page.wait_for_url(re.compile(r"bloques=2"))
    seen["blocked"] = page.locator("#alertes ~ .alert, section .alert.success").first.inner_text()
    person.look("blocked")

    # a read-only link for a partner
    page.get_by_label("Pour qui (facultatif)").fill("Mairie de Bordeaux")
    page.get_by_label("Durée").select_option("7")
    page.get_by_role("button", name="Créer un lien de partage").click()
    page.wait_for_load_state()
    link = page.get_by_label("Lien de partage").input_value()
    seen["link"] = link
    person.look("share-created")

    partner = visitor(f"{data['test']}-partner", viewport=TABLET)
    answer = partner.page.goto(link)
    seen["shared_status"] = answer.status
    wait_charts(partner.page)
    seen["shared_main"] = partner.page.locator("main").inner_text()
    seen["shared_forms"] = partner.page.locator("main form").count()
    seen["shared_csv"] = partner.page.request.get(f"{link}/lieux.csv").text()
    partner.look("shared")
    # a sponsor's page is not reachable from the link
    partner.page.goto(f"{site}{DASHBOARD}")
    seen["partner_own"] = partner.page.url

    # the sponsor cannot touch another sponsor's link, nor post without the form's token
    token = page.locator("input[name=csrf_token]").first.input_value()
    other = page.request.post(
        f"{site}{DASHBOARD}/partages/{data['other_share']}/revoquer", form={"csrf_token": token}
    )
    seen["other_revoke_status"] = other.status
    forged = page.request.post(f"{site}{DASHBOARD}/partages", form={"label": "x", "days": "7"})
    seen["forged_status"] = forged.status

    page.goto(f"{site}{DASHBOARD}#partage")
    page.get_by_role("button", name="Révoquer « Mairie de Bordeaux »").click()
    page.wait_for_url(re.compile(r"revoque"))
    seen["revoked"] = page.locator("#table-liens").inner_text()
    person.look("share-revoked")

    refused = partner.page.goto(link)
    seen["refused_status"] = refused.status
    seen["refused_text"] = partner.page.locator("main").inner_text()
    partner.look("share-refused")

    few = visitor(f"{data['test']}-few", viewport=TABLET)
    login(few, site, data["few_email"], data["password"])
    few.page.goto(f"{site}{DASHBOARD}")
    seen["few_main"] = few.page.locator("main").inner_text()
    seen["few_totals"] = table_text(few.page, "totaux")
    seen["few_ages"] = table_text(few.page, "ages")
    few.look("dashboard-few")
    return seen
