"""A venue applies itself on the public form: refused in French for a wrong IBAN and postcode,
sent, its account logs in and sees that the application waits; the same e-mail is refused, the
address is throttled past 5 applications an hour. Accredited by the operator (RPC), the venue
is on the public map and its desk is open."""

import pytest

from shared.mongo import get_database
from tests.browser.support import OPERATOR, accredited_venue
from tests.browser.support_application import application
from tests.factories import PLACES

pytestmark = pytest.mark.browser


def test_a_venue_applies_and_once_accredited_is_on_the_map(rpc, stack_config, browse):
    accredited_venue(rpc, stack_config, "bordeaux")  # the map knows the Gironde
    venue = application("merignac")
    seen = browse(
        "venue_applies",
        venue=venue,
        bad_iban="FR7630006000011234567890188",
        position={"lat": 44.8412, "lon": -0.6458},
        more=4,
    )
    assert seen["refusals"] == {
        "alert": "La candidature n'est pas envoyée : corrigez les champs signalés.",
        "iban": "Cet IBAN n'est pas valide : vérifiez les lettres et les chiffres.",
        "postcode": "Le code postal a 5 chiffres.",
        "kept": venue["name"],
    }
    assert "votre candidature est en cours d'examen" in seen["sent"]
    assert seen["forged_status"] == 403
    assert "Votre candidature est en attente" in seen["waiting"]
    assert seen["taken"].startswith("Un compte existe déjà avec cette adresse e-mail")
    assert seen["accepted"] == 4  # 5 in all from this address
    assert seen["throttled"].startswith("Trop de candidatures envoyées depuis cette connexion")

    web, catalog_db = get_database(stack_config, "web"), get_database(stack_config, "catalog")
    user = web.users.find_one({"email": venue["email"]})
    assert user["role"] == "venue"
    assert web.users.count_documents({}) == 5  # the five sent; none for the refused forms
    applied = catalog_db.venues.find_one({"id": user["subject_id"]})
    assert applied["status"] == "applied"
    assert applied["iban"] == venue["iban"]
    assert applied["location"] == {"lat": 44.8412, "lon": -0.6458}  # the browser's position
    assert applied["department"] == "33"
    assert applied["application"]["offered_categories"] == [
        "online_admin_procedures",
        "smartphone_use",
    ]
    assert catalog_db.venues.count_documents({"status": "applied"}) == 5
    assert catalog_db.venues.count_documents({"name": "Faux lieu"}) == 0
    # one sent without a position: placed by its postcode (the centre of the known venues)
    other = catalog_db.venues.find_one({"name": "Tiers-lieu numéro 0"})
    assert other["location"] == {"lat": PLACES["bordeaux"]["lat"], "lon": PLACES["bordeaux"]["lon"]}

    rpc("catalog").decide_accreditation(
        user["subject_id"], {"decision": "accredit", "reason": "visite faite"}, OPERATOR
    )
    seen = browse(
        "applied_venue_on_map",
        postcode="33000",  # Bordeaux: Mérignac is 5 km away
        venue_id=user["subject_id"],
        email=venue["email"],
        password=venue["password"],
    )
    assert venue["name"] in seen["names"]
    assert seen["heading"] == venue["name"]
    assert "en attente" not in seen["desk"] and "Encaisser" in seen["desk"]
