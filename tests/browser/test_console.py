"""The operator's console in a real browser: venues awaiting accreditation accredited (then on
the public map) or refused, an accredited one suspended then reinstated, each decision with its reason in the
venue's history; a venue's new service approved (redeemable only then) and another refused; an
API key made, shown once, working at the gateway, then revoked (401); others get 403."""

import re

import pytest

from tests.browser.support import PASSWORD
from tests.browser.support_console import (
    OPERATOR_EMAIL,
    VENUE_EMAIL,
    console_world,
    refusal_code,
    wait_redeemable,
)

pytestmark = pytest.mark.browser


def _venues_part(text):
    """The venues' part of the console's page (the services awaiting approval follow)."""
    return re.split(r"\d+ services? à vérifier", text)[0]


def test_operator_decides_venues_services_and_keys(rpc, stack_config, browse):
    world = console_world(rpc, stack_config)
    venues, services = world["venues"], world["services"]
    desk, approve = venues["desk"]["id"], services["approve"]["id"]
    # a service the venue added is not redeemable until the operator approves it
    assert refusal_code(rpc, desk, approve, world["coupon"]) == "service_not_offered"

    seen = browse(
        "operator_console",
        venues=venues,
        services=services,
        operator_email=OPERATOR_EMAIL,
        venue_email=VENUE_EMAIL,
        password=PASSWORD,
        gateway=f"http://{stack_config['WEB_SERVER_ADDRESS']}",
    )
    names = {role: venue["name"] for role, venue in venues.items()}
    applied = _venues_part(seen["applied"])
    assert names["accredit"] in applied and names["refuse"] in applied
    assert names["suspend"] not in applied  # accredited: another tab
    assert seen["accredited_notice"] == (
        f"{names['accredit']} est accrédité : il apparaît sur la carte publique."
    )
    assert "statut=accredited" in seen["accredited_tab"]
    assert names["accredit"] in seen["map"]  # the public map lists it at once
    assert seen["refused_notice"] == (
        f"{names['refuse']} est refusé : il n'encaissera pas de chèques."
    )
    assert seen["refused_still_listed"] == 0  # no longer awaiting a decision
    assert seen["suspended_notice"].startswith(f"{names['suspend']} est suspendu")
    assert "accrédité → suspendu — Contrôle : ateliers non tenus" in seen["history"]
    assert f"web: {OPERATOR_EMAIL}" in seen["history"]
    assert seen["reinstate_offered"] == 1
    assert "Prendre en main son smartphone" in seen["approved_notice"]
    assert seen["service_refusal_without_reason"] == "Donnez une raison de 3 à 500 caractères."
    assert "Santé en ligne pas à pas" in seen["service_refused_notice"]
    assert "Aucun service en attente." in seen["services_after"]
    assert seen["forged_status"] == 403
    late = seen["late_decision"]
    assert late["status"] == 400
    assert "Ce lieu est retiré définitivement : aucune décision ne peut le changer." in late["text"]

    catalog = rpc("catalog")
    stored = {role: catalog.get_venue(v["id"], public=False) for role, v in venues.items()}
    assert stored["accredit"]["status"] == "accredited"
    assert stored["accredit"]["history"][-1]["reason"] == "Visite faite, label France services"
    assert stored["accredit"]["history"][-1]["by"]["label"] == f"web: {OPERATOR_EMAIL}"
    assert stored["refuse"]["status"] == "revoked"
    assert stored["refuse"]["history"][-1]["reason"] == "Hors du territoire du dispositif"
    assert seen["reinstated_notice"].startswith(f"{names['suspend']} est accrédité")
    assert [(h["to"], h["reason"]) for h in stored["suspend"]["history"][-2:]] == [
        ("suspended", "Contrôle : ateliers non tenus"),
        ("accredited", "Contrôle refait : ateliers repris"),
    ]
    assert stored["desk"]["status"] == "accredited"  # the forged form did nothing
    by_id = {s["id"]: s for v in stored.values() for s in v["services"]}
    assert by_id[approve]["status"] == "approved"
    assert by_id[approve]["history"][-1]["reason"] == "Programme vérifié"
    refused = by_id[services["refuse"]["id"]]
    assert refused["status"] == "refused"
    assert refused["history"][-1]["reason"] == "Ce n'est pas un atelier de médiation numérique"
    # approved: redemption now accepts a coupon for it
    wait_redeemable(rpc, desk, approve, world["coupon"])

    # the key: shown once, worked at the gateway, revoked, then refused
    assert seen["unknown_subject"] == "Aucun lieu ne porte cet identifiant."
    assert "elle ne sera plus jamais affichée" in seen["created_notice"]
    assert seen["status_with_key"] == 200
    assert seen["key_shown_again"] is False
    assert (
        seen["revoked_notice"] == f"La clé {seen['key_id']} est révoquée : elle n'ouvre plus rien."
    )
    assert "Révoquée le" in seen["keys_after"]
    assert seen["status_after_revocation"] == 401
    (key,) = [k for k in rpc("gateway").list_api_keys() if k["key_id"] == seen["key_id"]]
    assert (key["role"], key["label"]) == ("operator", "Export comptable")
    assert key["revoked_at"] is not None

    # venue staff: 403 on the console's pages and forms
    assert seen["staff_status"] == {"/operateur/lieux": 403, "/operateur/cles": 403}
    assert seen["staff_post_status"] == 403
