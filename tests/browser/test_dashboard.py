"""The sponsor's dashboard: a sponsor whose booklets were handed out with profiles and whose
coupons were redeemed at venues sees charts and tables (cells under 5 hidden), downloads a CSV,
blocks the booklets of an expiry alert, shares a read-only link, revokes it; a sponsor with
fewer than 5 beneficiaries sees only what it ordered."""

import pytest

from services.web.shares import ShareRepository
from shared.mongo import get_database
from tests.browser.support import PASSWORD
from tests.browser.support_dashboard import dashboard_world

pytestmark = pytest.mark.browser


def test_sponsor_dashboard(rpc, stack_config, browse, tmp_path):
    world = dashboard_world(rpc, stack_config)
    sponsor, few, venues = world["sponsor"], world["few"], world["venues"]
    email, few_email = "suivi@gironde.example", "suivi@pessac.example"
    rpc("web").create_user(email, "sponsor", sponsor["id"], PASSWORD)
    rpc("web").create_user(few_email, "sponsor", few["id"], PASSWORD)
    shares = ShareRepository.of(get_database(stack_config, "web"))
    other_token, other_share = shares.create(few["id"], "Partenaire de Pessac", 30, "test")
    csv_path = tmp_path / "ages.csv"
    seen = browse(
        "sponsor_dashboard",
        email=email,
        few_email=few_email,
        password=PASSWORD,
        csv_path=str(csv_path),
        other_share=other_share["share_id"],
    )
    # charts beside every table, the venues on the map: the big one only
    assert seen["charts"] == 7
    assert seen["markers"] == 1
    assert "les chiffres sont dans le tableau" in seen["chart_label"]
    # totals: 14 booklets of 5, 11 handed out, 17 coupons redeemed
    totals = seen["totals"]
    for line in (
        "Chèques émis\t70",
        "Chèques remis aux bénéficiaires\t55",
        "Chèques encaissés\t17",
        "Chèques en circulation\t53",
        "Bénéficiaires\t11",
    ):
        assert line in totals, totals
    assert "\t14\t70" in seen["issued"], seen["issued"]  # the order: 14 booklets, this month
    # Mérignac (4) and Pessac (1) are under 5: merged, never named
    assert "Médiathèque Mériadeck\t6\t12" in seen["venues"], seen["venues"]
    assert "Autres (lignes de moins de 5 bénéficiaires, regroupées)\t5\t5" in seen["venues"]
    assert venues["mid"]["name"] not in seen["main"]
    assert venues["small"]["name"] not in seen["main"]
    # age bands: 26-35 (6) shown; 56-65 (3) and over 75 (2) merged
    assert "26 à 35 ans\t6\t30\t12\t0\t18" in seen["ages"], seen["ages"]
    assert (
        "Autres (lignes de moins de 5 bénéficiaires, regroupées)\t5\t25\t5\t0\t20" in seen["ages"]
    )
    assert "56 à 65 ans" not in seen["ages"] and "Plus de 75 ans" not in seen["ages"]
    assert "Demandeur ou demandeuse d'emploi\t5" in seen["publics"]
    # the CSV: UTF-8 with a BOM, ';' between fields, the same rows
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == (
        ";Bénéficiaires;Chèques remis;Chèques encaissés;Chèques expirés;Chèques en circulation"
    )
    assert lines[1:] == [
        "26 à 35 ans;6;30;12;0;18",
        "Autres (lignes de moins de 5 bénéficiaires, regroupées);5;25;5;0;20",
    ]
    assert seen["csv_name"] == "tableau-de-bord-ages.csv"
    # the alert: 2 booklets expire, blocked in one click (issuance cancelled them)
    assert "2" in seen["alerts"]
    assert "2 carnets bloqués" in seen["blocked"]
    booklets = get_database(stack_config, "issuance").booklets
    blocked = {b["serial"]: b for b in booklets.find({"serial": {"$in": world["serials"][12:]}})}
    assert {b["status"] for b in blocked.values()} == {"cancelled"}
    # the shared link: the same numbers, without login, without any form
    assert seen["shared_status"] == 200
    assert (
        "Tableau de bord partagé" in seen["shared_main"] and "Lecture seule" in seen["shared_main"]
    )
    assert "Médiathèque Mériadeck" in seen["shared_main"]
    assert "Département de la Gironde" in seen["shared_main"]  # whose dashboard it is
    assert seen["shared_forms"] == 0
    assert "Bloquer" not in seen["shared_main"] and "Créer un lien" not in seen["shared_main"]
    assert seen["shared_csv"].startswith("\ufeff;Bénéficiaires;Chèques encaissés")
    assert "/connexion" in seen["partner_own"]
    assert seen["other_revoke_status"] == 404 and seen["forged_status"] == 403
    assert shares.live(other_token) is not None  # the other sponsor's link still works
    assert "Révoqué" in seen["revoked"]
    assert seen["refused_status"] == 404
    assert "a expiré ou a été révoqué" in seen["refused_text"]
    # fewer than 5 beneficiaries in all: only what was ordered
    assert "Chèques émis\t15" in seen["few_totals"]
    assert "Chèques encaissés\tmoins de 5" in seen["few_totals"]
    assert "Bénéficiaires\tmoins de 5" in seen["few_totals"]
    assert "moins de 5 bénéficiaires : seuls les chèques et carnets émis" in seen["few_main"]
    assert "moins de 5\tmoins de 5" in seen["few_ages"]
