"""What the ordering service does, over its store on the in-process engine (no broker)."""

import json
import re
from datetime import UTC, datetime

import pytest

from services.ordering import api
from services.ordering.settings import Settings
from services.ordering.store import OrderingRepository
from shared.contracts.errors_ordering import (
    CofundingNotEligible,
    EnvelopeBelowReserved,
    InvalidOrderTransition,
    InvoiceNotIssued,
    NotYours,
    OrderNotFound,
    SponsorNotFound,
    StatePaymentNotExpected,
)
from shared.contracts.schemas_ordering import (
    CampaignInput,
    CampaignOut,
    DistributorInput,
    DistributorOut,
    OrderInput,
    OrderOut,
    PaymentInput,
    PaymentRecordedOut,
    SponsorInput,
    SponsorOut,
)
from shared.events import DistributorRegistered, OrderCancelled, OrderConfirmed
from shared.mongo import database_name, get_client, get_database
from shared.times import iso, now, parse
from tests.factories import IBANS

OPERATOR = {"role": "operator", "key_id": "key_op", "subject_id": None, "label": "ops"}
YEAR = now().year
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")  # what iso() writes
APPLICATION = {
    "target_publics": {"skills_plan_priority_pct": 50, "digital_precarity_pct": 50},
    "geographic_area": "Gironde, quartiers prioritaires",
    "partners": ["CCAS de Bordeaux", "Pôle emploi"],
    "budget_cents": 3_000_000,
}


@pytest.fixture
def repo(mongo_config):
    db = get_database(mongo_config, "ordering", tz_aware=True)  # as the service's Store
    OrderingRepository.ensure_indexes(db)
    return OrderingRepository(db)


@pytest.fixture
def settings():
    return Settings()


def make_sponsor(repo, kind="department", territory="33", members=()):
    payload = {
        "name": f"Sponsor {kind}",
        "kind": kind,
        "territory": territory,
        "members": list(members),
        "iban": IBANS[1],
    }
    return api.register_sponsor(repo, SponsorInput().load(payload), OPERATOR)


def key_of(sponsor):
    return {"role": "sponsor", "key_id": "key_sp", "subject_id": sponsor["id"], "label": None}


def make_order(repo, settings, sponsor, quantity=200, cofunded=False, **extra):
    payload = {
        "sponsor_id": sponsor["id"],
        "lines": [{"coupons_per_booklet": 10, "quantity": quantity}],
        **extra,
    }
    if cofunded:
        payload["state_cofunding"] = APPLICATION
    return api.create_order(repo, settings, OrderInput().load(payload), key_of(sponsor))


def pay(repo, order, payer, amount, reference):
    data = PaymentInput().load({"payer": payer, "amount_cents": amount, "reference": reference})
    return api.record_payment(repo, order["id"], data, OPERATOR)


def outbox(repo, order_id):
    return repo.db.orders.find_one({"id": order_id}).get("outbox", [])


def remaining(repo):
    return repo.get_campaign(YEAR)["remaining_cents"]


def test_cofunded_order_from_draft_to_confirmed(repo, settings):
    sponsor = make_sponsor(repo)
    me = key_of(sponsor)
    order = make_order(repo, settings, sponsor, cofunded=True)
    assert order["status"] == "draft" and order["id"].startswith("ord_")
    assert order["quote"] == {
        "coupon_count": 2000,
        "face_value_cents": 2_000_000,
        "fee_cents": 80_000,
        "state_share_cents": 1_000_000,
        "sponsor_due_cents": 1_080_000,
    }
    assert order["invoice"] is None

    order = api.submit_order(repo, settings, order["id"], me)
    assert order["status"] == "cofunding_pending"
    assert order["cofunding"]["status"] == "reserved"
    assert remaining(repo) == settings.cofunding_envelope_cents - 1_000_000
    assert order["invoice"] is None  # the amounts are not final before the decision

    order = api.decide_cofunding(repo, order["id"], "approve", "dossier complet", OPERATOR)
    order = api.ensure_invoice(repo, settings, order)
    assert order["status"] == "cofunding_approved"
    assert order["invoice"]["reference"] == f"INV-{YEAR}-000001"

    order, _, created = pay(repo, order, "sponsor", 1_080_000, "VIR-001")
    assert created and order["status"] == "cofunding_approved"
    assert outbox(repo, order["id"]) == []
    order, payment, created = pay(repo, order, "state", 1_000_000, "ANCT-2026-17")
    assert created and order["status"] == "confirmed"
    assert order["paid"] == {"sponsor_cents": 1_080_000, "state_cents": 1_000_000}

    events = outbox(repo, order["id"])
    assert [e["event_type"] for e in events] == ["order_confirmed"]
    event = OrderConfirmed().load(events[0]["payload"])
    assert event["cofunded"] is True and event["state_rate_bp"] == 5000
    assert event["sponsor_due_cents"] == 1_080_000 and event["coupon_count"] == 2000
    assert event["territory"] == "33" and event["sponsor_kind"] == "department"
    assert [p["reference"] for p in event["payments"]] == ["VIR-001", "ANCT-2026-17"]

    steps = [(h["from"], h["to"], h["by"]["role"]) for h in order["history"]]
    assert steps == [
        (None, "draft", "sponsor"),
        ("draft", "submitted", "sponsor"),
        ("submitted", "cofunding_pending", "sponsor"),
        ("cofunding_pending", "cofunding_approved", "operator"),
        ("cofunding_approved", "confirmed", "operator"),
    ]
    assert all(h["at"].tzinfo is not None and not h["at"].utcoffset() for h in order["history"])
    assert order["history"][3]["reason"] == "dossier complet"

    # a payment replayed after confirmation records nothing and confirms nothing again
    again, _, created = pay(repo, order, "state", 1_000_000, "ANCT-2026-17")
    assert not created and len(again["payments"]) == 2 and again["version"] == order["version"]


def test_order_without_cofunding_is_invoiced_at_submission(repo, settings):
    sponsor = make_sponsor(repo, kind="association")
    order = api.submit_order(
        repo, settings, make_order(repo, settings, sponsor)["id"], key_of(sponsor)
    )
    order = api.ensure_invoice(repo, settings, order)
    assert order["status"] == "submitted"
    assert order["quote"]["sponsor_due_cents"] == 2_080_000
    assert order["invoice"]["reference"] == f"INV-{YEAR}-000001"
    with pytest.raises(StatePaymentNotExpected):
        pay(repo, order, "state", 1, "S1")
    order, _, _ = pay(repo, order, "sponsor", 2_080_000, "VIR-9")
    assert order["status"] == "confirmed"
    assert OrderConfirmed().load(outbox(repo, order["id"])[0]["payload"])["cofunded"] is False


def test_ineligible_cofunding_is_refused_at_creation(repo, settings):
    lone_town = make_sponsor(repo, kind="town", territory="33063")
    with pytest.raises(CofundingNotEligible) as caught:
        make_order(repo, settings, lone_town, cofunded=True)
    assert caught.value.details["rule"] == "town_group"
    small = make_sponsor(repo, kind="town_group", territory="33063", members=["33063", "33318"])
    with pytest.raises(CofundingNotEligible) as caught:
        make_order(repo, settings, small, quantity=99, cofunded=True)  # 9,900 EUR
    assert caught.value.details["rule"] == "minimum_order"
    assert repo.list_orders()[1] == 0
    region = make_sponsor(repo, kind="region", territory="33")  # no minimum for a region
    assert make_order(repo, settings, region, quantity=99, cofunded=True)["quote"][
        "state_share_cents"
    ]


def test_envelope_exhausted_refuses_cofunding_and_the_order_goes_on(repo, settings):
    sponsor = make_sponsor(repo, kind="town_group", members=["33063", "33281"])
    api.set_campaign(
        repo,
        settings,
        CampaignInput().load({"year": YEAR, "rate_bp": 5000, "envelope_cents": 1_500_000}),
        OPERATOR,
    )
    first = make_order(repo, settings, sponsor, cofunded=True)
    second = make_order(repo, settings, sponsor, cofunded=True)
    first = api.submit_order(repo, settings, first["id"], key_of(sponsor))
    assert first["status"] == "cofunding_pending" and remaining(repo) == 500_000

    second = api.ensure_invoice(
        repo, settings, api.submit_order(repo, settings, second["id"], key_of(sponsor))
    )
    assert second["status"] == "cofunding_refused"
    assert second["cofunding"]["reason_code"] == "cofunding_envelope_exhausted"
    assert "500000" in second["cofunding"]["reason"]
    assert second["quote"]["state_share_cents"] == 0
    assert second["quote"]["sponsor_due_cents"] == 2_080_000
    assert second["history"][-1]["by"]["role"] == "system"
    assert second["invoice"]["reference"] == f"INV-{YEAR}-000001"
    assert remaining(repo) == 500_000

    # refusing the first gives its share back to the envelope; it goes on without it
    first = api.decide_cofunding(repo, first["id"], "refuse", "public cible non précisé", OPERATOR)
    assert first["status"] == "cofunding_refused"
    assert first["quote"]["sponsor_due_cents"] == 2_080_000
    assert first["cofunding"]["reason_code"] == "cofunding_refused_by_operator"
    assert remaining(repo) == 1_500_000
    with pytest.raises(InvalidOrderTransition):
        api.decide_cofunding(repo, first["id"], "approve", "changed my mind", OPERATOR)


def test_cancel_releases_the_reserved_share_and_emits_once(repo, settings):
    sponsor = make_sponsor(repo)
    order = make_order(repo, settings, sponsor, cofunded=True)
    order = api.submit_order(repo, settings, order["id"], key_of(sponsor))
    before = remaining(repo)
    order = api.cancel_order(repo, settings, order["id"], "budget voted down", key_of(sponsor))
    assert order["status"] == "cancelled" and order["cofunding"]["status"] == "released"
    assert remaining(repo) == before + 1_000_000
    events = outbox(repo, order["id"])
    assert [e["event_type"] for e in events] == ["order_cancelled"]
    assert OrderCancelled().load(events[0]["payload"])["reason"] == "budget voted down"
    with pytest.raises(InvalidOrderTransition):
        api.cancel_order(repo, settings, order["id"], None, key_of(sponsor))
    assert remaining(repo) == before + 1_000_000
    with pytest.raises(InvoiceNotIssued):
        api.invoice_of(repo, settings, order["id"], OPERATOR)


def test_invoice_numbers_are_sequential_per_year_and_never_reallocated(repo, settings):
    sponsor = make_sponsor(repo, kind="company")
    refs = []
    for _ in range(3):
        order = make_order(repo, settings, sponsor, quantity=1)
        order = api.submit_order(repo, settings, order["id"], key_of(sponsor))
        refs.append(api.ensure_invoice(repo, settings, order)["invoice"]["reference"])
    assert refs == [f"INV-{YEAR}-00000{n}" for n in (1, 2, 3)]
    again = api.invoice_of(repo, settings, order["id"], key_of(sponsor))
    assert again["reference"] == refs[-1]
    assert repo.invoice_number(order["id"], parse(f"{YEAR}-12-31T23:59:59Z"))[0] == 3
    # a new year starts again at 1; the year is the year in UTC (00:30 on 1 January in Paris is
    # 23:30 on 31 December in UTC: the year before)
    assert repo.invoice_number("ord_next_year", parse(f"{YEAR + 1}-01-01T00:00:00Z"))[0] == 1
    assert repo.invoice_number("ord_again", parse(f"{YEAR}-06-01T00:00:00Z"))[0] == 4
    assert repo.invoice_number("ord_paris", parse(f"{YEAR + 1}-01-01T00:30:00+01:00"))[0] == 5


def test_invoice_left_due_by_a_crash_is_issued_when_asked(repo, settings):
    sponsor = make_sponsor(repo, kind="company")
    order = make_order(repo, settings, sponsor, quantity=1)
    order = api.submit_order(repo, settings, order["id"], key_of(sponsor))
    assert order["invoice"] == {"reference": None}  # as if the process died here
    invoice = api.invoice_of(repo, settings, order["id"], key_of(sponsor))
    assert invoice["reference"] == f"INV-{YEAR}-000001"
    assert invoice["issuer"]["vat_mention"] == "TVA non applicable, art. 293 B du CGI"
    assert invoice["recipient"]["name"] == sponsor["name"]


def test_booklets_issued_batches_are_counted_once(repo, settings):
    sponsor = make_sponsor(repo, kind="company")
    order = make_order(repo, settings, sponsor, quantity=2)
    order = api.submit_order(repo, settings, order["id"], key_of(sponsor))
    order, _, _ = pay(repo, order, "sponsor", order["quote"]["sponsor_due_cents"], "V1")
    batch = {
        "order_id": order["id"],
        "booklets": [{"serial": "B000000011", "coupons": []}],
        "issued_at": "2026-11-22T10:00:00Z",
        "valid_until": "2027-11-22T10:00:00Z",
        "batch_count": 2,
    }
    first = api.mark_issued(repo, {**batch, "batch": 1})
    assert first["status"] == "confirmed"
    assert api.mark_issued(repo, {**batch, "batch": 1})["version"] == first["version"]
    done = api.mark_issued(repo, {**batch, "batch": 2})
    assert done["status"] == "issued" and done["issuance"]["booklet_count"] == 2
    assert api.mark_issued(repo, {**batch, "batch": 2})["version"] == done["version"]
    assert (
        api.mark_issued(repo, {**batch, "order_id": "ord_00000000000000000000", "batch": 1}) is None
    )
    assert done["history"][-1]["by"]["role"] == "system"
    dispatched = api.mark_dispatched(repo, order["id"], OPERATOR)
    assert dispatched["status"] == "dispatched"
    with pytest.raises(InvalidOrderTransition):
        api.cancel_order(repo, settings, order["id"], "too late", OPERATOR)


def test_a_sponsor_sees_and_acts_on_its_own_orders_only(repo, settings):
    mine, other = make_sponsor(repo), make_sponsor(repo, kind="region", territory="75")
    order = make_order(repo, settings, mine)
    intruder = key_of(other)
    small_order = {"sponsor_id": mine["id"], "lines": [{"coupons_per_booklet": 5, "quantity": 1}]}
    for action in (
        lambda: api.get_order(repo, order["id"], intruder),
        lambda: api.submit_order(repo, settings, order["id"], intruder),
        lambda: api.cancel_order(repo, settings, order["id"], None, intruder),
        lambda: api.invoice_of(repo, settings, order["id"], intruder),
        lambda: api.create_order(repo, settings, OrderInput().load(small_order), intruder),
        lambda: api.list_orders(
            repo, {"sponsor_id": mine["id"], "status": None, "limit": 5, "offset": 0}, intruder
        ),
        lambda: api.get_sponsor(repo, mine["id"], intruder),
    ):
        with pytest.raises(NotYours):
            action()
    listed, total = api.list_orders(
        repo, {"sponsor_id": None, "status": None, "limit": 5, "offset": 0}, key_of(mine)
    )
    assert total == 1 and listed[0]["id"] == order["id"]
    with pytest.raises(OrderNotFound):
        api.get_order(repo, "ord_ffffffffffffffffffff", OPERATOR)
    with pytest.raises(OrderNotFound):
        api.get_order(repo, {"$ne": None}, OPERATOR)
    with pytest.raises(SponsorNotFound):
        api.get_sponsor(repo, "spo_ffffffffffffffffffff", OPERATOR)


def test_distributors_belong_to_a_sponsor_and_are_announced(repo):
    sponsor, other = make_sponsor(repo), make_sponsor(repo, kind="region", territory="75")
    data = DistributorInput().load(
        {"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"}
    )
    with pytest.raises(NotYours):
        api.register_distributor(repo, data, key_of(other))
    found = api.register_distributor(repo, data, key_of(sponsor))
    assert found["id"].startswith("dis_") and found["sponsor_id"] == sponsor["id"]
    event = repo.db.distributors.find_one({"id": found["id"]})["outbox"][0]
    assert event["event_type"] == "distributor_registered"
    assert DistributorRegistered().load(event["payload"])["sponsor_id"] == sponsor["id"]
    itself = {"role": "distributor", "key_id": "k", "subject_id": found["id"], "label": None}
    assert api.get_distributor(repo, found["id"], itself)["name"] == "CCAS de Pessac"
    with pytest.raises(NotYours):
        api.get_distributor(repo, found["id"], key_of(other))
    with pytest.raises(NotYours):
        api.get_distributor(repo, found["id"], {**itself, "subject_id": "dis_ffffffffffffffffffff"})


def test_campaign_envelope_moves_by_its_change_never_below_reserved(repo, settings):
    sponsor = make_sponsor(repo)
    set_to = lambda cents: api.set_campaign(  # noqa: E731
        repo,
        settings,
        CampaignInput().load({"year": YEAR, "rate_bp": 4000, "envelope_cents": cents}),
        OPERATOR,
    )
    set_to(3_000_000)
    order = make_order(repo, settings, sponsor, cofunded=True)
    assert order["quote"]["state_share_cents"] == 800_000  # 40 % of 20,000.00
    api.submit_order(repo, settings, order["id"], key_of(sponsor))
    assert remaining(repo) == 2_200_000
    campaign = set_to(2_000_000)
    assert campaign["remaining_cents"] == 1_200_000
    assert campaign["history"][-1]["by"]["role"] == "operator"
    with pytest.raises(EnvelopeBelowReserved):
        set_to(799_999)
    assert set_to(800_000)["remaining_cents"] == 0


def test_cancelling_an_invoiced_order_tells_what_was_invoiced_and_received(repo, settings):
    sponsor = make_sponsor(repo, kind="company")
    order = make_order(repo, settings, sponsor, quantity=10)
    order = api.ensure_invoice(
        repo, settings, api.submit_order(repo, settings, order["id"], key_of(sponsor))
    )
    order, _, _ = pay(repo, order, "sponsor", 50_000, "ACOMPTE-1")
    order = api.cancel_order(repo, settings, order["id"], "projet abandonné", OPERATOR)
    event = OrderCancelled().load(outbox(repo, order["id"])[0]["payload"])
    assert event["invoice_reference"] == f"INV-{YEAR}-000001"
    assert [(p["reference"], p["amount_cents"]) for p in event["payments"]] == [
        ("ACOMPTE-1", 50_000)
    ]
    # the invoice is never rewritten: it stays as issued, the order says it was cancelled
    assert (
        api.invoice_of(repo, settings, order["id"], OPERATOR)["reference"]
        == event["invoice_reference"]
    )
    assert order["history"][-1]["by"]["role"] == "operator"


def test_reservations_are_held_once_per_order_and_released_once(repo, settings):
    api.current_campaign(repo, settings, YEAR)
    full = settings.cofunding_envelope_cents
    assert repo.reserve_envelope(YEAR, "ord_a", 700) == 700
    assert repo.reserve_envelope(YEAR, "ord_a", 700) == 700  # a retry holds nothing more
    assert remaining(repo) == full - 700
    assert repo.release_envelope(YEAR, "ord_a") == 700
    assert repo.release_envelope(YEAR, "ord_a") == 0  # a second release gives nothing back
    assert repo.release_envelope(YEAR, "ord_never") == 0
    assert remaining(repo) == full
    assert repo.reserve_envelope(YEAR, "ord_b", full + 1) is None
    assert remaining(repo) == full


def test_times_are_stored_as_dates_and_answered_as_iso_text(repo, settings, mongo_config):
    sponsor = make_sponsor(repo, kind="company")
    distributor = api.register_distributor(
        repo,
        DistributorInput().load(
            {"name": "CCAS de Pessac", "sponsor_id": sponsor["id"], "town_code": "33318"}
        ),
        key_of(sponsor),
    )
    campaign = api.set_campaign(
        repo,
        settings,
        CampaignInput().load({"year": YEAR, "rate_bp": 5000, "envelope_cents": 10**9}),
        OPERATOR,
    )
    order = make_order(repo, settings, sponsor, quantity=2)
    order = api.ensure_invoice(
        repo, settings, api.submit_order(repo, settings, order["id"], key_of(sponsor))
    )
    order, payment, _ = pay(repo, order, "sponsor", order["quote"]["sponsor_due_cents"], "V1")
    batch = {
        "order_id": order["id"],
        "booklets": [{"serial": "B000000011", "coupons": []}],
        "issued_at": "2026-11-22T10:00:00.123000Z",
        "valid_until": "2027-11-22T10:00:00.123000Z",
        "batch": 1,
        "batch_count": 1,
    }
    order = api.mark_issued(repo, batch)

    # in the database: BSON dates (a plain client reads them back as datetimes), never text
    raw = get_client(mongo_config["MONGO_URI"])[database_name(mongo_config, "ordering")]
    stored = raw.orders.find_one({"id": order["id"]})
    dates = [
        stored["created_at"],
        stored["confirmed_at"],
        stored["invoice"]["issued_at"],
        stored["payments"][0]["received_at"],
        stored["issuance"]["issued_at"],
        stored["issuance"]["valid_until"],
        *(entry["at"] for entry in stored["history"]),
        raw.sponsors.find_one({"id": sponsor["id"]})["created_at"],
        *(entry["at"] for entry in raw.sponsors.find_one({"id": sponsor["id"]})["history"]),
        raw.distributors.find_one({"id": distributor["id"]})["created_at"],
        raw.campaigns.find_one({"year": YEAR})["updated_at"],
        raw.campaigns.find_one({"year": YEAR})["history"][0]["at"],
        raw.invoices.find_one({"order_id": order["id"]})["issued_at"],
    ]
    assert all(type(value) is datetime for value in dates)
    # the store's reads are aware, in UTC
    assert order["created_at"] == stored["created_at"].replace(tzinfo=UTC)
    assert order["created_at"].tzinfo is not None

    # answers: ISO 8601 text with a Z, as iso() writes it (what the store held before)
    answer = json.loads(json.dumps(OrderOut().dump(order)))
    assert answer["created_at"] == iso(order["created_at"]) and ISO_Z.fullmatch(
        answer["created_at"]
    )
    assert answer["invoice"]["issued_at"] == iso(order["invoice"]["issued_at"])
    assert answer["payments"][0]["received_at"] == iso(payment["received_at"])
    assert all(ISO_Z.fullmatch(entry["at"]) for entry in answer["history"])
    assert answer["issuance"] == {
        "batches": [1],
        "batch_count": 1,
        "booklet_count": 1,
        "issued_at": "2026-11-22T10:00:00.123000Z",  # byte for byte what the event said
        "valid_until": "2027-11-22T10:00:00.123000Z",
    }
    assert ISO_Z.fullmatch(
        PaymentRecordedOut().dump({"created": True, "payment": payment, "order": order})["payment"][
            "received_at"
        ]
    )
    assert SponsorOut().dump(sponsor)["created_at"] == iso(sponsor["created_at"])
    assert SponsorOut().dump(sponsor)["history"][0]["at"] == iso(sponsor["created_at"])
    assert DistributorOut().dump(distributor)["created_at"] == iso(distributor["created_at"])
    assert CampaignOut().dump(campaign)["updated_at"] == iso(campaign["updated_at"])

    # events: ISO text too (their schemas take text)
    event = outbox(repo, order["id"])[0]["payload"]
    assert event["confirmed_at"] == iso(order["confirmed_at"])
    assert event["payments"][0]["received_at"] == iso(payment["received_at"])
    registered = raw.distributors.find_one({"id": distributor["id"]})["outbox"][0]["payload"]
    assert registered["registered_at"] == iso(distributor["created_at"])
