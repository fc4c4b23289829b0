"""One convention for time, in every service.

- In Python: ``datetime`` aware of its zone, in UTC (``now()``, ``parse()``); never naive.
- In the database: BSON dates (what a ``datetime`` becomes), read back aware (the client is made
  with ``tz_aware=True``); never ISO text, so that the server compares, sorts and expires (TTL)
  them.
- On the wire (events, RPC, HTTP): ISO 8601 text in UTC with a ``Z`` (``iso()``), read with
  ``parse()``, which also takes an offset (``+02:00``) and reads text without one as UTC.

Times are kept to the millisecond, as BSON dates are.
"""

from datetime import UTC, datetime

__all__ = ["UTC", "aware", "iso", "now", "parse"]


def now():
    """Now, aware, in UTC, to the millisecond."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def aware(value):
    """``value`` in UTC and aware of it (a naive value is taken as UTC); None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse(text):
    """ISO 8601 text (``Z``, an offset, or none meaning UTC) -> aware UTC datetime."""
    return aware(datetime.fromisoformat(text.replace("Z", "+00:00")))


def iso(value):
    """ISO 8601 UTC text with a ``Z``; None stays None."""
    if value is None:
        return None
    return aware(value).isoformat().replace("+00:00", "Z")
