"""The invoice: its HTML text (pure template); the PDF made of it is checked in
tests/documents/test_ordering_invoice_pdf.py."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.ordering.documents import (
    format_iban,
    format_percent,
    render_invoice_html,
)
from services.ordering.settings import Settings

INVOICE = {
    "reference": "INV-2026-000042",
    "issued_at": datetime(2026, 11, 22, 10, 15, tzinfo=UTC),  # as stored: a date, aware
    "due_date": "2026-12-22",
    "due_days": 30,
    "issuer": Settings().issuer(),
    "recipient": {
        "sponsor_id": "spo_0123456789abcdef0123",
        "name": "Département de la Gironde",
        "kind": "department",
        "territory": "33",
        "address": "1 esplanade Charles de Gaulle, 33000 Bordeaux",
        "siret": None,
    },
    "order_id": "ord_0123456789abcdef0123",
    "lines": [
        {"line_no": 1, "coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 150},
        {"line_no": 2, "coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": 100},
    ],
    "quote": {
        "coupon_count": 2000,
        "face_value_cents": 2_000_000,
        "fee_cents": 80_000,
        "state_share_cents": 1_000_000,
        "sponsor_due_cents": 1_080_000,
    },
    "state_rate_bp": 5000,
    "fee_bp": 400,
}


def plain(text):
    """Text with every kind of space as one plain space (French amounts use U+202F, U+00A0)."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def test_html_has_issuer_recipient_lines_fee_state_share_and_totals():
    text = plain(re.sub(r"<[^>]+>", " ", render_invoice_html(INVOICE)))
    for expected in (
        "FACTURE",
        "INV-2026-000042",
        "22/11/2026",  # date of issue
        "22/12/2026",  # due date
        "APTIC",
        "SIRET 73282932000074",
        "TVA non applicable, art. 293 B du CGI",
        "Département de la Gironde",
        "150 carnets × 10 chèques × 10,00 € = 1500 chèques",
        "100 carnets × 5 chèques × 10,00 € = 500 chèques",
        "15 000,00 €",  # line 1
        "5 000,00 €",  # line 2
        "Valeur faciale des chèques (2000 chèques) 20 000,00 €",
        "(4 % de la valeur faciale) 800,00 €",
        "Total de la commande 20 800,00 €",
        "− 10 000,00 €",
        "Net à payer par le commanditaire 10 800,00 €",
        "FR76 3000 6000 0112 3456 7890 189",
    ):
        assert expected in text, expected


def test_no_state_line_when_not_cofunded():
    invoice = {
        **INVOICE,
        "state_rate_bp": 0,
        "quote": {**INVOICE["quote"], "state_share_cents": 0, "sponsor_due_cents": 2_080_000},
    }
    text = plain(re.sub(r"<[^>]+>", " ", render_invoice_html(invoice)))
    assert "État" not in text.split("Total de la commande")[1].split("Règlement")[0]
    assert "Net à payer par le commanditaire 20 800,00 €" in text


def test_html_escapes_what_a_sponsor_typed():
    hostile = {**INVOICE, "recipient": {**INVOICE["recipient"], "name": "<script>x</script>"}}
    html = render_invoice_html(hostile)
    assert "<script>x" not in html and "&lt;script&gt;x" in html


@pytest.mark.parametrize(
    "bp, text",
    [(400, "4\u00a0%"), (5000, "50\u00a0%"), (250, "2,5\u00a0%"), (1234, "12,34\u00a0%")],
)
def test_percent_format(bp, text):
    assert format_percent(bp) == text


def test_iban_in_groups_of_four():
    assert format_iban("FR7630006000011234567890189") == "FR76 3000 6000 0112 3456 7890 189"


def test_operator_identity_comes_from_the_config(monkeypatch):
    from shared.config import load_config

    config_file = Path(__file__).resolve().parents[2] / "services/ordering/config.yml"
    monkeypatch.setenv("OPERATOR_NAME", "APTIC Occitanie")
    monkeypatch.setenv("INVOICE_DUE_DAYS", "45")
    settings = Settings.from_config(load_config(config_file))
    assert settings.operator_name == "APTIC Occitanie" and settings.invoice_due_days == 45
    assert settings.operator_siret == "73282932000074"  # the YAML int back to text
    assert Settings.from_config({}) == Settings()
    invoice = {**INVOICE, "issuer": settings.issuer()}
    assert "APTIC Occitanie" in render_invoice_html(invoice)
