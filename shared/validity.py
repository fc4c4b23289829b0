"""Coupons' validity rules shared by the services that apply them (redemption, settlement).

Validity is one year from activation (or issuance for a booklet never handed out), an instant in
UTC (``shared.times``). After it a **grace month** lets venues submit coupons they accepted in
time; settlement expires a coupon only once its grace month is over, so that it never refunds a
coupon redemption may still accept.
"""

import calendar

__all__ = ["add_month", "grace_until"]


def add_month(moment):
    """The same day and time one calendar month later (last day of the month if needed)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def grace_until(valid_until):
    """When the grace month after ``valid_until`` ends (late submissions refused from then)."""
    return add_month(valid_until)
