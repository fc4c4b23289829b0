"""Settlement's PDF documents (WeasyPrint), read back as a reader would: the text extracted by
pypdf (totals, multi-page statements, the run summary, credit notes, the fund's statement). The
snapshots are the unit tier's (tests/store/test_settlement_documents.py, which checks the HTML)."""

import io

from pypdf import PdfReader

from services.settlement.documents import (
    render_credit_note_pdf,
    render_fund_statement_html,
    render_fund_statement_pdf,
    render_run_summary_pdf,
    render_statement_pdf,
)
from tests.store.test_settlement_documents import (
    ISSUER,
    contribution,
    fund_statement,
    line,
    new_summary,
    statement,
    text_of,
)


def test_statement_30_coupons_pay_288_and_a_clawback_is_shown():
    # rule 3: 30 coupons x 10 EUR = 300.00 -> fee 12.00, net 288.00 (here 31 redeemed, 1 clawed back)
    lines = [
        line(1),
        line(2),
        line(3, coupons=11),
        line(4, coupons=1, kind="clawback", amount=-1000),
    ]
    text, _ = text_of(render_statement_pdf(statement(), iter(lines)))
    assert "RELEVÉ DE PAIEMENT" in text and "REL-2026-000007" in text
    assert "Médiathèque de Mérignac" in text and "FR14 2004 1010 0505 0001 3M02 606" in text
    assert "300,00 €" in text and "12,00 €" in text and "288,00 €" in text
    assert "-10,00 €" in text.replace("−", "-") and "annulé après règlement" in text
    assert "31/10/2026" in text


def test_statement_of_1200_lines_from_a_generator_runs_over_pages():
    pdf = render_statement_pdf(
        statement(line_count=1200, coupon_count=1200, gross_cents=1_200_000),
        (line(i, coupons=1) for i in range(1200)),
    )
    text, pages = text_of(pdf)
    assert pages > 10 and f"Page {pages} / {pages}" in text
    second = PdfReader(io.BytesIO(pdf)).pages[1].extract_text()
    assert "REL-2026-000007" in second  # every page names its statement


def test_credit_note_refunds_half_to_each_funder_and_not_the_fee():
    # rule 5: a co-funded order, 3 coupons x 10 EUR unused -> 15.00 to the State, 15.00 to the sponsor
    note = {
        "reference": "AV-2027-000001",
        "expiry_run_id": "EXP-2027-03-01",
        "as_of": "2027-03-01",
        "issued_at": "2027-03-01T09:00:00Z",
        "issuer": ISSUER,
        "funder": {
            "funder_id": "state",
            "name": "État - ANCT",
            "kind": "state",
            "iban": "FR5210071750000000100002937",
        },
        "lines": [
            {
                "order_id": "ord_00000000000000000001",
                "invoice_reference": "INV-2026-000012",
                "coupon_count": 3,
                "face_value_cents": 3000,
                "share_bp": 5000,
                "amount_cents": 1500,
            }
        ],
        "total_cents": 1500,
        "cancelled_coupon_count": 0,
        "expired_coupon_count": 3,
    }
    text, _ = text_of(render_credit_note_pdf(note))
    assert "AVOIR" in text and "AV-2027-000001" in text and "INV-2026-000012" in text
    assert "30,00 €" in text and "15,00 €" in text and "50 %" in text
    assert "ne sont pas remboursés" in text and "4 %" in text
    missing = render_credit_note_pdf({**note, "funder": {**note["funder"], "iban": None}})
    assert "Coordonnées bancaires manquantes" in text_of(missing)[0]


def test_run_summary_shows_totals_refunds_fund_and_balance():
    summary = {
        "reference": "SYN-2026-000003",
        "run_id": "SR-2026-10-31",
        "period_end": "2026-10-31",
        "issued_at": "2026-11-02T08:00:00Z",
        "issuer": ISSUER,
        "payouts": [
            {
                "venue_id": "ven_00000000000000000001",
                "name": "Médiathèque de Mérignac",
                "statement_reference": "REL-2026-000007",
                "gross_cents": 30_000,
                "fee_cents": 1_200,
                "net_cents": 28_800,
            }
        ],
        "totals": {"gross_cents": 30_000, "fee_cents": 1_200, "net_cents": 28_800},
        "refunds": [
            {
                "funder_id": "state",
                "name": "État",
                "amount_cents": 1500,
                "iban": "FR52",
                "paid": True,
            },
            {
                "funder_id": "sponsor:x",
                "name": "CCAS",
                "amount_cents": 700,
                "iban": None,
                "paid": False,
            },
        ],
        "refunds_total_cents": 1500,
        "fund_by_territory": [{"territory": "33", "balance_cents": 20_000}],
        "fee_income_cents": 61_200,
        "carried_forward": [
            {
                "venue_id": "ven_2",
                "name": "EPN Pessac",
                "gross_cents": 1000,
                "reason": "no_bank_details",
            }
        ],
        "ledger_balanced": True,
    }
    text, _ = text_of(render_run_summary_pdf(summary))
    assert "SYN-2026-000003" in text and "288,00 €" in text and "303,00 €" in text  # 288 + 15
    assert "200,00 €" in text and "612,00 €" in text and "équilibré" in text
    assert "EPN Pessac" in text and "coordonnées bancaires du lieu inconnues" in text
    assert "coordonnées bancaires manquantes" in text
    unbalanced, _ = text_of(render_run_summary_pdf({**summary, "ledger_balanced": False}))
    assert "DÉSÉQUILIBRÉ" in unbalanced


def test_run_summary_shows_the_runs_own_fee_income_and_fund_contributions():
    text, _ = text_of(render_run_summary_pdf(new_summary()))
    assert "contributions de ce règlement" in text
    assert "FDS-2026-000012" in text and "56,78 €" in text and "69,12 €" in text
    assert "Frais de gestion des commandes de la période" in text and "24,00 €" in text
    assert "Total des produits de ce règlement 36,00 €" in text
    assert "357,12 €" in text  # the SEPA file: 288.00 net + 69.12 to the fund
    assert "pour mémoire" in text and "987,65 €" in text and "43 210,00 €" in text
    unpaid = new_summary(
        fund_account=None,
        fund_totals={"contributions_cents": 6_912, "transferred_cents": 0},
        ledger_balanced=False,
        ledger_violations=[{"name": "order_money_out_within_money_in", "violation_count": 1}],
    )
    text, _ = text_of(render_run_summary_pdf(unpaid))
    assert "Compte du fonds non configuré" in text
    assert "DÉSÉQUILIBRÉ" in text and "order_money_out_within_money_in (1)" in text


def test_fund_statement_lists_the_runs_contributions_and_the_transfer():
    lines = [contribution(1, "33", 100_000), contribution(2, "33063", 200_000)]
    text, _ = text_of(render_fund_statement_pdf(fund_statement(), iter(lines)))
    assert "FONDS DE COOPÉRATION" in text and "FDS-2026-000012" in text
    assert "Département 33" in text and "33063" in text and "15/11/2026" in text
    assert "1 000,00 €" in text and "2 000,00 €" in text and "30,00 €" in text
    assert "Contributions des règlements précédents non encore versées 5,00 €" in text
    assert "Versé au fonds par ce règlement 35,00 €" in text
    assert "FR76 1010 7001 0112 3456 7890 129" in text
    kept = fund_statement(
        transferred_cents=0,
        earlier_transferred_cents=0,
        held_cents=4_200,
        account=None,
        account_configured=False,
    )
    text, _ = text_of(render_fund_statement_pdf(kept, iter(lines)))
    assert "Non versé" in text and "non encore versé 42,00 €" in text
    empty = render_fund_statement_html(kept, [])
    assert "Aucune commande confirmée depuis le règlement précédent" in empty
