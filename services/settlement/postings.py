"""What several of settlement's jobs use: who a funder is, a refund item, the journal entries of a
redemption and of its void, and the booking of redemptions that waited for their order's money.

Used by the event intake (``ingest``, ``redemptions``), the settlement runs (``runs``) and the
expiry runs (``expiry``)."""

from services.settlement import domain
from services.settlement.domain import PayableStatus, RefundStatus


def state_id():
    return "state"


def sponsor_funder_id(sponsor_id):
    return f"sponsor:{sponsor_id}"


def _funder(item):
    return {
        "funder_id": item["funder_id"],
        "name": item["name"],
        "kind": "state" if item["funder_id"] == state_id() else "sponsor",
        "iban": item["iban"],
    }


def refund_item(settings, item_id, funder, amount, at, **info):
    if funder == state_id():
        name, iban, bic = settings.state_name, settings.state_iban, settings.state_bic
    else:
        name, iban, bic = info.get("sponsor_name"), info.get("sponsor_iban"), None
    return {
        "id": item_id,
        "funder_id": funder,
        "name": name,
        "iban": iban,
        "bic": bic,
        "amount_cents": amount,
        "order_id": info.get("order_id"),
        "expiry_run_id": info.get("expiry_run_id"),
        "reason": info["reason"],
        "created_at": at,
        "status": RefundStatus.OPEN,
        "run_id": None,
    }


def _line_by_order(line, sign=1):
    """``{order_id: face value}`` of a payable line (its ``orders``)."""
    return {o["order_id"]: sign * o["amount_cents"] for o in line.get("orders") or ()}


def _post_redemption(repo, line):
    """The redemption's entry ``redeemed:<id>``: per order, coupon liability to the venue."""
    repo.post(
        f"redeemed:{line['redemption_id']}",
        "coupons_redeemed",
        domain.redemption_postings(line["amount_cents"], line["venue_id"], _line_by_order(line)),
        line["redeemed_at"],
        {
            "redemption_id": line["redemption_id"],
            "venue_id": line["venue_id"],
            "serials": line["serials"],
        },
    )


def _post_void(repo, line, at):
    """The void's entry ``voided:<id>``, the reverse of the redemption's (never after a run
    paid it: that void is refused)."""
    repo.post(
        f"voided:{line['redemption_id']}",
        "redemption_voided",
        domain.void_postings(line["amount_cents"], line["venue_id"], _line_by_order(line)),
        at,
        {
            "redemption_id": line["redemption_id"],
            "venue_id": line["venue_id"],
            "serials": line["serials"],
        },
    )


def book_waiting(repo, order_id=None):
    """Book the redemptions that waited for their orders' confirmation (of ``order_id``, or all
    of them): each whose orders are all confirmed now is opened (paid by the next run) and its
    entry written, in one transaction each. The number booked."""
    booked = 0
    for line in repo.waiting_payables(order_id):
        booked += repo.in_transaction(lambda tx, rid=line["id"]: _book_waiting(tx, rid))
    return booked


def _book_waiting(repo, rid):
    line = repo.get_payable(rid)
    if line is None or line["status"] != PayableStatus.WAITING:
        return 0
    for order_id in _line_by_order(line):
        if (repo.get_order(order_id) or {}).get("status") != "confirmed":
            return 0
    if not repo.open_waiting(rid):
        return 0
    _post_redemption(repo, line)
    return 1
