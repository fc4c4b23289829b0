"""The schedule of runs: the previous month's settlement run and today's expiry run, in the
operator's days, each once."""

from datetime import date

from services.settlement import schedule
from services.settlement.settings import Settings
from shared.settings import ConfigSettings


def test_the_previous_month_is_settled_and_today_expired():
    assert schedule.last_month_end(date(2026, 3, 1)) == date(2026, 2, 28)
    assert schedule.last_month_end(date(2028, 3, 15)) == date(2028, 2, 29)  # a leap year
    assert schedule.last_month_end(date(2027, 1, 1)) == date(2026, 12, 31)
    assert schedule.due(date(2026, 12, 2), lambda run_id: False) == [
        ("settlement", date(2026, 11, 30)),
        ("expiry", date(2026, 12, 2)),
    ]


def test_a_completed_run_is_not_due_again():
    done = {"SR-2026-11-30"}
    assert schedule.due(date(2026, 12, 2), done.__contains__) == [("expiry", date(2026, 12, 2))]
    done.add("EXP-2026-12-02")
    assert schedule.due(date(2026, 12, 2), done.__contains__) == []
    assert schedule.due(date(2026, 12, 3), done.__contains__) == [("expiry", date(2026, 12, 3))]


def test_the_schedule_is_off_unless_configured():
    assert Settings.from_config({}).scheduled_runs is False
    for text, on in (("true", True), ("1", True), ("yes", True), ("false", False), ("0", False)):
        assert Settings.from_config({"SCHEDULED_RUNS": text}).scheduled_runs is on, text
    assert Settings.from_config({"SCHEDULED_RUNS": True}).scheduled_runs is True
    assert issubclass(Settings, ConfigSettings)
