"""Scheduled runs: the monthly settlement run for the previous month and the daily expiry run,
both in the operator's timezone (Europe/Paris by default).

The service's timer asks :func:`due` every few minutes, when ``SCHEDULED_RUNS`` is on. Several
instances may ask at once: a run is idempotent (its id is its day) and one run at a time holds
the run lock, so a run made by one instance is found done by the others, never made twice."""

from datetime import date, timedelta

from services.settlement.expiry import expiry_run_id_for
from services.settlement.runs import run_id_for


def last_month_end(today):
    """The last day of the month before ``today``'s."""
    return date(today.year, today.month, 1) - timedelta(days=1)


def due(today, is_completed):
    """The runs to make on ``today`` (a local day): ``[(kind, day), ...]``, the settlement run
    first. ``is_completed(run_id)`` says whether a run already completed.

    - settlement: the previous month, cut off at its last day, once that month is over;
    - expiry: ``as_of`` today, once a day (coupons whose validity ended before today)."""
    wanted = [("settlement", last_month_end(today)), ("expiry", today)]
    ids = {"settlement": run_id_for, "expiry": expiry_run_id_for}
    return [(kind, day) for kind, day in wanted if not is_completed(ids[kind](day))]
