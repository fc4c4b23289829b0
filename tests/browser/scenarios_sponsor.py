"""What sponsor staff do in the browser: order with the quote shown as they type (and without
JavaScript), follow their orders and download their documents, act on their booklets."""

import re

from tests.browser.browser import TABLET
from tests.browser.scenarios import login, scenario


def quote_text(page):
    return page.locator("#quote").inner_text()


def wait_quote(page, text, seconds=15):
    """Until the live quote shows ``text`` (no eval: the pages' content policy forbids it)."""
    for _ in range(seconds * 4):
        if text in quote_text(page):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"{text!r} never came: {quote_text(page)!r}")


@scenario
def sponsor_orders_cofunded(visitor, data):
    site = data["site"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET)
    page = person.page
    login(person, site, data["email"], data["password"])
    assert page.url.endswith("/espace"), page.url
    empty = page.locator("main").inner_text()
    person.look("orders-empty")
    page.get_by_role("link", name="Commander des carnets").click()
    page.wait_for_url("**/espace/commande")
    assert page.locator("#order-form").get_attribute("data-live-quote") == "on"
    waiting = quote_text(page)
    # 100 booklets of 10 coupons of 10 EUR: the quote comes as they type
    page.get_by_label("Nombre de carnets").first.fill("100")
    wait_quote(page, "10\u202f000,00\u00a0€")
    typed = quote_text(page)
    person.look("quote-live")
    page.get_by_label("Nombre de carnets").first.fill("1o0")
    error = page.locator("#quantity_1-error")
    error.wait_for(state="visible")
    typo = error.inner_text()
    invalid = page.get_by_label("Nombre de carnets").first.get_attribute("aria-invalid")
    page.get_by_label("Nombre de carnets").first.fill("100")
    wait_quote(page, "10\u202f000,00\u00a0€")
    assert error.is_hidden()
    page.get_by_label("Demander le cofinancement de l'État").check()
    wait_quote(page, "Part payée par l'État")
    cofunded = quote_text(page)
    person.look("quote-cofunded")
    # sent without the application: the reasons next to the fields, nothing ordered
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_load_state()
    missing = page.locator(".field-error:visible").all_inner_texts()
    alert = page.get_by_role("alert").first.inner_text()
    kept = page.get_by_label("Nombre de carnets").first.input_value()
    person.look("application-missing")
    page.get_by_label("Part des publics prioritaires").fill("50")
    page.get_by_label("Part des personnes en grande précarité").fill("50")
    page.get_by_label("Territoire couvert").fill("Gironde, quartiers prioritaires")
    page.get_by_label("Partenaires").fill("CCAS de Pessac\nMairie de Talence")
    page.get_by_label("Budget total du projet").fill("30000")
    # where the coupons may be used: a territory typed wrong is refused next to its field
    page.get_by_label("Territoires où les chèques sont acceptés").fill("Gironde")
    page.get_by_label("Utiliser son smartphone ou sa tablette").check()
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_load_state()
    territory_error = page.locator("#territories-error").inner_text()
    page.get_by_label("Territoires où les chèques sont acceptés").fill("33, 40")
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_url(re.compile(r"/espace\?fait=ordered"))
    done = page.get_by_role("status").inner_text()
    listed = page.locator("#orders").inner_text()
    person.look("ordered")

    # without JavaScript: "Calculer" sends the form, the page comes back with its quote
    plain = visitor(f"{data['test']}-no-js", java_script_enabled=False)
    login(plain, site, data["email"], data["password"])
    plain.page.goto(f"{site}/espace/commande")
    plain.page.get_by_label("Nombre de carnets").first.fill("20")
    plain.page.get_by_label("Chèques par carnet").first.select_option("5")
    plain.page.get_by_role("button", name="Calculer").click()
    plain.page.wait_for_load_state()
    without_js = quote_text(plain.page)
    plain.look("quote-no-javascript", axe=False)  # axe-core is JavaScript
    plain.page.get_by_label("Valeur d'un chèque, en euros").first.fill("dix")
    plain.page.get_by_role("button", name="Calculer").click()
    plain.page.wait_for_load_state()
    no_js_error = plain.page.locator("#face_value_1-error").inner_text()
    return {
        "empty": empty,
        "waiting": waiting,
        "typed": typed,
        "typo": typo,
        "invalid": invalid,
        "cofunded": cofunded,
        "missing": missing,
        "alert": alert,
        "kept": kept,
        "territory_error": territory_error,
        "done": done,
        "listed": listed,
        "without_js": without_js,
        "no_js_error": no_js_error,
    }


@scenario
def sponsor_acts_on_booklets(visitor, data):
    site = data["site"]
    first, second, third, handed = data["serials"]
    person = visitor(f"{data['test']}-tablet", viewport=TABLET, accept_downloads=True)
    page = person.page
    login(person, site, data["email"], data["password"])
    orders = page.locator("#orders").inner_text()
    notes = page.locator("#credit-notes").inner_text()
    person.look("orders")
    with page.expect_download() as caught:
        page.get_by_role("link", name=f"Facture {data['invoice']} (PDF)").click()
    caught.value.save_as(data["invoice_to"])
    with page.expect_download() as caught:
        page.locator("#credit-notes").get_by_role("link").first.click()
    caught.value.save_as(data["credit_note_to"])

    # the order's own page: what happened to it, when, and by whom
    page.get_by_role("link", name=re.compile(f"· {data['invoice']}$")).click()
    page.wait_for_url("**/espace/commandes/*")
    order_page = page.locator("main").inner_text()
    history = page.locator("#history tbody").inner_text()
    person.look("order")

    page.get_by_role("link", name="Carnets", exact=True).click()
    page.wait_for_url("**/espace/carnets")
    listed = page.locator("#booklets tbody").inner_text()
    person.look("booklets")
    # assign the first two to a distributor
    page.get_by_label(f"Choisir le carnet {first}").check()
    page.get_by_label(f"Choisir le carnet {second}").check()
    page.get_by_label("Structure distributrice", exact=True).select_option(
        label=data["distributor"]
    )
    page.get_by_role("button", name="Confier les carnets").click()
    page.wait_for_load_state()
    assigned = page.locator("#outcomes").inner_text()
    after_assign = page.locator("#booklets tbody").inner_text()
    person.look("assigned")
    # the second is lost
    page.get_by_label(f"Choisir le carnet {second}").check()
    page.get_by_role("button", name="Déclarer perdu").click()
    page.wait_for_load_state()
    lost = page.locator("#outcomes").inner_text()
    # the third blocked; the one handed out to a beneficiary cannot be
    page.get_by_label(f"Choisir le carnet {third}").check()
    page.get_by_label(f"Choisir le carnet {handed}").check()
    page.get_by_role("button", name="Bloquer (pas encore remis)").click()
    page.wait_for_load_state()
    blocked = page.locator("#outcomes").inner_text()
    person.look("blocked")
    after = page.locator("#booklets tbody").inner_text()
    page.get_by_label("Carnets à afficher").select_option("cancelled")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**/espace/carnets?etat=cancelled")
    only_cancelled = page.locator("#booklets tbody tr").count()
    page.get_by_role("link", name="Cocher tous les carnets affichés").click()
    page.wait_for_url("**/espace/carnets?etat=cancelled&tout=1")
    ticked = page.locator("#booklets input.pick:checked").count()

    # a new distribution point: its town code typed wrong, then right
    page.get_by_label("Nom de la structure").fill("Mairie de Mérignac")
    page.get_by_label("Code INSEE de sa commune").fill("Mérignac")
    page.get_by_role("button", name="Ajouter la structure").click()
    page.wait_for_load_state()
    town_error = page.locator("#distributor-town-error").inner_text()
    page.get_by_label("Code INSEE de sa commune").fill("33281")
    page.get_by_role("button", name="Ajouter la structure").click()
    page.wait_for_url("**/espace/carnets?structure=ajoutee")
    added = page.get_by_role("status").inner_text()
    offered = page.locator("#distributor_id option").all_inner_texts()
    person.look("distributor-added")

    # another sponsor's order and booklet: refused
    token = page.locator("input[name=csrf_token]").first.input_value()
    forged = {
        "invoice": page.request.get(
            f"{site}/espace/commandes/{data['other_order']}/facture.pdf"
        ).status,
        "order": page.request.get(f"{site}/espace/commandes/{data['other_order']}").status,
        "unknown": page.request.get(f"{site}/espace/commandes/ord_nothere/facture.pdf").status,
        "credit_note": page.request.get(f"{site}/espace/avoirs/{data['other_note']}.pdf").status,
        "block": page.request.post(
            f"{site}/espace/carnets",
            form={"csrf_token": token, "action": "block", "serial": data["other_serial"]},
        ).status,
        "cancel": page.request.post(
            f"{site}/espace/commandes/{data['other_order']}/annuler", form={"csrf_token": token}
        ).status,
        "no_token": page.request.post(
            f"{site}/espace/carnets", form={"action": "block", "serial": first}
        ).status,
    }
    return {
        "orders": orders,
        "notes": notes,
        "order_page": order_page,
        "history": history,
        "listed": listed,
        "assigned": assigned,
        "after_assign": after_assign,
        "lost": lost,
        "blocked": blocked,
        "after": after,
        "only_cancelled": only_cancelled,
        "ticked": ticked,
        "town_error": town_error,
        "added": added,
        "offered": offered,
        "forged": forged,
    }


@scenario
def distributor_space_redirects(visitor, data):
    person = visitor(f"{data['test']}-phone")
    login(person, data["site"], data["email"], data["password"])
    person.page.goto(f"{data['site']}/espace")
    return {"url": person.page.url}


@scenario
def sponsor_not_eligible_for_cofunding(visitor, data):
    """A company asks for the State's co-funding: the rule in French, the quote without it, and
    the order refused next to the box (nothing ordered)."""
    site = data["site"]
    person = visitor(f"{data['test']}-phone")
    page = person.page
    login(person, site, data["email"], data["password"])
    page.goto(f"{site}/espace/commande")
    page.get_by_label("Nombre de carnets").first.fill("10")
    page.get_by_label("Demander le cofinancement de l'État").check()
    page.locator("#quote-refusal").wait_for()
    live = quote_text(page)
    person.look("cofunding-not-eligible")
    page.get_by_label("Part des publics prioritaires").fill("50")
    page.get_by_label("Part des personnes en grande précarité").fill("50")
    page.get_by_label("Territoire couvert").fill("Bassin d'Arcachon")
    page.get_by_label("Budget total du projet").fill("5000")
    page.get_by_role("button", name="Envoyer la commande").click()
    page.wait_for_load_state()
    refused = page.locator("#cofunding-error").inner_text()
    person.look("cofunding-refused")
    return {"live": live, "refused": refused}
