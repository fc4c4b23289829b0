"""Settlement's own database: :class:`SettlementRepository`, one part per module of this package
(``journal``: the journal and its invariants; ``events``: what events told us; ``money``: payables,
refunds, the fund; ``booklets``: expiry and the sponsor's dashboard; ``runs``: runs, documents, the
lock), its collections and indexes here.

- ``entries``: the journal (double entry, immutable). Each entry has a unique ``key`` (its
  idempotency key: the event or the run step that wrote it), so writing it twice writes nothing.
  Balances are sums over the journal: nothing else holds money.
- ``orders``, ``booklets``, ``coupons``, ``venues``: what events told us.
- ``payables``: one line per redemption (and per void of a paid redemption, a clawback), open
  until a settlement run takes it; ``refunds``: what is owed back to a funder, open until paid.
- ``runs`` / ``expiry_runs``: the runs, resumable step by step; ``documents``: sequential yearly
  references and the snapshot of every document (never rewritten).
- ``locks``: one run at a time.
- ``fund_contributions``: 1 % of each confirmed order's face value, per department, until a
  run states it (``stated``, ``run_id``) and, when the fund's account is configured, transfers
  it (``paid``, ``paid_run_id``).

An order's document also says what settlement knows that bears on its money: ``status``
(``confirmed`` or ``cancelled``, the first that arrived wins), ``coupons_known`` (a booklet,
coupon or redemption of it was heard of: it was confirmed, whatever arrives later), and the
events it refused (``cancel_refused_at``, ``confirm_refused_at``, ``issued_after_cancel_at``,
with ``anomaly: true`` for the operator).

Dates are BSON dates, read back aware in UTC (``TZ_AWARE``, ``shared.times``).

The writes of ``redemption.coupons_redeemed`` and ``redemption_voided`` (``mark_redeemed``,
``add_payable``, ``void_payable``, ``release_coupons``, ``post``) run in one transaction each
(``api``): they are upserts (``$setOnInsert``) and conditional updates, never an insert that may
fail on a duplicate key, since inside a transaction any failed write aborts it all.
"""

from services.settlement.store.booklets import BookletStore
from services.settlement.store.events import EventStore
from services.settlement.store.journal import JournalStore
from services.settlement.store.money import MoneyStore
from services.settlement.store.runs import RunStore
from shared.mongo import ASCENDING, DESCENDING, Repository


class SettlementRepository(
    JournalStore, EventStore, MoneyStore, BookletStore, RunStore, Repository
):
    """Settlement's store, one part per concern (this package's modules); its indexes here."""

    TZ_AWARE = True

    INDEXES = {
        "entries": [
            ([("key", ASCENDING)], {"unique": True}),
            ([("kind", ASCENDING)], {}),
            ([("postings.order_id", ASCENDING)], {"sparse": True}),
        ],
        "orders": [
            ([("order_id", ASCENDING)], {"unique": True}),
            ([("anomaly", ASCENDING)], {"sparse": True}),
        ],
        "booklets": [
            ([("serial", ASCENDING)], {"unique": True}),
            ([("expiry_run_id", ASCENDING), ("valid_until", ASCENDING)], {}),
            ([("expiry_run_id", ASCENDING), ("cancelled_at", ASCENDING)], {}),
            ([("sponsor_id", ASCENDING), ("valid_until", ASCENDING)], {}),
        ],
        "coupons": [
            ([("serial", ASCENDING)], {"unique": True}),
            ([("booklet_serial", ASCENDING), ("status", ASCENDING)], {}),
            ([("expiry_run_id", ASCENDING), ("order_id", ASCENDING)], {}),
            ([("redemption_id", ASCENDING)], {"sparse": True}),
            ([("sponsor_id", ASCENDING), ("status", ASCENDING)], {}),
        ],
        "venues": [([("venue_id", ASCENDING)], {"unique": True})],
        "payables": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("status", ASCENDING), ("redeemed_at", ASCENDING)], {}),
            ([("run_id", ASCENDING), ("venue_id", ASCENDING), ("redeemed_at", ASCENDING)], {}),
            ([("anomaly", ASCENDING)], {"sparse": True}),
        ],
        "refunds": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("status", ASCENDING), ("funder_id", ASCENDING)], {}),
            ([("run_id", ASCENDING), ("funder_id", ASCENDING)], {}),
        ],
        "runs": [([("id", ASCENDING)], {"unique": True}), ([("period_end", DESCENDING)], {})],
        "expiry_runs": [([("id", ASCENDING)], {"unique": True}), ([("as_of", DESCENDING)], {})],
        "documents": [
            ([("kind", ASCENDING), ("year", ASCENDING), ("number", ASCENDING)], {"unique": True}),
            ([("kind", ASCENDING), ("key", ASCENDING)], {"unique": True}),
            ([("reference", ASCENDING)], {"unique": True}),
            ([("kind", ASCENDING), ("snapshot.funder.funder_id", ASCENDING)], {}),
            ([("kind", ASCENDING), ("snapshot.venue.venue_id", ASCENDING)], {}),
        ],
        "locks": [([("name", ASCENDING)], {"unique": True})],
        "fund_contributions": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("status", ASCENDING), ("department", ASCENDING)], {}),
            ([("run_id", ASCENDING), ("department", ASCENDING), ("confirmed_at", ASCENDING)], {}),
            ([("paid_run_id", ASCENDING), ("department", ASCENDING)], {"sparse": True}),
        ],
    }

    def ping(self):
        return bool(self.db.command("ping").get("ok"))
