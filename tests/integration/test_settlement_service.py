"""Settlement on the real RabbitMQ, alone: the other services' events are dispatched as they
publish them (twice, to be sure), a run and an expiry run are asked over RPC, and their events
are received in batches by a listener standing for redemption."""

from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from services.settlement import periods, schedule
from services.settlement.service import SettlementService
from shared.errors import AppError
from shared.events import CouponsRedeemed
from shared.mongo import get_database
from tests import settlement_support as ev

pytestmark = pytest.mark.integration
VENUE = "ven_00000000000000000001"


class Redemption:
    """Stands for redemption: keeps the settlement events it receives."""

    name = "redemption_listener"
    runs = []
    expired = []

    @event_handler("settlement", "run_completed")
    def handle_run_completed(self, payload):
        Redemption.runs.append(payload)

    @event_handler("settlement", "coupons_expired")
    def handle_coupons_expired(self, payload):
        Redemption.expired.append(payload)


def wait_until(check, seconds=10):
    with eventlet.Timeout(seconds):
        while not (answer := check()):
            eventlet.sleep(0.05)
        return answer


def test_events_in_runs_out_in_batches(container_factory, service_config):
    Redemption.runs, Redemption.expired = [], []
    config = {**service_config, "EVENT_BATCH_SIZE": 2}
    container_factory(SettlementService, config).start()
    container_factory(Redemption, config).start()
    dispatch = event_dispatcher(config)

    confirmed = ev.order_confirmed(coupons=10)
    issued = ev.booklets_issued(confirmed)
    coupons = ev.all_coupons(issued)
    redemptions = [ev.redeemed(issued, coupons[i : i + 1], venue_id=VENUE) for i in range(5)]
    events = [
        ("catalog", "venue_accredited", ev.venue(VENUE)),
        ("ordering", "order_confirmed", confirmed),
        ("issuance", "booklets_issued", issued),
        ("issuance", "booklet_cancelled", ev.booklet_cancelled(issued, issued["booklets"][1])),
        *[("redemption", "coupons_redeemed", r) for r in redemptions],
        ("redemption", "redemption_voided", ev.voided(redemptions[0])),
    ]
    for _ in range(2):  # at-least-once delivery: everything twice
        for source, event_type, payload in events:
            dispatch(source, event_type, _dumped(event_type, payload))

    with ClusterRpcProxy(config) as cluster:

        def known():
            balance = cluster.settlement.ledger_balance()
            return balance["liabilities"]["venue_payable_cents"] == 4000 and balance

        wait_until(known)
        eventlet.sleep(0.5)  # the redelivered copies too
        balance = cluster.settlement.ledger_balance()
        assert balance["money_in_cents"] == 10_400 and balance["balanced"]
        assert balance["liabilities"]["venue_payable_cents"] == 4000
        assert [i["name"] for i in balance["invariants"] if i["holds"]] == [
            "journal_balanced",
            "no_negative_liability",
            "order_money_out_within_money_in",
            "coupon_paid_out_once",
        ]

        # a late (or forged) cancellation of the confirmed order: refused, nothing moves
        dispatch("ordering", "order_cancelled", ev.order_cancelled(confirmed))

        def refused():
            found = cluster.settlement.ledger_balance()
            return found["anomalies"] and found

        late = wait_until(refused)
        assert [(a["kind"], a["order_id"]) for a in late["anomalies"]] == [
            ("cancellation_refused", confirmed["order_id"])
        ]
        assert late["accounts"] == balance["accounts"] and late["balanced"]

        run = cluster.settlement.run_settlement({"period_end": "2026-03-31"})
        assert run["totals"] == {"gross_cents": 4000, "fee_cents": 160, "net_cents": 3840}
        # the run's own fund contribution (1 % of 100.00 for department 33) and fee income
        assert [
            (f["department"], f["contributions_cents"], f["transferred_cents"])
            for f in run["fund_contributions"]
        ] == [("33", 100, 0)]
        assert run["fee_income"] == {
            "order_fees_cents": 300,
            "encashment_fees_cents": 160,
            "total_cents": 460,
        }
        assert (
            cluster.settlement.get_settlement_run(run["id"])["fund_contributions"]
            == (run["fund_contributions"])
        )
        statement = cluster.settlement.fund_statement_pdf(run["id"], "33")
        assert statement["reference"] == run["fund_contributions"][0]["statement_reference"]
        with pytest.raises(AppError) as caught:
            cluster.settlement.fund_statement_pdf(run["id"], "2A")
        assert caught.value.code == "document_not_found"
        wait_until(lambda: len(Redemption.runs) == 2)
        assert sorted(i for p in Redemption.runs for i in p["redemption_ids"]) == sorted(
            r["redemption_id"] for r in redemptions[1:]
        )
        assert {(p["batch"], p["batch_count"]) for p in Redemption.runs} == {(1, 2), (2, 2)}
        again = cluster.settlement.run_settlement({"period_end": "2026-03-31"})
        assert again["id"] == run["id"]
        eventlet.sleep(0.3)
        assert len(Redemption.runs) == 2  # nothing sent twice

        expiry = cluster.settlement.run_expiry({"as_of": "2026-04-01"})
        assert (expiry["coupon_count"], expiry["cancelled_coupon_count"]) == (5, 5)
        wait_until(lambda: len(Redemption.expired) == 3)
        serials = sorted(s for p in Redemption.expired for s in p["coupon_serials"])
        assert serials == sorted(c["serial"] for c in issued["booklets"][1]["coupons"])

        with pytest.raises(AppError) as caught:
            cluster.settlement.run_settlement({"period_end": "not a date"})
        assert caught.value.code == "validation_error"
        with pytest.raises(AppError) as caught:
            cluster.settlement.get_settlement_run("SR-1999-01-01")
        assert caught.value.code == "settlement_run_not_found"


def _dumped(event_type, payload):
    """Back to the wire format (dates as text), as a producer sends it."""
    if event_type == "coupons_redeemed":
        return CouponsRedeemed().dump(payload)
    return payload


def test_events_a_crash_left_unsent_are_sent_by_the_timer(container_factory, service_config):
    Redemption.runs = []
    container = container_factory(SettlementService, service_config)
    container.start()
    container_factory(Redemption, service_config).start()
    dispatch = event_dispatcher(service_config)
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    redeemed = ev.redeemed(issued, ev.all_coupons(issued)[:2], venue_id=VENUE)
    dispatch("catalog", "venue_accredited", ev.venue(VENUE))
    dispatch("ordering", "order_confirmed", confirmed)  # else the redemption waits, unpaid
    dispatch("redemption", "coupons_redeemed", CouponsRedeemed().dump(redeemed))
    with ClusterRpcProxy(service_config) as cluster:
        wait_until(
            lambda: cluster.settlement.ledger_balance()["liabilities"]["venue_payable_cents"]
        )
        run = cluster.settlement.run_settlement({"period_end": "2026-03-31"})
    wait_until(lambda: len(Redemption.runs) == 1)

    # as if the service had stopped between completing the run and sending its events
    db = get_database(service_config, "settlement", tz_aware=True)
    db.runs.update_one({"id": run["id"]}, {"$set": {"events_published": False}})
    with entrypoint_hook(container, "republish") as republish:
        republish()
    wait_until(lambda: len(Redemption.runs) == 2)
    assert Redemption.runs[1]["redemption_ids"] == [redeemed["redemption_id"]]
    assert db.runs.find_one({"id": run["id"]})["events_published"] is True
    with entrypoint_hook(container, "republish") as republish:
        republish()  # nothing left to send
    eventlet.sleep(0.3)
    assert len(Redemption.runs) == 2


def test_runs_begun_without_waiting(container_factory, service_config):
    """The pages ask for a run and get its id at once; the run is made in the background and
    polled (its progress, then completed); a day still to come is refused before anything."""
    container_factory(SettlementService, service_config).start()
    dispatch = event_dispatcher(service_config)
    confirmed = ev.order_confirmed(coupons=5)
    issued = ev.booklets_issued(confirmed)
    redeemed = ev.redeemed(issued, ev.all_coupons(issued)[:2], venue_id=VENUE)
    dispatch("catalog", "venue_accredited", ev.venue(VENUE))
    dispatch("ordering", "order_confirmed", confirmed)
    dispatch("issuance", "booklets_issued", issued)
    dispatch("redemption", "coupons_redeemed", CouponsRedeemed().dump(redeemed))
    with ClusterRpcProxy(service_config) as cluster:
        settlement = cluster.settlement
        wait_until(lambda: settlement.ledger_balance()["liabilities"]["venue_payable_cents"])
        begun = settlement.begin_settlement_run({"period_end": "2026-03-31"}, OPERATOR)
        assert begun == {"id": "SR-2026-03-31", "kind": "settlement"}

        def completed():
            try:
                run = settlement.get_settlement_run(begun["id"])
            except AppError as exc:
                assert exc.code == "settlement_run_not_found"  # not begun yet
                return None
            return run["status"] == "completed" and run

        run = wait_until(completed)
        assert run["totals"]["net_cents"] == 1920 and run["progress"]["phase"]
        assert run["created_by"]["label"] == "integration test"

        expiry = settlement.begin_expiry_run({"as_of": "2026-04-01"}, OPERATOR)
        assert expiry == {"id": "EXP-2026-04-01", "kind": "expiry"}

        def expired():
            listed = settlement.list_expiry_runs()["runs"]
            return listed and listed[0]["status"] == "completed" and listed

        assert [r["id"] for r in wait_until(expired)] == ["EXP-2026-04-01"]

        with pytest.raises(AppError) as caught:
            settlement.begin_settlement_run({"period_end": "2999-01-31"}, OPERATOR)
        assert caught.value.code == "period_not_over"
        with pytest.raises(AppError) as caught:
            settlement.begin_expiry_run({"as_of": "1999-01-01"}, OPERATOR)
        assert caught.value.code == "invalid_period"


OPERATOR = {"role": "operator", "key_id": None, "subject_id": None, "label": "integration test"}


def test_the_schedule_settles_last_month_and_expires_today_once(container_factory, service_config):
    """SCHEDULED_RUNS on: at start (and every few minutes) the service makes the previous
    month's settlement run and today's expiry run, in the operator's days; looked at again, it
    makes nothing twice."""
    zone = periods.zone("Europe/Paris")
    today = periods.today(zone)
    month_end = schedule.last_month_end(today)
    within = datetime(month_end.year, month_end.month, 10, 9, 0, tzinfo=UTC)
    ingesting = container_factory(SettlementService, service_config)
    ingesting.start()  # the schedule off (the default): the events are taken in first
    dispatch = event_dispatcher(service_config)
    confirmed = ev.order_confirmed(coupons=5, at=within - timedelta(days=5))
    issued = ev.booklets_issued(confirmed, issued_at=within - timedelta(days=4))
    dispatch("catalog", "venue_accredited", ev.venue(VENUE))
    dispatch("ordering", "order_confirmed", confirmed)
    dispatch("issuance", "booklets_issued", issued)
    redeemed = ev.redeemed(issued, ev.all_coupons(issued)[:3], venue_id=VENUE, at=within)
    dispatch("redemption", "coupons_redeemed", CouponsRedeemed().dump(redeemed))
    with ClusterRpcProxy(service_config) as cluster:
        wait_until(
            lambda: cluster.settlement.ledger_balance()["liabilities"]["venue_payable_cents"]
        )
    ingesting.stop()

    scheduled = container_factory(SettlementService, {**service_config, "SCHEDULED_RUNS": "true"})
    scheduled.start()
    with ClusterRpcProxy(service_config) as cluster:
        settlement = cluster.settlement

        def both_completed():
            runs = settlement.list_settlement_runs()["runs"]
            expiries = settlement.list_expiry_runs()["runs"]
            done = [r for r in runs + expiries if r["status"] == "completed"]
            return len(done) == 2 and (runs, expiries)

        runs, expiries = wait_until(both_completed, seconds=30)
        assert [r["id"] for r in runs] == [f"SR-{month_end.isoformat()}"]
        assert [r["id"] for r in expiries] == [f"EXP-{today.isoformat()}"]
        run = settlement.get_settlement_run(runs[0]["id"])
        assert run["totals"] == {"gross_cents": 3000, "fee_cents": 120, "net_cents": 2880}
        assert run["created_by"]["label"] == "schedule"
        with entrypoint_hook(scheduled, "scheduled_runs") as look_again:
            look_again()
        assert settlement.list_settlement_runs()["total"] == 1
        assert settlement.list_expiry_runs()["total"] == 1
