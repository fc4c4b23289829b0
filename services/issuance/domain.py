"""Issuance rules: serial blocks, the booklets of an order, validity, the booklet lifecycle.

Plain Python, no I/O: every function takes and returns plain data (the documents of the store).
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.contracts.errors_issuance import (
    BookletExpired,
    BookletHandedOut,
    InvalidBookletTransition,
    NotYours,
)
from shared.history import history_entry
from shared.serials import booklet_serial, coupon_serial
from shared.times import aware, iso

BATCH_BOOKLETS = 250  # booklets per ``issuance.booklets_issued`` event (~300 KB for 10-coupon ones)
COUPONS = "coupons"  # the two serial sequences
BOOKLETS = "booklets"


class IssueStatus(StrEnum):
    """Where the issuance of one order stands; each step is idempotent and resumable."""

    RECEIVED = "received"  # order_confirmed recorded; serial blocks not yet allocated
    ALLOCATED = "allocated"  # serial blocks recorded on the issue: a retry reuses them (no gap)
    CREATED = "created"  # every booklet is stored; events not yet all published
    PUBLISHED = "published"  # every batch of booklets_issued was dispatched: done


class BookletStatus(StrEnum):
    ISSUED = "issued"  # printed (serials and codes exist), still at the operator's
    DISPATCHED = "dispatched"  # sent by the operator to its sponsor
    ASSIGNED = "assigned"  # handed by the sponsor to one of its distributors
    ACTIVATED = "activated"  # handed to a beneficiary: validity starts (one year)
    CANCELLED = "cancelled"  # lost, stolen or blocked: its coupons are refused


class Action(StrEnum):
    DISPATCH = "dispatch"
    ASSIGN = "assign"
    ACTIVATE = "activate"
    CANCEL = "cancel"
    BLOCK = "block"  # its sponsor withdraws a booklet not yet handed out (before it expires)


_FROM = {
    Action.DISPATCH: {BookletStatus.ISSUED},
    # assigned -> assigned: the sponsor moves a booklet to another of its distributors
    Action.ASSIGN: {BookletStatus.DISPATCHED, BookletStatus.ASSIGNED},
    Action.ACTIVATE: {BookletStatus.ASSIGNED},
    Action.CANCEL: {
        BookletStatus.ISSUED,
        BookletStatus.DISPATCHED,
        BookletStatus.ASSIGNED,
        BookletStatus.ACTIVATED,
    },
    Action.BLOCK: {BookletStatus.ISSUED, BookletStatus.DISPATCHED, BookletStatus.ASSIGNED},
}
_TO = {
    Action.DISPATCH: BookletStatus.DISPATCHED,
    Action.ASSIGN: BookletStatus.ASSIGNED,
    Action.ACTIVATE: BookletStatus.ACTIVATED,
    Action.CANCEL: BookletStatus.CANCELLED,
    Action.BLOCK: BookletStatus.CANCELLED,
}


def blockable():
    """The statuses of a booklet its sponsor may still block (not yet handed out)."""
    return _FROM[Action.BLOCK]


def next_status(current, action):
    """The status ``action`` leads to from ``current``, or ``invalid_booklet_transition``."""
    current, action = BookletStatus(current), Action(action)
    if current not in _FROM[action]:
        raise InvalidBookletTransition(
            f"cannot {action.value} a booklet that is {current.value}",
            details={"status": current.value, "action": action.value},
        )
    return _TO[action]


# -- serial blocks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """Sequence numbers ``first`` to ``last`` (inclusive) of one sequence, given to one order."""

    first: int
    last: int

    @property
    def size(self):
        return self.last - self.first + 1


def next_block(last_allocated, size):
    """The block after a sequence's last allocated number (0 when none): no gap, no overlap."""
    if size < 1:
        raise ValueError("a block holds at least one number")
    return Block(last_allocated + 1, last_allocated + size)


def order_needs(lines):
    """``(booklets, coupons)`` an order's lines need."""
    booklets = sum(line["quantity"] for line in lines)
    coupons = sum(line["quantity"] * line["coupons_per_booklet"] for line in lines)
    return booklets, coupons


def plan_booklets(lines, booklet_block, coupon_block):
    """The booklets of an order, in line order, laid out on its two blocks.

    Booklet ``i`` of the order gets booklet sequence ``booklet_block.first + i``; its coupons are
    the next ``coupons_per_booklet`` numbers of the coupon block, so the coupons of a booklet are
    contiguous and the order's coupons fill its block exactly."""
    booklets, coupons = order_needs(lines)
    if (booklets, coupons) != (booklet_block.size, coupon_block.size):
        raise ValueError("the blocks do not fit the order's lines")
    planned = []
    booklet_seq, coupon_seq = booklet_block.first, coupon_block.first
    for line in sorted(lines, key=lambda item: item["line_no"]):
        per_booklet = line["coupons_per_booklet"]
        for _ in range(line["quantity"]):
            planned.append(
                {
                    "serial": booklet_serial(booklet_seq),
                    "sequence": booklet_seq,
                    "line_no": line["line_no"],
                    "coupons_per_booklet": per_booklet,
                    "face_value_cents": line["face_value_cents"],
                    "first_coupon": coupon_seq,
                    "last_coupon": coupon_seq + per_booklet - 1,
                    "coupon_serials": [
                        coupon_serial(seq) for seq in range(coupon_seq, coupon_seq + per_booklet)
                    ],
                }
            )
            booklet_seq += 1
            coupon_seq += per_booklet
    return planned


def batches(items, size=BATCH_BOOKLETS):
    """``items`` cut in consecutive batches of at most ``size`` (at least one batch)."""
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


# -- validity -----------------------------------------------------------------------------------
def one_year_after(moment):
    """The same day and time one year later (29 February -> 1 March): the end of validity,
    exclusive. ``moment`` is an aware UTC datetime: the day is the day in UTC."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + 1, month=3, day=1)


def require_valid(booklet, at):
    """A booklet never activated is valid one year from issuance: past that, its coupons are
    expired (and refunded by settlement), so it can no longer be activated. ``at`` and the
    booklet's ``valid_until`` are UTC datetimes (aware, or naive as a plain client reads them)."""
    if aware(at) >= aware(booklet["valid_until"]):
        raise BookletExpired(details={"valid_until": iso(booklet["valid_until"])})


# -- who may see and act ------------------------------------------------------------------------
def require_operator(actor):
    if actor["role"] != "operator":
        raise NotYours("only the operator does this")


def require_sponsor_or_operator(actor, sponsor_id):
    """Operators act on every booklet; a sponsor on its own only (403 ``not_yours``)."""
    if actor["role"] == "operator":
        return
    if actor["role"] != "sponsor" or actor.get("subject_id") != sponsor_id:
        raise NotYours("this belongs to another sponsor")


# A booklet's codes may be printed again by its sponsor only while the sponsor still holds it;
# once assigned to a distributor or handed to a beneficiary, the codes are the holder's alone.
SPONSOR_MAY_PRINT = {BookletStatus.ISSUED, BookletStatus.DISPATCHED}


def require_may_print(actor, booklet):
    """The operator prints any booklet; its sponsor only one not yet handed out."""
    require_sponsor_or_operator(actor, booklet["sponsor_id"])
    if actor["role"] != "operator" and booklet["status"] not in SPONSOR_MAY_PRINT:
        raise BookletHandedOut(details={"serial": booklet["serial"], "status": booklet["status"]})


def print_entry(booklet_status, actor, at):
    """The audit entry of a print file made: who obtained the codes, when (no change of status)."""
    return history_entry(booklet_status, booklet_status, actor, at, reason="print file")


def require_viewer(actor, booklet):
    """Who may read a booklet: the operator, its sponsor, the distributor it is assigned to."""
    if actor["role"] == "distributor":
        if actor.get("subject_id") != booklet.get("distributor_id"):
            raise NotYours("this booklet is not assigned to you")
        return
    require_sponsor_or_operator(actor, booklet["sponsor_id"])


def require_distributor_viewer(actor, distributor):
    """Who may list a distributor's booklets: the operator, its sponsor, the distributor itself."""
    if actor["role"] == "distributor":
        if actor.get("subject_id") != distributor["distributor_id"]:
            raise NotYours("these booklets are assigned to another distributor")
        return
    require_sponsor_or_operator(actor, distributor["sponsor_id"])


def require_assigned_distributor(actor, booklet):
    """Only the distributor a booklet is assigned to hands it to a beneficiary."""
    if actor["role"] != "distributor" or actor.get("subject_id") != booklet.get("distributor_id"):
        raise NotYours("this booklet is not assigned to you")


def require_own_sponsor(actor, booklet):
    """Only the booklet's own sponsor hands it to a distributor."""
    if actor["role"] != "sponsor" or actor.get("subject_id") != booklet["sponsor_id"]:
        raise NotYours("this booklet belongs to another sponsor")
