"""Days in the operator's timezone (``OPERATOR_TIMEZONE``, Europe/Paris by default).

Times are instants, aware in UTC (``shared.times``); a *day* of the operator's (a cut-off, an
``as_of``, a date printed on a document) is a date in its timezone, from one local midnight to the
next. A settlement run "up to 2026-03-31" takes what was redeemed before 2026-04-01 00:00 in Paris,
2026-03-31T22:00:00Z in summer time (23:00Z in winter): a redemption at 00:30 in Paris on 1 April
is April's.

"Today" is the operator's date too: at 2026-03-31T22:30:00Z it is already 1 April in Paris.

Days are bounded to the scheme's life: from :data:`FIRST_DAY` (the scheme's first calls for
projects) to :data:`LAST_DAY` (the last day whose computations, the next midnight and 30 days of
alerts, fit in a ``datetime``); outside, :class:`InvalidPeriod` (400). A day not over yet (later
than today, locally) is :class:`PeriodNotOver` (422).
"""

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared import times
from shared.contracts.errors_settlement import InvalidPeriod, PeriodNotOver

DEFAULT_TIMEZONE = "Europe/Paris"
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(9999, 11, 30)


@lru_cache(maxsize=16)
def zone(name):
    """The timezone named ``name`` (an IANA name such as ``Europe/Paris``); ValueError if none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r} (an IANA name, e.g. Europe/Paris)") from exc


def start_of(day, tz):
    """The instant (aware, UTC) ``day`` begins at in ``tz``: its local midnight."""
    return times.aware(datetime.combine(day, time.min, tzinfo=tz))


def end_of(day, tz):
    """The instant (aware, UTC) ``day`` ends at in ``tz``: the next local midnight."""
    return start_of(day + timedelta(days=1), tz)


def local_date(moment, tz):
    """The date in ``tz`` of an instant (aware, or naive UTC); None stays None."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = times.parse(moment)
    return times.aware(moment).astimezone(tz).date()


def today(tz):
    """Today in ``tz``."""
    return local_date(times.now(), tz)


def to_day(value):
    """A date from a date, a datetime (its date) or ISO text (``2026-03-31``)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidPeriod("not a date", details={"value": str(value)}) from None


def check_day(day, field):
    """``day`` if it is within the scheme's life, else :class:`InvalidPeriod` (400)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidPeriod(
            f"{field} must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}",
            details={
                field: day.isoformat(),
                "earliest": FIRST_DAY.isoformat(),
                "latest": LAST_DAY.isoformat(),
            },
        )
    return day


def check_over(day, field, today_, message):
    """``day`` if it is today or before (locally), else :class:`PeriodNotOver` (422)."""
    if day > today_:
        raise PeriodNotOver(message, details={field: day.isoformat(), "today": today_.isoformat()})
    return day


def past_day(value, field, tz, message, today_=None):
    """``value`` as a day of the scheme's life (400 :class:`InvalidPeriod` otherwise) that is
    today or before in ``tz`` (422 :class:`PeriodNotOver` otherwise): a run's day."""
    day = check_day(to_day(value), field)
    return check_over(day, field, today_ or today(tz), message)
