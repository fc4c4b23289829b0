"""Settlement's days are the operator's (OPERATOR_TIMEZONE, Europe/Paris by default): cut-offs,
expiry ``as_of``, alerts, the dashboard's months and the dates printed on documents; times are
aware UTC instants (shared.times). Days are bounded to the scheme's life (400 invalid_period)
and may not be still to come (422 period_not_over); asking for a run says whether it made it."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.settlement import api, periods
from services.settlement.documents import render_statement_html
from services.settlement.settings import Settings
from shared import times
from shared.contracts.errors_settlement import InvalidPeriod, PeriodNotOver
from shared.errors import InvalidInput, Refused
from tests import settlement_support as ev

PARIS = Settings()  # the default: Europe/Paris
UTC_OPERATOR = Settings(operator_timezone="UTC")
TODAY = date(2028, 6, 1)
VENUE = "ven_00000000000000000001"


@pytest.fixture
def repo(mongo_config):
    return ev.repository(mongo_config)


def at(text):
    return times.parse(text)


def scheme(repo, coupons=10, **issue):
    api.on_venue_changed(repo, ev.venue(VENUE))
    confirmed = ev.order_confirmed(coupons=coupons)
    api.on_order_confirmed(repo, confirmed)
    issued = ev.booklets_issued(confirmed, **issue)
    api.on_booklets_issued(repo, issued)
    return confirmed, issued


def redeem_at(repo, issued, index, moment):
    event = ev.redeemed(issued, ev.all_coupons(issued)[index : index + 1], VENUE, at(moment))
    api.on_coupons_redeemed(repo, event)
    return event["redemption_id"]


def paid_ids(repo, run):
    return {line["redemption_id"] for line in api.statement(repo, run["id"], VENUE)[1]}


# -- days of the operator's timezone -------------------------------------------------------------
def test_a_day_runs_from_local_midnight_to_local_midnight():
    paris = PARIS.zone
    # summer time (UTC+2): 1 April 2026 begins at 2026-03-31T22:00Z
    assert periods.end_of(date(2026, 3, 31), paris) == at("2026-03-31T22:00:00Z")
    assert periods.start_of(date(2026, 4, 1), paris) == at("2026-03-31T22:00:00Z")
    # winter time (UTC+1): 1 February 2026 begins at 2026-01-31T23:00Z
    assert periods.end_of(date(2026, 1, 31), paris) == at("2026-01-31T23:00:00Z")
    # the day the clocks go forward (29 March 2026) lasts 23 hours, and ends at 22:00Z
    assert periods.end_of(date(2026, 3, 29), paris) - periods.start_of(
        date(2026, 3, 29), paris
    ) == timedelta(hours=23)
    assert periods.local_date(at("2026-03-31T22:30:00Z"), paris) == date(2026, 4, 1)
    assert periods.local_date("2026-03-31T21:59:59Z", paris) == date(2026, 3, 31)
    assert periods.end_of(date(2026, 3, 31), UTC_OPERATOR.zone) == at("2026-04-01T00:00:00Z")
    assert periods.start_of(date(2026, 4, 1), paris).tzinfo is UTC  # instants are UTC


def test_today_is_the_operators_date(monkeypatch):
    monkeypatch.setattr(times, "now", lambda: at("2026-03-31T22:30:00Z"))
    assert periods.today(PARIS.zone) == date(2026, 4, 1)
    assert periods.today(UTC_OPERATOR.zone) == date(2026, 3, 31)


def test_the_timezone_is_a_setting_checked_at_start():
    assert Settings.from_config({}).operator_timezone == "Europe/Paris"
    assert Settings.from_config({"OPERATOR_TIMEZONE": "America/Cayenne"}).zone.key == (
        "America/Cayenne"
    )
    with pytest.raises(ValueError, match="Mars/Olympus"):
        Settings.from_config({"OPERATOR_TIMEZONE": "Mars/Olympus"})


# -- the cut-off: the next local midnight after period_end ---------------------------------------
def test_summer_a_redemption_at_0030_in_paris_on_1_april_is_aprils(repo):
    _, issued = scheme(repo)
    late = redeem_at(repo, issued, 0, "2026-03-31T22:30:00Z")  # 00:30 on 1 April in Paris
    in_time = redeem_at(repo, issued, 1, "2026-03-31T21:59:59Z")  # 23:59:59 on 31 March
    march = api.settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    assert march["cutoff"] == at("2026-03-31T22:00:00Z") and march["timezone"] == "Europe/Paris"
    assert paid_ids(repo, march) == {in_time}
    april = api.settlement_run(repo, PARIS, date(2026, 4, 30), today=TODAY)
    assert paid_ids(repo, april) == {late}


def test_winter_the_cut_off_is_2300_utc(repo):
    _, issued = scheme(repo)
    late = redeem_at(repo, issued, 0, "2026-01-31T23:00:00Z")  # 00:00 on 1 February in Paris
    in_time = redeem_at(repo, issued, 1, "2026-01-31T22:59:59Z")  # 23:59:59 on 31 January
    january = api.settlement_run(repo, PARIS, date(2026, 1, 31), today=TODAY)
    assert january["cutoff"] == at("2026-01-31T23:00:00Z")
    assert paid_ids(repo, january) == {in_time}
    february = api.settlement_run(repo, PARIS, date(2026, 2, 28), today=TODAY)
    assert paid_ids(repo, february) == {late}


def test_an_operator_in_utc_cuts_at_midnight_utc(repo):
    _, issued = scheme(repo)
    redeem_at(repo, issued, 0, "2026-03-31T22:30:00Z")
    redeem_at(repo, issued, 1, "2026-03-31T23:59:59Z")
    redeem_at(repo, issued, 2, "2026-04-01T00:00:00Z")
    march = api.settlement_run(repo, UTC_OPERATOR, date(2026, 3, 31), today=TODAY)
    assert march["totals"]["gross_cents"] == 2000


def test_a_cut_off_may_be_today_in_paris_when_it_is_tomorrow_in_utc(repo, monkeypatch):
    monkeypatch.setattr(times, "now", lambda: at("2026-03-31T22:30:00Z"))  # 1 April in Paris
    assert api.settlement_run(repo, PARIS, date(2026, 4, 1))["status"] == "completed"
    with pytest.raises(PeriodNotOver):
        api.settlement_run(repo, UTC_OPERATOR, date(2026, 4, 1))


# -- expiry as_of: the local midnight as_of begins at --------------------------------------------
def test_expiry_as_of_is_a_local_day(repo):
    # valid until 2027-01-15T22:30Z: its grace month ends 2027-02-15T22:30Z, 23:30 in Paris on
    # 15 February; so it is over when 16 February begins in Paris (2027-02-15T23:00Z)
    scheme(repo, coupons=5, issued_at=at("2026-01-15T22:30:00Z"))
    other = ev.order_confirmed(coupons=5)
    api.on_order_confirmed(repo, other)
    # ...and one whose grace month ends 2027-02-15T23:30Z, 00:30 in Paris on 16 February
    api.on_booklets_issued(repo, ev.booklets_issued(other, issued_at=at("2026-01-15T23:30:00Z")))
    early = api.expiry_run(repo, PARIS, date(2027, 2, 16), today=TODAY)
    assert early["coupon_count"] == 5
    assert early["before"] == at("2027-02-15T23:00:00Z")
    later = api.expiry_run(repo, PARIS, date(2027, 2, 17), today=TODAY)
    assert later["coupon_count"] == 5


def test_expiry_alerts_and_dashboard_months_are_local(repo):
    # valid until 2027-01-14T23:30Z: 00:30 on 15 January in Paris
    confirmed, issued = scheme(repo, coupons=5, issued_at=at("2026-01-14T23:30:00Z"))
    alerts = api.expiry_alerts(repo, confirmed["sponsor_id"], date(2027, 1, 15), PARIS.zone)
    assert [r["valid_until"] for r in alerts["expiring"]] == ["2027-01-15"]
    assert (alerts["as_of"], alerts["until"]) == ("2027-01-15", "2027-02-14")
    in_utc = api.expiry_alerts(repo, confirmed["sponsor_id"], date(2027, 1, 15), UTC_OPERATOR.zone)
    assert in_utc["expiring"] == []  # in UTC it ended on 14 January, before as_of

    redeem_at(repo, issued, 0, "2026-03-31T22:30:00Z")  # April in Paris, March in UTC
    board = api.sponsor_dashboard(repo, confirmed["sponsor_id"], threshold=1, tz=PARIS.zone)
    assert [r["month"] for r in board["by_month"]] == ["2026-04"]
    board = api.sponsor_dashboard(repo, confirmed["sponsor_id"], threshold=1, tz=UTC_OPERATOR.zone)
    assert [r["month"] for r in board["by_month"]] == ["2026-03"]


# -- documents print local dates -------------------------------------------------------------------
def test_a_credit_note_is_dated_and_numbered_in_paris(repo):
    confirmed = ev.order_confirmed(coupons=5)  # never sent: cancelled before its confirmation
    # cancelled at 00:30 on 1 January 2027 in Paris, still 2026 in UTC
    paid = ev.partial_payments(confirmed, sponsor=2000)
    api.on_order_cancelled(
        repo, PARIS, ev.order_cancelled(confirmed, at("2026-12-31T23:30:00Z"), payments=paid)
    )
    (note,), total = api.credit_notes(repo)
    assert total == 1
    assert note["as_of"] == "2027-01-01" and note["reference"].startswith("AV-2027-")
    assert note["issued_at"] == "2026-12-31T23:30:00Z"  # the instant stays ISO UTC text
    assert note["timezone"] == "Europe/Paris"


def test_statement_snapshot_names_its_timezone_and_prints_local_dates(repo):
    _, issued = scheme(repo)
    redeem_at(repo, issued, 0, "2026-03-14T23:30:00Z")  # 00:30 on 15 March in Paris
    run = api.settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    snapshot, lines = api.statement(repo, run["id"], VENUE)
    assert snapshot["timezone"] == "Europe/Paris"
    lines = list(lines)
    assert lines[0]["redeemed_at"] == "2026-03-14T23:30:00Z"  # ISO UTC in the data
    html = render_statement_html(snapshot, lines)
    assert "15/03/2026" in html and "14/03/2026" not in html
    # a snapshot made before the timezone was recorded prints as it did, in UTC
    old = {k: v for k, v in snapshot.items() if k != "timezone"}
    assert "14/03/2026" in render_statement_html(old, lines)


# -- bounds: the scheme's life, and nothing still to come ----------------------------------------
@pytest.mark.parametrize(
    "day", [date(1, 1, 1), date(2019, 12, 31), date(9999, 12, 1), date(9999, 12, 31)]
)
def test_days_outside_the_schemes_life_are_invalid(repo, day):
    for start, field in ((api.settlement_run, "period_end"), (api.expiry_run, "as_of")):
        with pytest.raises(InvalidPeriod) as caught:
            start(repo, PARIS, day, today=date(9999, 12, 31))
        assert isinstance(caught.value, InvalidInput) and caught.value.code == "invalid_period"
        assert caught.value.details == {
            field: day.isoformat(),
            "earliest": "2020-01-01",
            "latest": "9999-11-30",
        }
    with pytest.raises(InvalidPeriod):
        api.expiry_alerts(repo, "spo_00000000000000000001", day, PARIS.zone)
    assert repo.get_run("runs", api.run_id_for(day)) is None


def test_the_schemes_first_and_last_days_are_valid(repo):
    assert api.settlement_run(repo, PARIS, date(2020, 1, 1), today=TODAY)["status"] == "completed"
    assert api.expiry_run(repo, PARIS, date(2020, 1, 1), today=TODAY)["status"] == "completed"
    last = api.expiry_alerts(repo, "spo_00000000000000000001", date(9999, 11, 30), PARIS.zone)
    assert last["until"] == "9999-12-30" and last["expiring"] == []


def test_a_day_still_to_come_is_refused_by_a_business_rule(repo):
    for start, field in ((api.settlement_run, "period_end"), (api.expiry_run, "as_of")):
        with pytest.raises(PeriodNotOver) as caught:
            start(repo, PARIS, date(2026, 4, 1), today=date(2026, 3, 31))
        assert isinstance(caught.value, Refused) and caught.value.code == "period_not_over"
        assert caught.value.details == {field: "2026-04-01", "today": "2026-03-31"}


# -- asking for a run says whether it made it ------------------------------------------------------
def test_a_run_is_created_once_then_answered(repo):
    run, created = api.start_settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    assert created and run["status"] == "completed"
    again, created = api.start_settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    assert not created and again["id"] == run["id"]
    expiry, created = api.start_expiry_run(repo, PARIS, date(2027, 3, 1), today=TODAY)
    assert created and expiry["status"] == "completed"
    assert not api.start_expiry_run(repo, PARIS, date(2027, 3, 1), today=TODAY)[1]


def test_an_interrupted_run_resumed_is_not_created_again(repo):
    _, issued = scheme(repo)
    redeem_at(repo, issued, 0, "2026-03-05T10:00:00Z")
    run, created = repo.create_run(
        "runs",
        {
            "id": api.run_id_for(date(2026, 3, 31)),
            "period_end": "2026-03-31",
            "cutoff": periods.end_of(date(2026, 3, 31), PARIS.zone),
            "status": "claiming",
            "created_at": times.now(),
            "created_by": None,
            "completed_at": None,
            "events_published": False,
            "payouts": [],
            "carried_forward": [],
            "refunds": [],
        },
    )
    assert created  # as if the service had stopped here
    resumed, created = api.start_settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    assert not created and resumed["status"] == "completed"
    assert resumed["totals"]["gross_cents"] == 1000


# -- one convention for time -------------------------------------------------------------------------
def test_dates_are_read_back_aware_in_utc(repo):
    _, issued = scheme(repo)
    rid = redeem_at(repo, issued, 0, "2026-03-05T10:00:00+01:00")
    line = repo.get_payable(rid)
    assert line["redeemed_at"] == datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert line["redeemed_at"].utcoffset() == timedelta(0)
    run = api.settlement_run(repo, PARIS, date(2026, 3, 31), today=TODAY)
    assert run["created_at"].tzinfo is not None and run["cutoff"].tzinfo is not None
    booklet = repo.db.booklets.find_one({"serial": issued["booklets"][0]["serial"]})
    assert booklet["valid_until"] == at(issued["valid_until"])
    assert booklet["valid_until"].tzinfo is not None
