"""Operator staff do the money work in the browser: decide an order's co-funding, record the
sponsor's and the State's payments by their bank reference (the order is confirmed, its booklets
issued), start the month's settlement run and follow it to its end, download its summary and its
SEPA file, run expiry, read the ledger's balance. Nobody else opens these pages."""

import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.browser.support import PASSWORD, account, wait_for
from tests.browser.support_finance import (
    cofunded_order_pending,
    expired_booklets,
    redeemed_last_month,
)

pytestmark = pytest.mark.browser

EMAIL = "tresorerie@aptic.example"
PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.03}"


def test_operator_decides_cofunding_and_records_payments(rpc, stack_config, browse):
    order = cofunded_order_pending(rpc, booklets=20)
    assert (order["quote"]["sponsor_due_cents"], order["quote"]["state_share_cents"]) == (
        108_000,
        100_000,
    )
    account(rpc, EMAIL, "operator")
    seen = browse(
        "operator_orders_and_payments",
        email=EMAIL,
        password=PASSWORD,
        order_id=order["id"],
        sponsor_amount="1 080,00",
        state_amount="1\u00a0000",
    )
    assert "Département de la Gironde" in seen["pending"] and "1 000,00" in seen["pending"].replace(
        "\u202f", " "
    )
    assert "Reste disponible" in seen["campaign"]
    assert seen["envelope_refused"] == (
        "L'enveloppe ne peut pas descendre sous ce qui est déjà engagé pour des commandes."
    )
    saved = seen["campaign_saved"].replace("\u202f", " ").replace("\u00a0", " ")
    assert "2 000 000,00 €" in saved and "1 999 000,00 €" in saved, saved  # 1,000.00 committed
    assert seen["approved"] == "Cofinancement accordé, en attente de paiement"
    assert seen["refused"] == "Montant invalide : écrivez-le en euros, par exemple 1 040,00."
    assert seen["after_sponsor"] == "Cofinancement accordé, en attente de paiement"
    assert seen["confirmed"] == "Payée : carnets en cours d'émission"
    assert [p.replace("\u202f", " ").replace("\u00a0", " ") for p in seen["payments"]] == [
        "Le commanditaire : 1 080,00 €, référence VIR-2026-0042",
        "L'État (cofinancement) : 1 000,00 €, référence ANCT-2026-0007",
    ]
    assert seen["issued"] == "Carnets émis" and seen["booklet_count"] == "20"
    assert len(seen["paid"]) == 1 and order["id"] in seen["paid"][0], seen["paid"]
    assert "Carnets émis" in seen["paid"][0] and "2\u202f080,00" in seen["paid"][0]
    assert seen["forged_status"] == 403  # no form token: nothing recorded

    recorded = rpc("ordering").get_order(
        order["id"], {"role": "operator", "key_id": None, "subject_id": None, "label": "t"}
    )
    assert recorded["status"] in ("issued", "dispatched")
    assert [(p["payer"], p["amount_cents"]) for p in recorded["payments"]] == [
        ("sponsor", 108_000),
        ("state", 100_000),
    ]
    assert recorded["cofunding"]["reason"] == "Dossier complet, publics visés"


def test_operator_runs_settlement_and_expiry(rpc, stack_config, browse, tmp_path):
    venue = redeemed_last_month(rpc, stack_config, coupons=3)
    expired_booklets(rpc, stack_config, coupons=10)
    account(rpc, EMAIL, "operator")
    summary, sepa = tmp_path / "summary.pdf", tmp_path / "sepa.xml"
    credit_note = tmp_path / "credit-note.pdf"
    seen = browse(
        "operator_runs",
        email=EMAIL,
        password=PASSWORD,
        summary_as=str(summary),
        sepa_as=str(sepa),
        credit_note_as=str(credit_note),
    )
    run = rpc("settlement").get_settlement_run(f"SR-{seen['cutoff']}")
    assert run["status"] == "completed" and run["progress"]["phase"]
    assert run["created_by"]["role"] == "operator"
    assert "Paiement SR-" in seen["started"]
    assert seen["net"].replace("\u00a0", " ") == "28,80 €"  # 30.00 less 4 %
    assert len(seen["payouts"]) == 1 and venue["name"] in seen["payouts"][0]

    assert summary.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(summary), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert run["summary_reference"] in text and "28,80" in text
    assert seen["sepa_name"].endswith(".xml")
    tree = ET.parse(sepa)
    transfers = tree.getroot().iter(f"{PAIN}CdtTrfTxInf")
    paid = {
        t.find(f"{PAIN}CdtrAcct/{PAIN}Id/{PAIN}IBAN").text: t.find(f"{PAIN}Amt/{PAIN}InstdAmt").text
        for t in transfers
    }
    assert paid[venue["iban"]] == "28.80", paid

    assert f"EXP-{seen['as_of']}" in seen["expired"] and "Chèques expirés" in seen["expired"]
    expiry = rpc("settlement").get_expiry_run(f"EXP-{seen['as_of']}")
    assert expiry["coupon_count"] == 10 and expiry["refunded_cents"] == 10_000
    note = expiry["credit_notes"][0]
    assert [n.replace("\u202f", " ").replace("\u00a0", " ") for n in seen["credit_notes"]] == [
        f"Avoir {note['reference']} pour {note['name']} : 100,00 € (PDF)"
    ]
    assert credit_note.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(credit_note), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert note["reference"] in text
    assert len(seen["runs"]) == 1 and "Terminé" in seen["runs"][0]
    assert len(seen["expiry_runs"]) == 1 and "Terminé" in seen["expiry_runs"][0]
    assert seen["ledger"] == "Les comptes sont équilibrés : les quatre règles sont respectées."
    assert len(seen["invariants"]) == 4 and all(i.startswith("✓") for i in seen["invariants"])
    assert seen["anomalies"] == "Aucune anomalie."
    assert seen["future"] == "Ce jour n'est pas encore passé : choisissez aujourd'hui ou avant."
    assert seen["forged_status"] == 403
    assert "Le traitement n'a pas démarré" in seen["stalled"] and seen["stalled_scripts"] == 0
    wait_for(lambda: rpc("settlement").ledger_balance()["balanced"])


def test_money_pages_are_for_operator_staff_only(rpc, stack_config, browse):
    venue = redeemed_last_month(rpc, stack_config, coupons=1)
    email = "accueil@epn-bordeaux.example"
    account(rpc, email, "venue", venue["id"])
    paths = [
        "/operateur/commandes",
        "/operateur/commandes/ord_00000000000000000001",
        "/operateur/reglements",
        "/operateur/reglements/paiements/SR-2026-01-31",
        "/operateur/reglements/paiements/SR-2026-01-31/virements.xml",
    ]
    seen = browse("money_pages_refused", email=email, password=PASSWORD, paths=paths)
    assert seen["statuses"] == dict.fromkeys(paths, 403)
    assert "Accès refusé" in seen["text"]


def test_operator_refuses_cofunding(rpc, stack_config, browse):
    order = cofunded_order_pending(rpc, booklets=2)
    account(rpc, EMAIL, "operator")
    seen = browse(
        "operator_refuses_cofunding", email=EMAIL, password=PASSWORD, order_id=order["id"]
    )
    assert seen["status"] == "Cofinancement refusé, en attente de paiement"
    assert seen["decision"] == "Refusé : Publics visés hors du plan"
    facts = seen["facts"].replace("\u202f", " ").replace("\u00a0", " ")
    assert "208,00 €" in facts, facts  # 200.00 of coupons and 8.00 of fees: all the sponsor's
    assert seen["payers"] == ["Le commanditaire"]  # the State pays nothing now
    operator = {"role": "operator", "key_id": None, "subject_id": None, "label": "t"}
    refused = rpc("ordering").get_order(order["id"], operator)
    assert refused["quote"]["state_share_cents"] == 0
    assert refused["quote"]["sponsor_due_cents"] == 20_800
    campaign = rpc("ordering").get_cofunding_campaign(refused["created_at"][:4])
    assert campaign["remaining_cents"] == campaign["envelope_cents"]  # the share went back
