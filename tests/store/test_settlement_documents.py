"""Settlement's documents and SEPA file: rendered from snapshots (the HTML here; the PDFs, read
back as a reader would, in tests/documents/test_settlement_pdf.py, which uses these snapshots), the
XML validated against the official pain.001.001.03 schema."""

import io
from datetime import date

import pytest
from pypdf import PdfReader

from services.settlement import api
from services.settlement.documents import (
    render_credit_note_html,
    render_fund_statement_html,
    render_run_summary_html,
    render_statement_html,
    serial_range,
)
from services.settlement.sepa import credit_transfer_xml, sepa_transfers_total, validate_pain001
from services.settlement.settings import Settings
from tests import settlement_support as ev

ISSUER = Settings().issuer()
VENUE_IBAN = "FR1420041010050500013M02606"


def text_of(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split()), len(reader.pages)


def statement(**overrides):
    return {
        "reference": "REL-2026-000007",
        "run_id": "SR-2026-10-31",
        "period_end": "2026-10-31",
        "issued_at": "2026-11-02T08:00:00Z",
        "issuer": ISSUER,
        "venue": {
            "venue_id": "ven_00000000000000000001",
            "name": "Médiathèque de Mérignac",
            "town_code": "33281",
            "department": "33",
            "iban": VENUE_IBAN,
        },
        "gross_cents": 30_000,
        "fee_cents": 1_200,
        "net_cents": 28_800,
        "fee_bp": 400,
        "line_count": 4,
        "coupon_count": 31,
        **overrides,
    }


def line(i, coupons=10, kind="redemption", amount=None):
    return {
        "redemption_id": f"red_{i:020x}",
        "redeemed_at": f"2026-10-{1 + i % 28:02d}T10:00:00Z",
        "service_id": "svc_00000000000000000001",
        "category": "online_admin_procedures",
        "coupon_count": coupons,
        "serials": [f"{3_000_000 + i * 10 + k:010d}" for k in range(coupons)],
        "amount_cents": amount if amount is not None else coupons * 1000,
        "kind": kind,
    }


def new_summary(**overrides):
    """A summary as runs make them now: the run's own fee income and fund contributions."""
    return {
        "reference": "SYN-2026-000004",
        "run_id": "SR-2026-11-30",
        "period_end": "2026-11-30",
        "issued_at": "2026-12-01T08:00:00Z",
        "timezone": "Europe/Paris",
        "issuer": ISSUER,
        "payouts": [],
        "totals": {"gross_cents": 30_000, "fee_cents": 1_200, "net_cents": 28_800},
        "refunds": [],
        "refunds_total_cents": 0,
        "fee_income": {
            "order_fees_cents": 2_400,
            "encashment_fees_cents": 1_200,
            "total_cents": 3_600,
        },
        "fund_contributions": [
            {
                "department": "2A",
                "contributions_cents": 1_234,
                "order_count": 1,
                "transferred_cents": 1_234,
                "statement_reference": "FDS-2026-000011",
            },
            {
                "department": "33",
                "contributions_cents": 5_678,
                "order_count": 2,
                "transferred_cents": 5_678,
                "statement_reference": "FDS-2026-000012",
            },
        ],
        "fund_totals": {"contributions_cents": 6_912, "transferred_cents": 6_912},
        "fund_account": {"name": "Fonds APTIC", "iban": "FR7610107001011234567890129"},
        "fund_balance_by_department": [
            {"territory": "33", "department": "33", "balance_cents": 98_765}
        ],
        "fee_income_balance_cents": 4_321_000,
        "carried_forward": [],
        "ledger_balanced": True,
        **overrides,
    }


def fund_statement(**overrides):
    return {
        "reference": "FDS-2026-000012",
        "run_id": "SR-2026-11-30",
        "period_end": "2026-11-30",
        "issued_at": "2026-12-01T08:00:00Z",
        "timezone": "Europe/Paris",
        "issuer": ISSUER,
        "department": "33",
        "fund_bp": 100,
        "contributions_cents": 3_000,
        "order_count": 2,
        "face_value_cents": 300_000,
        "order_fees_cents": 9_000,
        "transferred_cents": 3_500,
        "earlier_transferred_cents": 500,
        "held_cents": 0,
        "account": {"name": "Fonds APTIC", "iban": "FR7610107001011234567890129", "bic": None},
        "account_configured": True,
        **overrides,
    }


def contribution(i, territory, face):
    return {
        "order_id": f"ord_{i:020x}",
        "sponsor_id": f"spo_{i:020x}",
        "sponsor_name": "Ville de Bordeaux",
        "territory": territory,
        "confirmed_at": "2026-11-14T23:30:00Z",  # 15 November in Paris
        "face_value_cents": face,
        "amount_cents": face // 100,
    }


def test_sepa_file_of_a_run_with_the_funds_transfers_is_schema_valid(mongo_config):
    repo = ev.repository(mongo_config)
    settings = Settings(
        cooperation_fund_iban="FR76 1010 7001 0112 3456 7890 129",
        cooperation_fund_bic="CCBPFRPP",
        cooperation_fund_name="Fonds de coopération APTIC",
    )
    api.on_venue_changed(repo, ev.venue())
    for coupons, territory in ((30, "33063"), (10, "2A004")):
        confirmed = ev.order_confirmed(coupons=coupons, territory=territory)
        api.on_order_confirmed(repo, confirmed)
        issued = ev.booklets_issued(confirmed)
        api.on_booklets_issued(repo, issued)
    api.on_coupons_redeemed(repo, ev.redeemed(issued, ev.all_coupons(issued)[:3]))
    run = api.settlement_run(repo, settings, date(2026, 3, 31), today=date(2026, 4, 1))
    transfers = api.sepa_transfers(run)
    xml = credit_transfer_xml(settings.debtor(), transfers, run["id"], date(2026, 4, 1))
    validate_pain001(xml)
    assert sepa_transfers_total(xml) == (3, 2_880 + 300 + 100)
    assert b"FR7610107001011234567890129" in xml and b"CCBPFRPP" in xml
    assert b"Fonds de cooperation 33 FDS-2026-" in xml
    assert b"Fonds de cooperation 2A FDS-2026-" in xml


def test_dates_are_printed_in_the_operators_timezone():
    # issued at 00:30 on 3 November in Paris (UTC+1); a line redeemed at 00:30 on 15 October
    # (UTC+2): local dates; a snapshot without a timezone (issued before it was recorded) as it
    # was printed then, in UTC
    paris = statement(issued_at="2026-11-02T23:30:00Z", timezone="Europe/Paris")
    redeemed = {**line(1), "redeemed_at": "2026-10-14T22:30:00Z"}
    html = render_statement_html(paris, [redeemed])
    assert "03/11/2026" in html and "15/10/2026" in html
    assert "02/11/2026" not in html and "14/10/2026" not in html
    old = render_statement_html({**paris, "timezone": None}, [redeemed])
    assert "02/11/2026" in old and "14/10/2026" in old
    for render, snapshot in (
        (render_credit_note_html, {"issued_at": "2026-12-31T23:30:00Z", "as_of": "2026-12-29"}),
        (render_run_summary_html, {"issued_at": "2026-12-31T23:30:00Z"}),
        (_fund_html, {"issued_at": "2026-12-31T23:30:00Z"}),
    ):
        local = render(_minimal(render, snapshot, "Europe/Paris"))
        assert "01/01/2027" in local and "31/12/2026" not in local
        in_utc = render(_minimal(render, snapshot, "UTC"))
        assert "31/12/2026" in in_utc and "01/01/2027" not in in_utc


def _fund_html(snapshot):
    return render_fund_statement_html(snapshot, [])


def _minimal(render, fields, timezone):
    common = {"reference": "X-2027-000001", "issuer": ISSUER, "timezone": timezone, **fields}
    if render is _fund_html:
        return fund_statement(**common)
    if render is render_credit_note_html:
        return {
            **common,
            "reason": "order_cancelled",
            "expiry_run_id": None,
            "funder": {"funder_id": "state", "name": "État", "kind": "state", "iban": None},
            "lines": [],
            "total_cents": 0,
            "cancelled_coupon_count": 0,
            "expired_coupon_count": 0,
        }
    return {
        **common,
        "run_id": "SR-2026-12-29",
        "period_end": "2026-12-29",
        "payouts": [],
        "totals": {"gross_cents": 0, "fee_cents": 0, "net_cents": 0},
        "refunds": [],
        "refunds_total_cents": 0,
        "fund_by_territory": [],
        "fee_income_cents": 0,
        "carried_forward": [],
        "ledger_balanced": True,
    }


def test_serial_range_is_compact():
    assert serial_range(["a"]) == "a" and serial_range(["a", "b"]) == "a, b"
    assert serial_range(["a", "b", "c"]) == "a … c"


# -- SEPA ---------------------------------------------------------------------------------------
DEBTOR = Settings().debtor()
TRANSFERS = [
    {
        "name": "Médiathèque de Mérignac",
        "iban": VENUE_IBAN,
        "bic": None,
        "amount_cents": 28_800,
        "description": "Pass numérique REL-2026-000007 au 2026-10-31",
        "end_to_end_id": "REL-2026-000007",
    },
    {
        "name": "État - Agence nationale de la cohésion des territoires",
        "iban": "FR5210071750000000100002937",
        "bic": "TRPUFRP1",
        "amount_cents": 1_501,
        "description": "Pass numérique remboursement " + "x" * 200,  # cut to 140
        "end_to_end_id": "SR-2026-10-31-0001",
    },
    {
        "name": "CCAS de Pessac",
        "iban": "FR7610107001011234567890129",
        "bic": None,
        "amount_cents": 1,
        "description": "Pass numérique remboursement",
        "end_to_end_id": "SR-2026-10-31-0002",
    },
]


def test_sepa_file_is_schema_valid_and_adds_up():
    xml = credit_transfer_xml(DEBTOR, TRANSFERS, "SR-2026-10-31", date(2026, 11, 3))
    validate_pain001(xml)
    assert sepa_transfers_total(xml) == (3, 30_302)
    assert b"<MsgId>SR-2026-10-31</MsgId>" in xml  # the same run: the same message id
    assert b"Mediatheque de Merignac" in xml  # transliterated to the SEPA character set


def test_sepa_refuses_bad_iban_and_bad_amounts():
    with pytest.raises(ValueError, match="CCAS"):
        credit_transfer_xml(
            DEBTOR,
            [{**TRANSFERS[2], "iban": "FR7610107001011234567890128"}],
            "SR-1",
            date(2026, 11, 3),
        )
    for amount in (0, -5, 12.5):
        with pytest.raises(ValueError):
            credit_transfer_xml(
                DEBTOR, [{**TRANSFERS[0], "amount_cents": amount}], "SR-1", date(2026, 11, 3)
            )


def test_a_tampered_file_fails_the_schema():
    xml = credit_transfer_xml(DEBTOR, TRANSFERS[:1], "SR-2026-10-31", date(2026, 11, 3))
    with pytest.raises(ValueError, match="pain.001.001.03"):
        validate_pain001(xml.replace(b"288.00", b"abc"))
    with pytest.raises(ValueError):
        validate_pain001(b"<not-xml")
