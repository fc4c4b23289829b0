"""The money invariants of issue 10, read from settlement's ledger.

:func:`read` takes one snapshot of settlement's database: the journal (every entry, every
posting), the balance exactly as ``GET /ledger/balance`` computes it (``api.ledger_balance``),
the payable lines and the coupons. Each ``check_*`` function states one invariant over it,
computed here from the journal and the lines (not trusting the service's own arithmetic), and
raises ``AssertionError`` naming the invariant and the numbers; :func:`check_ledger_says_so`
then requires the ledger's own report (its ``invariants``, when it has them) to agree.

``issued``: ``{serial: {"order_id", "face_value_cents"}}``, what issuance published
(``booklets_issued``): which order each coupon belongs to, from the service that made it.

Nothing is excused: every check holds after every step, whatever the order of events.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from services.settlement import api

# accounts that hold what the operator owes: never a debit balance (a "negative" liability)
OWED_ACCOUNTS = {"coupon_liability", "venue_payable", "refund_payable", "cooperation_fund"}
# accounts that hold what is owed to the operator (a venue's clawbacks): never a credit balance
OWING_ACCOUNTS = {"venue_receivable"}


@dataclass
class Snapshot:
    entries: list
    balance: dict
    payables: list
    coupons: dict  # serial -> settlement's coupon, those expired (refunded)
    issued: dict = field(default_factory=dict)  # serial -> issuance's coupon (the machine's)

    def coupon(self, serial):
        return self.issued.get(serial) or self.coupons.get(serial) or {}

    def order_of(self, serial):
        return self.coupon(serial).get("order_id")

    def face_of(self, serial):
        return self.coupon(serial).get("face_value_cents", 0)


def read(repo, issued=None, full=True, expired=True):
    """One read of settlement's database (nothing runs concurrently in the machine).

    ``full``: with the balance exactly as ``GET /ledger/balance`` computes it (its accounts and
    its own invariants); else without it (``balance`` empty): the checks here read the journal
    and the lines themselves, and the balance's eight round trips are spared. ``expired``: read
    the expired coupons (False: no expiry run ran, there are none)."""
    return Snapshot(
        entries=list(repo.db.entries.find({}, {"_id": 0})),
        balance=api.ledger_balance(repo) if full else {},
        payables=list(repo.db.payables.find({}, {"_id": 0})),
        coupons={
            c["serial"]: c
            for c in (repo.db.coupons.find({"status": "expired"}, {"_id": 0}) if expired else ())
        },
        issued=dict(issued or {}),
    )


def _fail(invariant, message, **numbers):
    details = ", ".join(f"{k}={v!r}" for k, v in numbers.items())
    raise AssertionError(f"[{invariant}] {message}" + (f" ({details})" if details else ""))


# -- reading the journal ---------------------------------------------------------------------------
def balances(snap):
    """``{(account, sub): balance}`` summed from the journal here (debits positive)."""
    totals = defaultdict(int)
    for entry in snap.entries:
        for p in entry["postings"]:
            totals[(p["account"], p.get("sub") or "")] += p["amount_cents"]
    return totals


def by_order(snap, entry, posting):
    """``{order_id: cents}`` of one posting: its own ``order_id``, else its entry's, else (a
    redemption or a void written before postings named orders) split over the orders of the
    coupons the entry is for, at face value."""
    order_id = posting.get("order_id") or (entry.get("ref") or {}).get("order_id")
    if order_id:
        return {order_id: posting["amount_cents"]}
    ref = entry.get("ref") or {}
    serials = ref.get("serials")
    if not serials and ref.get("redemption_id"):
        line = next((p for p in snap.payables if p.get("id") == ref["redemption_id"]), {})
        serials = line.get("serials", ())
    faces = defaultdict(int)
    for serial in serials or ():
        faces[snap.order_of(serial)] += snap.face_of(serial)
    total = sum(faces.values())
    if not total or total != abs(posting["amount_cents"]):
        return {None: posting["amount_cents"]}
    sign = 1 if posting["amount_cents"] > 0 else -1
    return {order_id: sign * cents for order_id, cents in faces.items()}


@dataclass
class Orders:
    """Per order, from the journal."""

    money_in: Counter = field(default_factory=Counter)  # bank debits: received for it
    refunds: Counter = field(default_factory=Counter)  # refund payable credits: owed back
    liability: Counter = field(default_factory=Counter)  # its coupon liability (credit < 0)
    expired: Counter = field(default_factory=Counter)  # (order, expiry run) -> face refunded
    confirmed: set = field(default_factory=set)
    cancelled: set = field(default_factory=set)


def orders_of(snap):
    orders = Orders()
    for entry in snap.entries:
        ref = entry.get("ref") or {}
        if entry["kind"] == "order_confirmed":
            orders.confirmed.add(ref.get("order_id"))
        if entry["kind"] == "order_cancelled":
            orders.cancelled.add(ref.get("order_id"))
        for p in entry["postings"]:
            for order_id, cents in by_order(snap, entry, p).items():
                if p["account"] == "bank" and cents > 0:
                    orders.money_in[order_id] += cents
                if p["account"] == "refund_payable" and cents < 0:
                    orders.refunds[order_id] -= cents
                if p["account"] == "coupon_liability":
                    orders.liability[order_id] += cents
                    if entry["kind"] == "coupons_expired":
                        orders.expired[(order_id, ref.get("expiry_run_id"))] += cents
    return orders


def venue_counts(snap):
    """Per coupon: ``(paid, owed, clawbacks open)``: how many times its face value was paid to a
    venue (lines settled by a run, less clawbacks settled); is owed or paid to one (lines open or
    settled, less clawbacks open or settled); clawbacks not yet recovered. Voided and disputed
    lines moved no money."""
    paid, owed, open_clawbacks = Counter(), Counter(), Counter()
    for line in snap.payables:
        kind, status = line.get("kind"), line.get("status")
        if status not in ("open", "settled") or kind not in ("redemption", "clawback"):
            continue
        sign = 1 if kind == "redemption" else -1
        for serial in line.get("serials", ()):
            owed[serial] += sign
            if status == "settled":
                paid[serial] += sign
            elif kind == "clawback":
                open_clawbacks[serial] += 1
    return paid, owed, open_clawbacks


# -- 1. the journal ------------------------------------------------------------------------------
def check_journal(snap):
    """Every entry sums to zero, hence the whole journal, and (read with it) the balance's
    accounts are the journal's sums: money in = money out + what is held + the operator's
    income."""
    for entry in snap.entries:
        amount = sum(p["amount_cents"] for p in entry["postings"])
        if amount:
            _fail("journal", "an entry does not sum to zero", key=entry["key"], sum=amount)
    if not snap.balance:
        return  # read without the balance: nothing to compare with
    mine = {key: cents for key, cents in balances(snap).items() if cents}
    theirs = {
        (row["account"], row["sub"] or ""): row["balance_cents"]
        for row in snap.balance["accounts"]
        if row["balance_cents"]
    }
    if mine != theirs:
        diff = {k: (mine.get(k), theirs.get(k)) for k in mine.keys() | theirs.keys()}
        _fail(
            "journal",
            "the balance's accounts are not the journal's sums",
            diff={k: v for k, v in diff.items() if v[0] != v[1]},
        )


# -- 2. nothing owed is negative -------------------------------------------------------------------
def check_no_negative_liability(snap):
    """No liability or payable account has a debit balance (nor any order's coupon liability),
    no receivable a credit balance, and the bank never paid out more than it received."""
    orders = orders_of(snap)
    for (account, sub), balance in sorted(balances(snap).items()):
        if account in OWED_ACCOUNTS and balance > 0:
            _fail(
                "no_negative_liability",
                f"{account}[{sub}] is negative (a debit balance)",
                balance_cents=balance,
            )
        if account in OWING_ACCOUNTS and balance < 0:
            _fail("no_negative_liability", f"{account}[{sub}] has a credit balance", cents=balance)
    for order_id in sorted(orders.liability, key=str):
        if orders.liability[order_id] > 0:
            _fail(
                "no_negative_liability",
                f"order {order_id}: its coupon liability is negative",
                balance_cents=orders.liability[order_id],
                confirmed=order_id in orders.confirmed,
            )
    bank = sum(cents for (account, _), cents in balances(snap).items() if account == "bank")
    if bank < 0:
        _fail("no_negative_liability", "the bank paid out more than it received", bank=bank)


# -- 3. per order ---------------------------------------------------------------------------------
def check_order_money(snap):
    """Per order: money out (refunds + what venues were paid, or are owed, for its coupons, at
    face value) never exceeds money in."""
    paid, owed, _ = venue_counts(snap)
    orders = orders_of(snap)
    to_venues = defaultdict(lambda: [0, 0])  # order -> [paid, owed]
    for serial in paid.keys() | owed.keys():
        row = to_venues[snap.order_of(serial)]
        face = snap.face_of(serial)
        row[0] += face * paid[serial]
        row[1] += face * owed[serial]
    for order_id in sorted(orders.money_in.keys() | to_venues.keys(), key=str):
        money_in, refunds = orders.money_in[order_id], orders.refunds[order_id]
        for what, out in zip(("paid", "owed"), to_venues[order_id], strict=True):
            if refunds + out > money_in:
                _fail(
                    "order_money",
                    f"order {order_id}: refunds + venues {what} exceed money in",
                    money_in=money_in,
                    refunds=refunds,
                    **{f"venues_{what}": out},
                )


# -- 4. per coupon ---------------------------------------------------------------------------------
def check_coupon_paid_once(snap):
    """Each coupon's face value leaves at most once: to one venue, or back to its funders,
    never both. Each expiry run's refund of an order is the face value of the coupons it
    expired (a coupon refunded is a coupon expired, and the other way round)."""
    paid, owed, open_clawbacks = venue_counts(snap)
    orders = orders_of(snap)
    expired = Counter()
    for coupon in snap.coupons.values():
        if coupon.get("status") == "expired":
            key = (coupon.get("order_id"), coupon.get("expiry_run_id"))
            expired[key] += coupon.get("face_value_cents", 0)
    for key in sorted(expired.keys() | orders.expired.keys(), key=str):
        if orders.expired[key] == expired[key]:
            continue
        _fail(
            "coupon_paid_once",
            f"order {key[0]}, expiry run {key[1]}: the journal refunds other than it expired",
            journal=orders.expired[key],
            coupons=expired[key],
        )
    for serial in sorted(paid.keys() | owed.keys()):
        if paid[serial] > 1 or owed[serial] > 1 or open_clawbacks[serial]:
            _fail(
                "coupon_paid_once",
                f"coupon {serial} is paid to venues more than once (or clawed back)",
                paid=paid[serial],
                owed=owed[serial],
                clawbacks_open=open_clawbacks[serial],
            )
        if paid[serial] < 0 or owed[serial] < 0:
            _fail(
                "coupon_paid_once",
                f"coupon {serial} is clawed back more often than paid",
                paid=paid[serial],
                owed=owed[serial],
            )
        status = snap.coupons.get(serial, {}).get("status")
        refunded = status == "expired" or snap.order_of(serial) in orders.cancelled
        if refunded and (paid[serial] or owed[serial]):
            _fail(
                "coupon_paid_once",
                f"coupon {serial} is both paid to a venue and refunded to its funders",
                paid=paid[serial],
                owed=owed[serial],
                status=status,
            )


# -- 5. the ledger's own report agrees ---------------------------------------------------------------
def check_ledger_says_so(snap):
    """``GET /ledger/balance`` reports its invariants (when it has them): each holds."""
    for invariant in snap.balance.get("invariants", ()):
        if not invariant["holds"]:
            _fail(
                "ledger_says_so",
                f"the ledger reports {invariant['name']} violated",
                violations=invariant["violations"],
            )


CHECKS = {
    "journal": check_journal,
    "no_negative_liability": check_no_negative_liability,
    "order_money": check_order_money,
    "coupon_paid_once": check_coupon_paid_once,
    "ledger_says_so": check_ledger_says_so,
}


def money_moves(snap):
    """What moved money in this snapshot, per kind (hypothesis targets: runs that pay venues,
    refund funders, claw back, dispute, are worth more than runs that do nothing)."""
    kinds = Counter(entry["kind"] for entry in snap.entries)
    lines = Counter((line.get("kind"), line.get("status")) for line in snap.payables)
    clawbacks = sum(n for (kind, _), n in lines.items() if kind == "clawback")
    return {
        "payouts": float(kinds["payout"]),
        "expiry refunds": float(kinds["coupons_expired"]),
        "cancellation refunds": float(kinds["order_cancelled"]),
        "refunds paid": float(kinds["refund_paid"]),
        "voids": float(kinds["redemption_voided"] + 3 * clawbacks),
        "disputes": float(sum(n for (_, status), n in lines.items() if status == "disputed")),
        "kinds of movement": float(len(kinds) + len(lines)),
    }
