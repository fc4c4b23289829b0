"""Rate limit of anonymous requests on the public routes (the venue search and pages, the map, the
OpenAPI document and the API's page), counted in the gateway's database so that every gateway
process shares the same counts.

``PUBLIC_RATE_LIMIT`` is ``N/S``: at most N anonymous requests from one client address per window of
S seconds (default ``600/60``; ``0`` turns it off). A fixed window: the count of the address's current
window is one upsert with ``$inc`` on a unique index, then one read of it (``shared.mongo
.update_and_get``, no ``find_one_and_update``, which the embedded server runs as a scan); past the
limit, ``429 rate_limited`` with ``Retry-After`` (seconds to the next window). Each window's count
expires by a TTL index. Requests with a key are not counted here (a key is its own identity);
``/health`` is never limited (orchestrators poll it).
"""

import math
from datetime import timedelta

from shared.errors import TooManyAttempts
from shared.mongo import ASCENDING, update_and_get
from shared.times import now

LIMIT_KEY = "PUBLIC_RATE_LIMIT"
DEFAULT_LIMIT = "600/60"
EXEMPT = {"/health"}


def parse_limit(text):
    """``"600/60"`` -> ``(600, 60)``; ``None`` when off (``0``); ValueError if malformed."""
    text = str(text if text not in (None, "") else DEFAULT_LIMIT).strip()
    if text == "0":
        return None
    count, _, seconds = text.partition("/")
    count, seconds = int(count), int(seconds or 60)
    if count < 1 or seconds < 1:
        raise ValueError(f"{LIMIT_KEY} must be N/S with N and S positive, or 0: {text!r}")
    return count, seconds


INDEXES = {
    "rate_limits": [
        ([("key", ASCENDING)], {"unique": True}),
        ([("expires_at", ASCENDING)], {"expireAfterSeconds": 0}),
    ]
}


class RateLimiter:
    def __init__(self, db, limit):
        self.db, self.limit = db, limit

    def hit(self, client, at=None):
        """Count one request of ``client`` in its current window; TooManyAttempts past the
        limit (details: limit, window_seconds, retry_after)."""
        if self.limit is None:
            return
        count, seconds = self.limit
        at = at or now()
        window = math.floor(at.timestamp() / seconds) * seconds
        key = f"{client}|{seconds}|{window}"
        ends = window + seconds
        doc = update_and_get(
            self.db.rate_limits,
            {"key": key},
            {
                "$inc": {"count": 1},
                "$setOnInsert": {"expires_at": at + timedelta(seconds=ends - at.timestamp() + 1)},
            },
            upsert=True,
        )
        if doc["count"] > count:
            retry = max(1, math.ceil(ends - at.timestamp()))
            raise TooManyAttempts(
                f"more than {count} requests in {seconds} s without a key: wait {retry} s",
                details={"limit": count, "window_seconds": seconds, "retry_after": retry},
                code="rate_limited",
            )
