"""Settlement through the gateway, on the whole stack: a sponsor orders and pays, the booklets are
issued, a venue redeems coupons at its desk, the operator runs the monthly settlement (payouts,
statement, SEPA file, summary), a lost booklet is refunded by an expiry run (credit note), and
the ledger's balance proves every cent. Nothing is injected: every event comes from a service."""

import io
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from services.settlement.sepa import sepa_transfers_total, validate_pain001
from shared.serials import security_code
from tests.conftest import TEST_SECRETS
from tests.factories import IBANS, service_payload, venue_payload

pytestmark = pytest.mark.e2e
SECRET = TEST_SECRETS["OPERATOR_SECRET"]
PARIS = ZoneInfo("Europe/Paris")  # the operator's timezone (OPERATOR_TIMEZONE's default)


def paris_today():
    """Today for the operator: cut-offs and as_of days are days in Paris."""
    return datetime.now(PARIS).date()


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def pdf_text(answer):
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "application/pdf"
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)


def plain(text):
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def balance(api, key):
    answer = api.get("/ledger/balance", key=key)
    assert answer.status_code == 200, answer.text
    return answer.json()


def account(body, name, sub=""):
    return sum(
        a["balance_cents"] for a in body["accounts"] if (a["account"], a["sub"]) == (name, sub)
    )


def error(answer):
    return answer.status_code, answer.json()["error"]["code"]


@pytest.fixture
def scheme(api, operator_key, make_key):
    """A paid order of 3 booklets x 5 coupons x 10 EUR, issued; an accredited venue with a
    service; the keys of the sponsor and the venue."""
    sponsor = api.post(
        "/sponsors",
        json={
            "name": "Département de la Gironde",
            "kind": "department",
            "territory": "33",
            "iban": IBANS[1],
        },
        key=operator_key,
    ).json()
    sponsor_key = make_key("sponsor", sponsor["id"])
    venue = api.post("/venues", json=venue_payload("bordeaux"), key=operator_key).json()
    api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "accredit", "reason": "label APTIC"},
        key=operator_key,
    )
    venue_key = make_key("venue", venue["id"])
    service = api.post(
        f"/venues/{venue['id']}/services", json=service_payload(), key=venue_key
    ).json()
    api.post(  # a venue's service is redeemable once approved
        f"/venues/{venue['id']}/services/{service['id']}/approve", json={}, key=operator_key
    )
    order = api.post(
        "/orders",
        json={
            "sponsor_id": sponsor["id"],
            "lines": [{"coupons_per_booklet": 5, "face_value_cents": 1000, "quantity": 3}],
        },
        key=sponsor_key,
    ).json()
    assert api.post(f"/orders/{order['id']}/submit", key=sponsor_key).status_code == 200
    paid = api.post(
        f"/orders/{order['id']}/payments",
        json={"amount_cents": 15_600, "payer": "sponsor", "reference": "VIR-SET-1"},
        key=operator_key,
    )
    assert paid.json()["order"]["status"] == "confirmed", paid.text

    def issued():
        answer = api.get(f"/orders/{order['id']}/booklets", key=sponsor_key)
        return answer.ok and answer.json()["status"] == "published" and answer.json()

    booklets = [b["serial"] for b in wait_for(issued)["booklets"]]
    coupons = {
        b: api.get(f"/booklets/{b}", key=operator_key).json()["coupon_serials"] for b in booklets
    }
    return {
        "sponsor": sponsor,
        "sponsor_key": sponsor_key,
        "venue": venue,
        "venue_key": venue_key,
        "service": service,
        "order": order,
        "booklets": booklets,
        "coupons": coupons,
    }


def another_sponsor(api, operator_key, make_key):
    """A second sponsor, real (a key is bound to a sponsor that exists), and its key."""
    payload = {"name": "CCAS de Talence", "kind": "ccas", "territory": "33", "iban": IBANS[2]}
    sponsor = api.post("/sponsors", json=payload, key=operator_key).json()
    return sponsor, make_key("sponsor", sponsor["id"])


def another_venue_key(api, operator_key, make_key):
    """The key of a second venue, real (registered, not accredited)."""
    venue = api.post("/venues", json=venue_payload("pessac"), key=operator_key).json()
    return make_key("venue", venue["id"])


def redeem(api, scheme, serials):
    body = {
        "service_id": scheme["service"]["id"],
        "coupons": [{"serial": s, "code": security_code(SECRET, s)} for s in serials],
        "idempotency_key": uuid.uuid4().hex,
    }

    def attempt():  # redemption learns the venue and the coupons from events: wait for them
        answer = api.post("/redemptions", json=body, key=scheme["venue_key"])
        return answer if answer.status_code == 201 else None

    return wait_for(attempt).json()


def test_month_end_settlement_and_refund_of_a_lost_booklet(api, operator_key, make_key, scheme):
    venue_id = scheme["venue"]["id"]
    first, second, third = scheme["booklets"]
    kept = redeem(api, scheme, scheme["coupons"][first][:3])
    mistake = redeem(api, scheme, scheme["coupons"][first][3:4])
    assert api.post(f"/redemptions/{mistake['id']}/void", key=scheme["venue_key"]).ok

    # the ledger learns all of it from events: 156.00 in, 30.00 owed to the venue
    def settled_in():
        body = balance(api, operator_key)
        return body["liabilities"]["venue_payable_cents"] == 3000 and body

    body = wait_for(settled_in)
    assert body["money_in_cents"] == 15_600 and body["balanced"]
    # no cancellation once confirmed: the money stays where it is
    cancel = api.post(
        f"/orders/{scheme['order']['id']}/cancel",
        json={"reason": "budget"},
        key=scheme["sponsor_key"],
    )
    assert error(cancel) == (409, "invalid_order_transition")
    assert body["liabilities"]["coupon_liability_cents"] == 12_000
    assert account(body, "cooperation_fund", "33") == -150

    today = paris_today()
    answer = api.post("/settlement-runs", json={"period_end": today.isoformat()}, key=operator_key)
    assert answer.status_code == 201, answer.text  # created
    run = answer.json()
    assert run["status"] == "completed" and run["created_by"]["role"] == "operator"
    assert run["created"] is True
    assert run["created_by"]["key_id"].startswith("key_")
    assert run["totals"] == {"gross_cents": 3000, "fee_cents": 120, "net_cents": 2880}
    (payout,) = run["payouts"]
    assert (payout["venue_id"], payout["coupon_count"]) == (venue_id, 3)
    again = api.post("/settlement-runs", json={"period_end": today.isoformat()}, key=operator_key)
    assert again.status_code == 200 and again.json()["created"] is False  # the same run
    assert again.json()["id"] == run["id"] and again.json()["payouts"] == run["payouts"]
    assert (
        api.get(f"/settlement-runs/{run['id']}", key=operator_key).json()["totals"] == run["totals"]
    )

    # redemption hears the run: the paid redemption can no longer be voided
    def settled():
        answer = api.get(f"/redemptions/{kept['id']}", key=scheme["venue_key"]).json()
        return answer["status"] == "settled" and answer

    assert wait_for(settled)["history"][-1]["by"]["label"] == f"settlement run {run['id']}"
    answer = api.post(f"/redemptions/{kept['id']}/void", key=scheme["venue_key"])
    assert error(answer) == (409, "redemption_not_voidable")

    # the sponsor's dashboard: no cell about fewer than 5 beneficiaries, the totals included
    # (one beneficiary: only what was ordered shows)
    board = api.get(f"/sponsors/{scheme['sponsor']['id']}/dashboard", key=scheme["sponsor_key"])
    assert board.status_code == 200, board.text
    board = board.json()
    assert board["totals"]["booklets_issued"] == 3 and board["totals"]["suppressed"] is True
    assert board["totals"]["coupons_redeemed"] is None and board["totals"]["beneficiaries"] is None
    assert board["by_venue"] == [{"venue": "other", "suppressed": True}]  # one beneficiary
    assert venue_id not in str(board)
    stranger = another_sponsor(api, operator_key, make_key)[1]
    assert (
        api.get(f"/sponsors/{scheme['sponsor']['id']}/dashboard", key=stranger).status_code == 403
    )

    # documents: the venue's statement, the SEPA file, the operator's summary
    text = plain(
        pdf_text(
            api.get(
                f"/settlement-runs/{run['id']}/statements/{venue_id}.pdf", key=scheme["venue_key"]
            )
        )
    )
    assert payout["statement_reference"] in text and "28,80" in text and "1,20" in text
    other_venue = another_venue_key(api, operator_key, make_key)
    assert (
        api.get(
            f"/settlement-runs/{run['id']}/statements/{venue_id}.pdf", key=other_venue
        ).status_code
        == 403
    )
    sepa = api.get(f"/settlement-runs/{run['id']}/sepa.xml", key=operator_key)
    assert sepa.status_code == 200 and sepa.headers["Content-Type"].startswith("application/xml")
    validate_pain001(sepa.content)
    assert sepa_transfers_total(sepa.content) == (1, 2880)
    # stored once by settlement, streamed: the same bytes again, and 304 for a client that has them
    etag = sepa.headers["ETag"]
    assert api.get(f"/settlement-runs/{run['id']}/sepa.xml", key=operator_key).content == (
        sepa.content
    )
    unchanged = api.get(
        f"/settlement-runs/{run['id']}/sepa.xml", key=operator_key, headers={"If-None-Match": etag}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert (
        api.get(f"/settlement-runs/{run['id']}/sepa.xml", key=scheme["venue_key"]).status_code
        == 403
    )
    summary = plain(
        pdf_text(api.get(f"/settlement-runs/{run['id']}/summary.pdf", key=operator_key))
    )
    assert run["summary_reference"] in summary and "28,80" in summary

    # the run's own: fee income (4 % of 150.00 ordered less the fund's 1.50, 4 % of the 30.00
    # paid) and the cooperation fund's contribution of department 33, stated (no fund account
    # configured: kept, not transferred)
    shown = api.get(f"/settlement-runs/{run['id']}", key=operator_key).json()
    assert shown["fee_income"] == {
        "order_fees_cents": 450,
        "encashment_fees_cents": 120,
        "total_cents": 570,
    }
    (fund,) = shown["fund_contributions"]
    assert (fund["department"], fund["contributions_cents"], fund["transferred_cents"]) == (
        "33",
        150,
        0,
    )
    assert fund["statement_reference"].startswith("FDS-")
    assert (shown["fund_contributions_total_cents"], shown["fund_transferred_cents"]) == (150, 0)
    text = plain(
        pdf_text(api.get(f"/settlement-runs/{run['id']}/fund-statements/33.pdf", key=operator_key))
    )
    assert fund["statement_reference"] in text and "1,50" in text and "Non versé" in text
    assert "Fonds de coopération territoriale : contributions de ce règlement" in summary
    assert error(
        api.get(f"/settlement-runs/{run['id']}/fund-statements/2A.pdf", key=operator_key)
    ) == (404, "document_not_found")
    assert (
        api.get(
            f"/settlement-runs/{run['id']}/fund-statements/33.pdf", key=scheme["venue_key"]
        ).status_code
        == 403
    )

    # a lost booklet: refused at the desk, then refunded at face value by the expiry run
    assert api.post(
        f"/booklets/{third}/cancellation", json={"reason": "lost"}, key=scheme["sponsor_key"]
    ).ok
    # settlement has heard of it when the sponsor's expiry alerts stop counting the booklet
    in_a_year = (today + timedelta(days=355)).isoformat()

    def alerted(count):
        answer = api.get(
            f"/sponsors/{scheme['sponsor']['id']}/expiry-alerts",
            params={"as_of": in_a_year},
            key=scheme["sponsor_key"],
        )
        return answer.ok and answer.json()["totals"]["issued"] == count and answer.json()

    alerts = wait_for(lambda: alerted(2))
    assert alerts["totals"] == {"issued": 2, "handed_out": 0, "not_handed_out": 2, "started": 1}
    expiry = api.post("/expiry-runs", json={"as_of": today.isoformat()}, key=operator_key)
    assert expiry.status_code == 201, expiry.text
    expiry = expiry.json()
    assert (expiry["coupon_count"], expiry["refunded_cents"]) == (5, 5000)
    (note,) = expiry["credit_notes"]
    funder = f"sponsor:{scheme['sponsor']['id']}"
    assert (note["funder_id"], note["amount_cents"]) == (funder, 5000)
    text = plain(
        pdf_text(
            api.get(
                f"/expiry-runs/{expiry['id']}/credit-notes/{funder}.pdf", key=scheme["sponsor_key"]
            )
        )
    )
    assert note["reference"] in text and "50,00" in text
    assert (
        api.get(
            f"/expiry-runs/{expiry['id']}/credit-notes/state.pdf", key=scheme["sponsor_key"]
        ).status_code
        == 403
    )

    # every cent is accounted for; the refund waits for the next run (a later cut-off: the same
    # cut-off again is the same run and pays nothing new)
    body = balance(api, operator_key)
    assert body["liabilities"]["refund_payable_cents"] == 5000
    assert body["liabilities"]["coupon_liability_cents"] == 7000  # 7 coupons still valid
    assert body["money_in_cents"] == 15_600 and body["money_out_cents"] == 2880
    assert body["fee_income_cents"] == 600 - 150 + 120
    assert body["balanced"]
    assert [(i["name"], i["holds"]) for i in body["invariants"]] == [
        ("journal_balanced", True),
        ("no_negative_liability", True),
        ("order_money_out_within_money_in", True),
        ("coupon_paid_out_once", True),
    ]
    assert body["anomalies"] == []
    rerun = api.post("/settlement-runs", json={"period_end": today.isoformat()}, key=operator_key)
    assert rerun.status_code == 200
    assert rerun.json()["refunds"] == [] and rerun.json()["id"] == run["id"]
    same = api.post("/expiry-runs", json={"as_of": today.isoformat()}, key=operator_key)
    assert same.status_code == 200 and same.json()["id"] == expiry["id"]


def test_sponsor_blocks_booklets_not_handed_out_then_they_are_refunded(
    api, operator_key, make_key, scheme
):
    first, second, third = scheme["booklets"]
    key, oid = scheme["sponsor_key"], scheme["order"]["id"]
    distributor = api.post(
        "/distributors",
        json={
            "name": "CCAS de Pessac",
            "sponsor_id": scheme["sponsor"]["id"],
            "town_code": "33318",
        },
        key=key,
    ).json()
    distributor_key = make_key("distributor", distributor["id"])
    assert api.post(f"/orders/{oid}/booklets/dispatch", key=operator_key).ok
    assert api.post(
        f"/booklets/{first}/assignment", json={"distributor_id": distributor["id"]}, key=key
    ).ok
    handed = api.post(f"/booklets/{first}/activation", json={"profile": None}, key=distributor_key)
    assert handed.json()["status"] == "activated", handed.text

    # a booklet handed out cannot be blocked; one not yet handed out can, by its sponsor only
    assert error(api.post(f"/booklets/{first}/block", key=key)) == (
        409,
        "invalid_booklet_transition",
    )
    stranger = another_sponsor(api, operator_key, make_key)[1]
    assert error(api.post(f"/booklets/{second}/block", key=stranger)) == (403, "not_yours")
    assert error(api.post(f"/orders/{oid}/booklets/block", key=stranger)) == (403, "not_yours")
    blocked = api.post(f"/booklets/{second}/block", key=key)
    assert blocked.status_code == 200, blocked.text
    assert (blocked.json()["status"], blocked.json()["cancel_reason"]) == ("cancelled", "blocked")
    answer = api.post(f"/orders/{oid}/booklets/block", key=key).json()
    assert (answer["blocked"], answer["serials"]) == (1, [third])
    assert api.post(f"/orders/{oid}/booklets/block", key=key).json()["blocked"] == 0

    # at the desk they are refused; the handed-out booklet still works
    def refused():
        coupon = scheme["coupons"][third][0]
        answer = api.get(
            f"/coupons/{coupon}",
            params={"code": security_code(SECRET, coupon)},
            key=scheme["venue_key"],
        )
        return answer.status_code == 422 and answer.json()["error"]["code"]

    assert wait_for(refused) == "booklet_cancelled"
    redeem(api, scheme, scheme["coupons"][first][:1])

    # refunded at face value by the expiry run, with a credit note
    today = paris_today().isoformat()

    def heard():  # settlement has heard of both blocks and of the redemption
        body = balance(api, operator_key)
        return body["liabilities"]["venue_payable_cents"] == 1000 and _expire_preview(
            api, key, scheme
        )

    wait_for(heard)
    expiry = api.post("/expiry-runs", json={"as_of": today}, key=operator_key).json()
    assert (expiry["coupon_count"], expiry["refunded_cents"]) == (10, 10_000)
    (note,) = api.get("/credit-notes", key=key).json()["credit_notes"]
    text = plain(pdf_text(api.get(f"/credit-notes/{note['reference']}.pdf", key=key)))
    assert "100,00" in text and "bloqués" in text
    body = balance(api, operator_key)
    assert body["liabilities"]["coupon_liability_cents"] == 4000  # the handed-out booklet's rest
    assert body["liabilities"]["refund_payable_cents"] == 10_000 and body["balanced"]


def _expire_preview(api, key, scheme):
    """Settlement knows of both blocked booklets when the sponsor's alerts count only the one
    handed out."""
    in_a_year = (paris_today() + timedelta(days=355)).isoformat()
    answer = api.get(
        f"/sponsors/{scheme['sponsor']['id']}/expiry-alerts", params={"as_of": in_a_year}, key=key
    )
    return answer.ok and answer.json()["totals"] == {
        "issued": 1,
        "handed_out": 1,
        "not_handed_out": 0,
        "started": 1,
    }


def test_cancelled_order_refunds_what_was_paid_with_a_credit_note(api, operator_key, make_key):
    sponsor = api.post(
        "/sponsors",
        json={"name": "CCAS de Pessac", "kind": "ccas", "territory": "33", "iban": IBANS[2]},
        key=operator_key,
    ).json()
    key = make_key("sponsor", sponsor["id"])
    order = api.post(
        "/orders",
        json={
            "sponsor_id": sponsor["id"],
            "lines": [{"coupons_per_booklet": 10, "face_value_cents": 1000, "quantity": 2}],
        },
        key=key,
    ).json()
    assert api.post(f"/orders/{order['id']}/submit", key=key).ok
    partial = {"amount_cents": 10_000, "payer": "sponsor", "reference": "VIR-PART-1"}
    assert api.post(f"/orders/{order['id']}/payments", json=partial, key=operator_key).ok
    answer = api.post(f"/orders/{order['id']}/cancel", json={"reason": "budget"}, key=key)
    assert answer.status_code == 200, answer.text

    def noted():
        answer = api.get("/credit-notes", key=key)
        return answer.ok and answer.json()["credit_notes"]

    (note,) = wait_for(noted)
    assert (note["reason"], note["total_cents"], note["order_ids"]) == (
        "order_cancelled",
        10_000,
        [order["id"]],
    )
    text = plain(pdf_text(api.get(f"/credit-notes/{note['reference']}.pdf", key=key)))
    assert note["reference"] in text and "100,00" in text and "frais de gestion compris" in text
    other = another_sponsor(api, operator_key, make_key)[1]
    assert api.get("/credit-notes", key=other).json()["credit_notes"] == []
    assert error(api.get(f"/credit-notes/{note['reference']}.pdf", key=other)) == (
        403,
        "not_yours",
    )
    assert error(api.get("/credit-notes/AV-1999-000001.pdf", key=operator_key)) == (
        404,
        "document_not_found",
    )
    body = balance(api, operator_key)
    assert body["money_in_cents"] == 10_000 and body["balanced"]
    assert body["liabilities"]["refund_payable_cents"] == 10_000  # paid by the next run


def test_hostile_and_bad_input(api, operator_key, make_key):
    tomorrow = (paris_today() + timedelta(days=1)).isoformat()
    # a well-formed day still to come: refused by a business rule
    answer = api.post("/settlement-runs", json={"period_end": tomorrow}, key=operator_key)
    assert error(answer) == (422, "period_not_over")
    assert answer.json()["error"]["details"] == {
        "period_end": tomorrow,
        "today": paris_today().isoformat(),
    }
    assert (
        error(api.post("/settlement-runs", json={"period_end": "31/10/2026"}, key=operator_key))[0]
        == 400
    )
    assert (
        error(
            api.post(
                "/settlement-runs", json={"period_end": "2026-10-31", "pay": "me"}, key=operator_key
            )
        )[0]
        == 400
    )
    assert error(api.post("/expiry-runs", json={"as_of": tomorrow}, key=operator_key)) == (
        422,
        "period_not_over",
    )
    venue_key = another_venue_key(api, operator_key, make_key)
    sponsor, sponsor_key = another_sponsor(api, operator_key, make_key)
    assert (
        api.post("/settlement-runs", json={"period_end": "2026-10-31"}, key=venue_key).status_code
        == 403
    )
    assert api.post("/settlement-runs", json={"period_end": "2026-10-31"}).status_code == 401
    assert api.get("/ledger/balance", key=sponsor_key).status_code == 403
    assert error(api.get("/settlement-runs/SR-1999-01-01", key=operator_key)) == (
        404,
        "settlement_run_not_found",
    )
    assert error(api.get("/expiry-runs/EXP-nothing", key=operator_key)) == (
        404,
        "expiry_run_not_found",
    )
    assert (
        api.get("/sponsors/spo_00000000000000000001/expiry-alerts", key=sponsor_key).status_code
        == 403
    )
    alerts = api.get(f"/sponsors/{sponsor['id']}/expiry-alerts", key=sponsor_key)
    assert alerts.status_code == 200 and alerts.json()["totals"]["issued"] == 0
    huge = api.post("/settlement-runs", data="x" * 2_000_000, key=operator_key)
    assert huge.status_code == 413


@pytest.mark.parametrize("day", ["0001-01-01", "2019-12-31", "9999-12-31"])
def test_days_outside_the_schemes_life_are_invalid_periods(api, operator_key, make_key, day):
    """Year 1, before the scheme, or past what a date can hold: 400 invalid_period (the alerts'
    as_of too: 9999-12-31 was a 500, an OverflowError)."""
    for path, field in (("/settlement-runs", "period_end"), ("/expiry-runs", "as_of")):
        answer = api.post(path, json={field: day}, key=operator_key)
        assert error(answer) == (400, "invalid_period"), answer.text
        assert answer.json()["error"]["details"] == {
            field: day,
            "earliest": "2020-01-01",
            "latest": "9999-11-30",
        }
    sponsor, sponsor_key = another_sponsor(api, operator_key, make_key)
    alerts = api.get(
        f"/sponsors/{sponsor['id']}/expiry-alerts",
        params={"as_of": day},
        key=sponsor_key,
    )
    assert error(alerts) == (400, "invalid_period"), alerts.text
    assert api.get(f"/settlement-runs/SR-{day}", key=operator_key).status_code == 404
