"""Venue staff download their payment statement (PDF) from the desk, after a settlement run paid
them; another venue's statement is not theirs to read."""

import subprocess
from datetime import UTC, datetime

import pytest
from nameko.standalone.events import event_dispatcher

from shared.events import CouponsRedeemed
from tests import settlement_support as ev
from tests.browser.support import PASSWORD, accredited_venue, wait_for

pytestmark = pytest.mark.browser


def paid_in_runs(rpc, config, venue_id, other_venue_id):
    """An order confirmed in January; ``other_venue_id`` redeems 2 coupons in February and
    ``venue_id`` 3 in March, as redemption announces it; the February and March runs made.
    Returns ``(february_run, march_run)``."""
    dispatch = event_dispatcher(config)
    confirmed = ev.order_confirmed(coupons=10)
    issued = ev.booklets_issued(confirmed)
    coupons = ev.all_coupons(issued)
    february = ev.redeemed(
        issued, coupons[:2], venue_id=other_venue_id, at=datetime(2026, 2, 9, tzinfo=UTC)
    )
    march = ev.redeemed(
        issued, coupons[2:5], venue_id=venue_id, at=datetime(2026, 3, 5, tzinfo=UTC)
    )
    dispatch("ordering", "order_confirmed", confirmed)
    for redeemed in (february, march):
        dispatch("redemption", "coupons_redeemed", CouponsRedeemed().dump(redeemed))
    settlement = rpc("settlement")
    wait_for(lambda: settlement.ledger_balance()["liabilities"]["venue_payable_cents"] == 5000)
    return (
        settlement.run_settlement({"period_end": "2026-02-28"}),
        settlement.run_settlement({"period_end": "2026-03-31"}),
    )


def test_venue_staff_download_their_statement(rpc, stack_config, browse, tmp_path):
    venue, _ = accredited_venue(rpc, stack_config, "bordeaux")
    other, _ = accredited_venue(rpc, stack_config, "pessac")
    february, march = paid_in_runs(rpc, stack_config, venue["id"], other["id"])
    payout = next(p for p in march["payouts"] if p["venue_id"] == venue["id"])
    assert (payout["gross_cents"], payout["net_cents"]) == (3000, 2880)  # 4 % fees
    email = "comptable@epn-bordeaux.example"
    rpc("web").create_user(email, "venue", venue["id"], PASSWORD)
    pdf = tmp_path / "statement.pdf"
    seen = browse(
        "venue_downloads_statement",
        email=email,
        password=PASSWORD,
        save_as=str(pdf),
        other_run=february["id"],
    )
    reference = payout["statement_reference"]
    assert seen["listed"] == [
        f"Relevé {reference}, paiement jusqu'au 31 mars 2026 : 28,80\u00a0€ (PDF)"
    ], seen["listed"]
    assert seen["filename"].endswith(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert reference in text and venue["name"] in text
    assert "28,80" in text and "30,00" in text and "1,20" in text  # net, gross, 4 % fees
    assert seen["forged_status"] == 404  # February's run paid the other venue only
