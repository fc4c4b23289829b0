"""The desk's basket: the coupons typed or scanned, read from the form, and each one's outcome.
Plain functions over the form's fields (``serial_<i>``, ``code_<i>``, ``rows``)."""

import uuid
from dataclasses import dataclass

from shared import serials

MAX_ROWS = 20  # the most coupons one redemption takes


@dataclass
class Line:
    """One row of the basket as typed, and what the platform said of it."""

    index: int
    serial: str
    code: str
    outcome: str | None = None  # "ok", or a refusal code of the redemption service
    face_value_cents: int | None = None

    @property
    def filled(self):
        return bool(self.serial or self.code)

    def key(self):
        """The serial as the platform writes it (spaces and dashes dropped), to match answers."""
        try:
            return serials.coupon_serial(serials.parse_coupon_serial(self.serial))
        except (ValueError, serials.InvalidSerial):
            return serials.normalize(self.serial)


def read_lines(form):
    """Every row of the form (blank ones too, so that the page keeps its shape)."""
    try:
        rows = int(form.get("rows") or 1)
    except ValueError:
        rows = 1
    rows = max(1, min(rows, MAX_ROWS))
    return [
        Line(
            i,
            (form.get(f"serial_{i}") or "").strip()[:40],
            (form.get(f"code_{i}") or "").strip()[:40],
        )
        for i in range(rows)
    ]


def blank_lines(count=2):
    return [Line(i, "", "") for i in range(count)]


def new_idempotency_key():
    """Made when the form is drawn: a double tap or a retry sends the same one."""
    return "web-" + uuid.uuid4().hex


def well_formed_key(value):
    return (
        isinstance(value, str)
        and 8 <= len(value) <= 100
        and all(c.isalnum() or c in "_.:-" for c in value)
    )
