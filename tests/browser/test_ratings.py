"""Beneficiaries rate their workshop from the link given at the desk: once per redemption, no
account; a venue's average shows from the fifth rating; a comment shows once approved. The
operator makes people's accounts; the login guard, password change and logout."""

import uuid

import pytest

from services.web.ratings import link
from services.web.settings import Settings
from shared.mongo import get_database
from tests.browser.conftest import WEB_SECRET
from tests.browser.support import OPERATOR, PASSWORD, accredited_venue, coupons

pytestmark = pytest.mark.browser


def test_the_fifth_rating_makes_the_average_appear(rpc, stack_config, browse):
    venue, service = accredited_venue(rpc, stack_config, "bordeaux")
    redemption = rpc("redemption")
    settings = Settings(secret=WEB_SECRET, public_url=stack_config["PUBLIC_WEB_URL"])
    links = []
    for serial, code in coupons(stack_config):
        payload = {
            "service_id": service["id"],
            "coupons": [{"serial": serial, "code": code}],
            "idempotency_key": uuid.uuid4().hex,
        }
        done = redemption.redeem(venue["id"], payload, {**OPERATOR, "role": "venue"})
        links.append(link(settings, done["redemption"]["id"]))
    rpc("web").create_user("equipe@aptic.example", "operator", None, PASSWORD)
    seen = browse(
        "beneficiaries_rate",
        venue_id=venue["id"],
        links=links,
        scores=[5, 4, 4, 5, 3],
        operator_email="equipe@aptic.example",
        password=PASSWORD,
    )
    for number in range(1, 5):
        assert "Note des bénéficiaires" not in seen[f"venue_after_{number}"]
    assert "Note des bénéficiaires : 4,2 sur 5 (5 avis)" in seen["venue_after_5"]
    assert "Note des bénéficiaires : 4,2 sur 5 (5 avis)" in seen["map"]
    assert "j'ai appris" not in seen["venue_after_5"]  # not yet approved
    assert "Un avis a déjà été donné" in seen["twice"]
    assert seen["forged"] == "Page introuvable"
    assert "5 sur 5 : Très patiente, j'ai appris à envoyer un e-mail." in seen["venue_approved"]
    ratings = list(get_database(stack_config, "web").ratings.find({}, {"_id": 0}))
    assert len(ratings) == 5
    assert all(
        set(r)
        <= {
            "rating_id",
            "redemption_id",
            "venue_id",
            "score",
            "comment",
            "comment_status",
            "created_at",
            "decided_at",
        }
        for r in ratings
    )


def test_operator_makes_accounts_and_the_login_is_guarded(rpc, stack_config, browse):
    venue, _ = accredited_venue(rpc, stack_config, "pessac")
    rpc("web").create_user("equipe@aptic.example", "operator", None, PASSWORD)
    seen = browse(
        "operator_makes_accounts",
        venue_id=venue["id"],
        operator_email="equipe@aptic.example",
        password=PASSWORD,
    )
    assert "Compte créé pour accueil@mediatheque.example" in seen["created"]
    assert (
        "Aucun lieu, commanditaire ou structure ne porte cet identifiant" in seen["unknown_venue"]
    )
    assert seen["forged_status"] == 403
    assert seen["landed"].endswith("/guichet")
    assert "Votre mot de passe est changé" in seen["changed"]
    assert "/connexion" in seen["after_logout"]
    assert "Trop de tentatives de connexion" in seen["throttled"]
    users = get_database(stack_config, "web").users
    stored = users.find_one({"email": "accueil@mediatheque.example"})
    assert stored["role"] == "venue" and stored["subject_id"] == venue["id"]
    assert stored["password_hash"].startswith("$argon2id$")
