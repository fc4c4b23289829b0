"""Settlement's own database.

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

from datetime import UTC, datetime, timedelta

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.settlement.domain import Account
from shared.mongo import ASCENDING, DESCENDING, Repository, update_and_get
from shared.numbering import number_once

_NO_ID = {"_id": 0}
_RELEASED = datetime(1970, 1, 1, tzinfo=UTC)
_BOOKLET_STATE = ("activated_at", "cancelled_at", "expiry_run_id", "valid_until")


class SettlementRepository(Repository):
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

    # -- the journal ----------------------------------------------------------------------------
    def post(self, key, kind, postings, at, ref=None):
        """Write one balanced entry under ``key``; False if that key was already written.

        An upsert that only inserts: it never fails on the normal path, so it can run in a
        transaction (a concurrent one writing the same key is a write conflict, retried)."""
        entry = {
            "kind": kind,
            "at": at,
            "ref": ref or {},
            "postings": [
                {"account": str(p.account), "sub": p.sub, "amount_cents": p.amount_cents}
                | ({"order_id": p.order_id} if p.order_id else {})
                for p in postings
                if p.amount_cents
            ],
        }
        try:
            result = self.db.entries.update_one({"key": key}, {"$setOnInsert": entry}, upsert=True)
        except DuplicateKeyError:  # outside a transaction, a concurrent upsert won
            return False
        return result.upserted_id is not None

    def has_entry(self, key):
        return self.db.entries.count_documents({"key": key}, limit=1) > 0

    def account_balances(self, account=None):
        """``{(account, sub): balance}`` summed over the whole journal (debits positive)."""
        pipeline = [{"$unwind": "$postings"}]
        if account is not None:
            pipeline.append({"$match": {"postings.account": str(account)}})
        pipeline.append(
            {
                "$group": {
                    "_id": {"account": "$postings.account", "sub": "$postings.sub"},
                    "balance": {"$sum": "$postings.amount_cents"},
                    "debits": {
                        "$sum": {
                            "$cond": [
                                {"$gt": ["$postings.amount_cents", 0]},
                                "$postings.amount_cents",
                                0,
                            ]
                        }
                    },
                }
            }
        )
        return {
            (row["_id"]["account"], row["_id"]["sub"]): (row["balance"], row["debits"])
            for row in self.db.entries.aggregate(pipeline)
        }

    def entry_count(self):
        return self.db.entries.estimated_document_count()

    # -- orders, booklets, coupons, venues (from events) ----------------------------------------
    def get_order(self, order_id):
        return self.db.orders.find_one({"order_id": order_id}, _NO_ID)

    def confirm_order(self, order):
        """Record a confirmed order unless it is known as cancelled; the stored order (its
        ``status`` says which won: ``confirmed``, or ``cancelled`` when the cancellation was
        honoured first). A document made before (``coupons_known`` only) is completed."""
        while True:
            known = self.get_order(order["order_id"])
            if known is None:
                try:
                    inserted = self.db.orders.update_one(
                        {"order_id": order["order_id"]},
                        {"$setOnInsert": {**order, "status": "confirmed"}},
                        upsert=True,
                    )
                except DuplicateKeyError:
                    continue  # created meanwhile: read it again
                if inserted.upserted_id is not None:
                    return self.get_order(order["order_id"])
                continue
            if known.get("status") is not None:
                return known
            if self.db.orders.update_one(
                {"order_id": order["order_id"], "status": {"$exists": False}},
                {"$set": {**order, "status": "confirmed"}},
            ).matched_count:
                return self.get_order(order["order_id"])

    def cancel_order(self, order_id, fields_):
        """Honour an order's cancellation unless settlement knows it was confirmed.

        ``(outcome, order)``: ``"cancelled"`` (honoured now; ``order`` as it was before, None if
        unknown), ``"again"`` (honoured before: a redelivery) or ``"refused"`` (the order is
        known confirmed, or coupons of it were heard of: only a confirmed order is issued; the
        refusal is recorded once on the order, ``cancel_refused_at``). One conditional update on
        the order's status and ``coupons_known``, so that a redemption booked at the same time
        (which sets ``coupons_known`` in its transaction) and a cancellation never both pass."""
        while True:
            before = self.get_order(order_id)
            if before is None:
                try:
                    self.db.orders.insert_one(
                        {"order_id": order_id, "status": "cancelled", **fields_}
                    )
                    return "cancelled", None
                except DuplicateKeyError:
                    continue  # created meanwhile: read it again
            if before.get("status") == "cancelled":
                return "again", before
            if before.get("status") == "confirmed" or before.get("coupons_known"):
                reason = "confirmed" if before.get("status") == "confirmed" else "coupons_known"
                self.record_anomaly(
                    order_id,
                    "cancel_refused_at",
                    fields_.get("cancelled_at"),
                    {"cancel_refused_reason": reason},
                )
                return "refused", self.get_order(order_id)
            guard = {
                "order_id": order_id,
                "status": {"$exists": False},
                "coupons_known": {"$ne": True},
            }
            if self.db.orders.update_one(
                guard, {"$set": {"status": "cancelled", **fields_}}
            ).matched_count:
                return "cancelled", before

    def note_coupons_of(self, order_id):
        """Say that coupons of the order exist (a booklet issued, handed out or cancelled, a
        redemption): the order was confirmed, so a cancellation is refused from now on. The
        order (None if unknown until now). Writes only when the flag is not set yet (one
        upsert that only inserts, or one conditional update): safe in a transaction, and two
        redemptions of a known order do not conflict."""
        known = self.get_order(order_id)
        if known is None:
            try:
                self.db.orders.update_one(
                    {"order_id": order_id},
                    {"$setOnInsert": {"coupons_known": True}},
                    upsert=True,
                )
            except DuplicateKeyError:  # outside a transaction, a concurrent upsert won
                pass
            return self.get_order(order_id)
        if not known.get("coupons_known"):
            self.db.orders.update_one(
                {"order_id": order_id, "coupons_known": {"$ne": True}},
                {"$set": {"coupons_known": True}},
            )
        return known

    def record_anomaly(self, order_id, field, at, extra=None):
        """Record once on the order that an event was refused (``field``: when), for the
        operator (``anomaly: true`` lists it)."""
        self.db.orders.update_one(
            {"order_id": order_id, field: {"$exists": False}},
            {"$set": {field: at, "anomaly": True, **(extra or {})}},
        )

    def anomalous_orders(self, limit=100):
        return list(self.db.orders.find({"anomaly": True}, _NO_ID).limit(limit))

    def disputed_payables(self, limit=100):
        return list(
            self.db.payables.find({"status": "disputed"}, _NO_ID)
            .sort([("status", ASCENDING), ("redeemed_at", ASCENDING)])
            .limit(limit)
        )

    def add_booklets(self, booklets, coupons):
        """Insert or complete booklets and coupons (a coupon already redeemed keeps its status,
        a booklet already activated keeps its validity)."""
        if booklets:
            try:
                self.db.booklets.insert_many([dict(b) for b in booklets], ordered=False)
            except BulkWriteError:  # some were known (activated or cancelled first)
                for b in booklets:
                    facts = {k: v for k, v in b.items() if k not in _BOOKLET_STATE}
                    self.db.booklets.update_one({"serial": b["serial"]}, {"$set": facts})
                self.db.booklets.update_many(
                    {"serial": {"$in": [b["serial"] for b in booklets]}, "activated_at": None},
                    {"$set": {"valid_until": booklets[0]["valid_until"]}},
                )
        if coupons:
            try:
                self.db.coupons.insert_many(
                    [{**c, "status": "outstanding"} for c in coupons], ordered=False
                )
            except BulkWriteError:  # some were redeemed before this event arrived
                for c in coupons:
                    self.db.coupons.update_one({"serial": c["serial"]}, {"$set": c})

    def activate_booklet(self, serial, fields_):
        self.db.booklets.update_one({"serial": serial}, {"$set": fields_}, upsert=True)

    def cancel_booklet(self, serial, fields_):
        self.db.booklets.update_one(
            {"serial": serial, "cancelled_at": None}, {"$set": fields_}, upsert=False
        )
        self.db.booklets.update_one({"serial": serial}, {"$setOnInsert": fields_}, upsert=True)

    def mark_redeemed(self, serials, redemption_id, coupons_by_serial):
        """Mark coupons redeemed by ``redemption_id``; the serials that could not be (already
        expired, or redeemed by another redemption)."""
        refused = []
        redeemed = {"$set": {"status": "redeemed", "redemption_id": redemption_id}}
        for serial in serials:
            # outstanding, or already ours (a redelivery): two queries, each on the serial's
            # index (SecantusDB scans the collection for a top-level ``$or``)
            if self.db.coupons.update_one(
                {"serial": serial, "status": "outstanding"}, redeemed
            ).matched_count:
                continue
            if self.db.coupons.update_one(
                {"serial": serial, "redemption_id": redemption_id}, redeemed
            ).matched_count:
                continue
            # unknown so far (the issuing event is late): insert it redeemed; known, it is
            # no longer outstanding (an upsert, not an insert that would fail on the key)
            inserted = self.db.coupons.update_one(
                {"serial": serial},
                {
                    "$setOnInsert": {
                        **{k: v for k, v in coupons_by_serial[serial].items() if k != "serial"},
                        "status": "redeemed",
                        "redemption_id": redemption_id,
                    }
                },
                upsert=True,
            )
            if inserted.upserted_id is None:
                refused.append(serial)
        return refused

    def release_coupons(self, redemption_id):
        """Coupons of a voided (or disputed) redemption are outstanding again; their booklets
        are looked at again by the next expiry run (they may be past validity or cancelled)."""
        booklets = self.db.coupons.distinct("booklet_serial", {"redemption_id": redemption_id})
        if booklets:
            self.db.booklets.update_many(
                {"serial": {"$in": booklets}}, {"$set": {"expiry_run_id": None}}
            )
        self.db.coupons.update_many(
            {"redemption_id": redemption_id, "status": "redeemed"},
            {"$set": {"status": "outstanding"}, "$unset": {"redemption_id": ""}},
        )

    def save_venue_if_newer(self, venue):
        try:
            self.db.venues.update_one(
                {"venue_id": venue["venue_id"], "version": {"$lt": venue["version"]}},
                {"$set": venue},
                upsert=True,
            )
        except DuplicateKeyError:
            pass  # a newer version is already there

    def get_venue(self, venue_id):
        return self.db.venues.find_one({"venue_id": venue_id}, _NO_ID)

    # -- payables (what venues are owed) --------------------------------------------------------
    def add_payable(self, item):
        """Insert a payable line; if a void arrived first (or this is a redelivery), complete
        it and keep its status. True if it was inserted. One upsert."""
        kept = ("status", "run_id")
        result = self.db.payables.update_one(
            {"id": item["id"]},
            {
                "$setOnInsert": {k: item[k] for k in kept if k in item},
                "$set": {k: v for k, v in item.items() if k not in kept and k != "id"},
            },
            upsert=True,
        )
        return result.upserted_id is not None

    def get_payable(self, item_id):
        return self.db.payables.find_one({"id": item_id}, _NO_ID)

    def void_payable(self, redemption_id, fields_):
        """Open (or waiting) -> voided; or create it voided when the redemption has not arrived
        yet. The line as it was before (None if created)."""
        while True:
            before = self.db.payables.find_one({"id": redemption_id}, _NO_ID)
            if before is None:
                created = self.db.payables.update_one(
                    {"id": redemption_id},
                    {
                        "$setOnInsert": {
                            "redemption_id": redemption_id,
                            "status": "voided",
                            **fields_,
                        }
                    },
                    upsert=True,
                )
                if created.upserted_id is not None:
                    return None
                continue  # the redemption arrived meanwhile: read it again
            if before["status"] not in ("open", "waiting"):
                return before
            guard = {"id": redemption_id, "status": before["status"]}
            if self.db.payables.update_one(
                guard, {"$set": {"status": "voided", **fields_}}
            ).matched_count:
                return before

    def refuse_void(self, redemption_id, at):
        """Record once on a paid line that its void was refused (``void_refused_at``), for the
        operator (``anomaly: true`` lists it)."""
        self.db.payables.update_one(
            {"id": redemption_id, "void_refused_at": {"$exists": False}},
            {"$set": {"void_refused_at": at, "anomaly": True}},
        )

    def anomalous_payables(self, limit=100):
        return list(self.db.payables.find({"anomaly": True}, _NO_ID).limit(limit))

    def refused_voids_open(self, venue_id):
        """A venue's open lines whose void was refused (their run carried the venue forward):
        read on the sparse ``anomaly`` index."""
        return list(
            self.db.payables.find(
                {"anomaly": True, "venue_id": venue_id, "status": "open"}, {"_id": 0, "id": 1}
            )
        )

    def waiting_payables(self, order_id=None):
        """Lines waiting for their orders' confirmation (of ``order_id``, or all): few, read on
        the ``(status, redeemed_at)`` index."""
        query = {"status": "waiting"}
        if order_id is not None:
            query["waiting_orders"] = order_id
        return list(self.db.payables.find(query, {"_id": 0, "id": 1}))

    def open_waiting(self, redemption_id):
        """Waiting -> open (its orders are confirmed: the next run pays it). True if it was
        waiting."""
        return bool(
            self.db.payables.update_one(
                {"id": redemption_id, "status": "waiting"},
                {"$set": {"status": "open"}, "$unset": {"waiting_orders": ""}},
            ).matched_count
        )

    def note_waiting(self, order_ids):
        """Say on each order, not yet confirmed, that a redemption waits for it: a write on the
        order's document in the redemption's transaction, so that a confirmation written at the
        same time conflicts with it (one of the two is retried and sees the other) and the
        confirmation never misses a line that waits for it."""
        for order_id in order_ids:
            self.db.orders.update_one(
                {"order_id": order_id, "status": {"$exists": False}},
                {"$inc": {"redemptions_waiting": 1}},
            )

    def claim_payables(self, run_id, cutoff):
        """Every open line redeemed before ``cutoff`` now belongs to the run."""
        return self.db.payables.update_many(
            {"status": "open", "redeemed_at": {"$lt": cutoff}},
            {"$set": {"status": "settled", "run_id": run_id}},
        ).modified_count

    def run_payables(self, run_id, venue_id=None):
        """A run's lines sorted by venue then date (a stream: never all in memory)."""
        query = {"run_id": run_id}
        if venue_id is not None:
            query["venue_id"] = venue_id
        return self.db.payables.find(query, _NO_ID).sort(
            [("run_id", ASCENDING), ("venue_id", ASCENDING), ("redeemed_at", ASCENDING)]
        )

    def release_payables(self, run_id, venue_id):
        """Give a venue's lines back (carried forward to the next run)."""
        self.db.payables.update_many(
            {"run_id": run_id, "venue_id": venue_id},
            {"$set": {"status": "open", "run_id": None}},
        )

    def run_redemption_ids(self, run_id):
        for doc in self.db.payables.find(
            {"run_id": run_id, "kind": "redemption"}, {"_id": 0, "redemption_id": 1}
        ).sort([("run_id", ASCENDING), ("venue_id", ASCENDING), ("redeemed_at", ASCENDING)]):
            yield doc["redemption_id"]

    # -- refunds (what funders are owed) --------------------------------------------------------
    def add_refunds(self, refunds):
        for refund in refunds:
            try:
                self.db.refunds.insert_one(dict(refund))
            except DuplicateKeyError:
                pass

    def claim_refunds(self, run_id):
        """Every open refund with bank details now belongs to the run."""
        return self.db.refunds.update_many(
            {"status": "open", "iban": {"$ne": None}},
            {"$set": {"status": "settled", "run_id": run_id}},
        ).modified_count

    def run_refunds(self, run_id):
        return self.db.refunds.find({"run_id": run_id}, _NO_ID).sort(
            [("run_id", ASCENDING), ("funder_id", ASCENDING)]
        )

    def open_refunds(self):
        return list(self.db.refunds.find({"status": "open"}, _NO_ID))

    # -- expiry ---------------------------------------------------------------------------------
    def booklets_to_expire(self, before):
        """Booklets not yet expired whose validity ended before ``before`` or that were
        cancelled (a stream)."""
        yield from self.db.booklets.find(
            {"expiry_run_id": None, "valid_until": {"$lt": before}}, _NO_ID
        )
        yield from self.db.booklets.find(
            {"expiry_run_id": None, "cancelled_at": {"$ne": None}}, _NO_ID
        )

    def expire_booklet(self, serial, run_id, reason):
        """Expire the booklet's outstanding coupons, then mark the booklet done (a crash in
        between only repeats the first, harmless, step)."""
        self.db.coupons.update_many(
            {"booklet_serial": serial, "status": "outstanding"},
            {"$set": {"status": "expired", "expiry_run_id": run_id, "expiry_reason": reason}},
        )
        self.db.booklets.update_one(
            {"serial": serial, "expiry_run_id": None}, {"$set": {"expiry_run_id": run_id}}
        )

    def expired_by_order(self, run_id):
        """``[{order_id, face_value_cents, coupons, cancelled}]`` of an expiry run."""
        rows = self.db.coupons.aggregate(
            [
                {"$match": {"expiry_run_id": run_id}},
                {
                    "$group": {
                        "_id": "$order_id",
                        "face": {"$sum": "$face_value_cents"},
                        "coupons": {"$sum": 1},
                        "cancelled": {
                            "$sum": {"$cond": [{"$eq": ["$expiry_reason", "cancelled"]}, 1, 0]}
                        },
                    }
                },
            ]
        )
        return sorted(
            (
                {
                    "order_id": r["_id"],
                    "face_value_cents": r["face"],
                    "coupons": r["coupons"],
                    "cancelled": r["cancelled"],
                }
                for r in rows
            ),
            key=lambda r: r["order_id"],
        )

    def expired_serials_of_order(self, run_id, order_id):
        """The serials of an order's coupons an expiry run expired, sorted."""
        return sorted(
            doc["serial"]
            for doc in self.db.coupons.find(
                {"expiry_run_id": run_id, "order_id": order_id}, {"_id": 0, "serial": 1}
            )
        )

    def expired_serials(self, run_id):
        for doc in self.db.coupons.find({"expiry_run_id": run_id}, {"_id": 0, "serial": 1}).sort(
            [("expiry_run_id", ASCENDING), ("order_id", ASCENDING)]
        ):
            yield doc["serial"]

    def sponsor_booklets(self, sponsor_id, start, end):
        return list(
            self.db.booklets.find(
                {"sponsor_id": sponsor_id, "valid_until": {"$gte": start, "$lt": end}}, _NO_ID
            ).sort([("sponsor_id", ASCENDING), ("valid_until", ASCENDING)])
        )

    # -- the sponsor's dashboard ----------------------------------------------------------------
    def booklets_of_sponsor(self, sponsor_id):
        return self.db.booklets.find(
            {"sponsor_id": sponsor_id},
            {
                "_id": 0,
                "serial": 1,
                "activated_at": 1,
                "cancelled_at": 1,
                "coupon_count": 1,
                "profile": 1,
                "issued_at": 1,
            },
        )

    def coupon_counts_of_sponsor(self, sponsor_id):
        """``{status: (count, face value)}`` of the sponsor's coupons."""
        rows = self.db.coupons.aggregate(
            [
                {"$match": {"sponsor_id": sponsor_id}},
                {
                    "$group": {
                        "_id": "$status",
                        "count": {"$sum": 1},
                        "face": {"$sum": "$face_value_cents"},
                    }
                },
            ]
        )
        return {row["_id"]: (row["count"], row["face"]) for row in rows}

    def redeemed_coupons_of_sponsor(self, sponsor_id):
        return self.db.coupons.find(
            {"sponsor_id": sponsor_id, "status": "redeemed"},
            {"_id": 0, "booklet_serial": 1, "redemption_id": 1},
        )

    def expired_coupons_of_sponsor(self, sponsor_id):
        return self.db.coupons.find(
            {"sponsor_id": sponsor_id, "status": "expired"}, {"_id": 0, "booklet_serial": 1}
        )

    def payables_by_ids(self, ids):
        return self.db.payables.find(
            {"id": {"$in": list(ids)}},
            {"_id": 0, "id": 1, "venue_id": 1, "category": 1, "redeemed_at": 1},
        )

    def venues_by_ids(self, ids):
        return self.db.venues.find({"venue_id": {"$in": list(ids)}}, _NO_ID)

    def booklet_redeemed_count(self, serial):
        return self.db.coupons.count_documents({"booklet_serial": serial, "status": "redeemed"})

    # -- the cooperation fund -------------------------------------------------------------------
    def add_fund_contribution(self, contribution):
        """Once per order (its id is the order's)."""
        try:
            self.db.fund_contributions.insert_one(
                {**contribution, "status": "open", "run_id": None}
            )
        except DuplicateKeyError:
            pass

    def claim_fund_contributions(self, run_id):
        """Every open contribution is stated by the run."""
        return self.db.fund_contributions.update_many(
            {"status": "open"}, {"$set": {"status": "stated", "run_id": run_id}}
        ).modified_count

    def pay_fund_contributions(self, run_id):
        """Every stated contribution not yet transferred (this run's and those of earlier runs
        made while no fund account was configured) is transferred by the run."""
        return self.db.fund_contributions.update_many(
            {"status": "stated"}, {"$set": {"status": "paid", "paid_run_id": run_id}}
        ).modified_count

    def fund_sums(self, field, value):
        """``{department: {"amount_cents", "order_fee_cents", "face_value_cents", "orders"}}``
        of the contributions whose ``field`` (``run_id``, ``paid_run_id`` or ``status``) is
        ``value``."""
        rows = self.db.fund_contributions.aggregate(
            [
                {"$match": {field: value}},
                {
                    "$group": {
                        "_id": "$department",
                        "amount": {"$sum": "$amount_cents"},
                        "order_fee": {"$sum": "$order_fee_cents"},
                        "face": {"$sum": "$face_value_cents"},
                        "orders": {"$sum": 1},
                    }
                },
            ]
        )
        return {
            row["_id"]: {
                "amount_cents": row["amount"],
                "order_fee_cents": row["order_fee"],
                "face_value_cents": row["face"],
                "orders": row["orders"],
            }
            for row in rows
        }

    def run_fund_contributions(self, run_id, department):
        """A run's contributions of one department, by date of confirmation (a stream)."""
        return self.db.fund_contributions.find(
            {"run_id": run_id, "department": department}, _NO_ID
        ).sort([("run_id", ASCENDING), ("department", ASCENDING), ("confirmed_at", ASCENDING)])

    # -- the ledger's invariants ----------------------------------------------------------------
    def unbalanced_entries(self, limit=100):
        """Entries whose postings do not sum to zero: ``[{key, amount_cents}]``. Every entry
        is read (no index can say which entries sum to zero)."""
        return [
            {"entry_key": row["key"], "amount_cents": row["total"]}
            for row in self.db.entries.aggregate(
                [
                    {
                        "$project": {
                            "_id": 0,
                            "key": 1,
                            # $reduce, not $sum of "$postings.amount_cents": SecantusDB does
                            # not read a path through an array of documents in $project
                            "total": {
                                "$reduce": {
                                    "input": "$postings",
                                    "initialValue": 0,
                                    "in": {"$add": ["$$value", "$$this.amount_cents"]},
                                }
                            },
                        }
                    },
                    {"$match": {"total": {"$ne": 0}}},
                    {"$limit": limit},
                ]
            )
        ]

    def money_by_order(self, limit=100):
        """Orders whose money out exceeds money in, from the postings that name an order
        (``entries`` on ``postings.order_id``): ``[{order_id, money_in_cents,
        money_out_cents, refunds_cents, venues_cents}]``.

        Money in: bank debits. Refunds: owed or paid, whichever is more (refund payable credits
        when owed, debits when paid: a refund paid twice counts twice). Venues: the face value
        of the order's coupons that venues are owed (redemptions less voids) or were paid
        (payouts less clawbacks owed back), whichever is more. A payout counts at face value
        (gross), the venue's net plus the 4 % the operator keeps: a bound stricter than the
        net, which is rounded once per statement over many orders' coupons.

        Two groupings: the postings per (order, account, kind of entry), plain sums (the one
        pass over the journal); then those few rows per order."""

        def when(condition):
            return {"$sum": {"$cond": [condition, "$amount", 0]}}

        def account_is(account):
            return {"$eq": ["$_id.account", str(account)]}

        def kind_in(*kinds):
            return {"$in": ["$_id.kind", list(kinds)]}

        negated = {"$multiply": [-1, "$amount"]}
        venues = {"$or": [account_is(Account.VENUE_PAYABLE), account_is(Account.VENUE_RECEIVABLE)]}
        pipeline = [
            {"$match": {"postings.order_id": {"$exists": True}}},
            {"$unwind": "$postings"},
            {
                "$group": {
                    "_id": {
                        "order_id": "$postings.order_id",
                        "account": "$postings.account",
                        "kind": "$kind",
                    },
                    "amount": {"$sum": "$postings.amount_cents"},
                }
            },
            {"$match": {"_id.order_id": {"$nin": [None, ""]}}},
            {
                "$group": {
                    "_id": "$_id.order_id",
                    "in": when({"$and": [account_is(Account.BANK), {"$gt": ["$amount", 0]}]}),
                    "refunds_owed": {
                        "$sum": {
                            "$cond": [
                                {
                                    "$and": [
                                        account_is(Account.REFUND_PAYABLE),
                                        {"$not": [kind_in("refund_paid")]},
                                    ]
                                },
                                negated,
                                0,
                            ]
                        }
                    },
                    "refunds_paid": when(
                        {"$and": [account_is(Account.REFUND_PAYABLE), kind_in("refund_paid")]}
                    ),
                    # redemptions (payable credited) less voids (payable or receivable debited)
                    "venues_owed": {
                        "$sum": {
                            "$cond": [
                                {
                                    "$and": [
                                        venues,
                                        kind_in("coupons_redeemed", "redemption_voided"),
                                    ]
                                },
                                negated,
                                0,
                            ]
                        }
                    },
                    # payouts (payable debited)...
                    "venues_paid": when(
                        {"$and": [account_is(Account.VENUE_PAYABLE), kind_in("payout")]}
                    ),
                    # ...less clawbacks owed back (receivable debited by a void after a run)
                    "venues_owed_back": when(
                        {
                            "$and": [
                                account_is(Account.VENUE_RECEIVABLE),
                                kind_in("redemption_voided"),
                            ]
                        }
                    ),
                }
            },
            {
                "$project": {
                    "in": 1,
                    "refunds": {"$max": ["$refunds_owed", "$refunds_paid"]},
                    "venues": {
                        "$max": [
                            "$venues_owed",
                            {"$subtract": ["$venues_paid", "$venues_owed_back"]},
                        ]
                    },
                }
            },
            {"$match": {"$expr": {"$gt": [{"$add": ["$refunds", "$venues"]}, "$in"]}}},
            {"$sort": {"_id": 1}},
            {"$limit": limit},
        ]
        return [
            {
                "order_id": row["_id"],
                "money_in_cents": row["in"],
                "money_out_cents": row["refunds"] + row["venues"],
                "refunds_cents": row["refunds"],
                "venues_cents": row["venues"],
            }
            for row in self.db.entries.aggregate(pipeline, allowDiskUse=True)
        ]

    def coupons_paid_more_than_once(self, limit=100):
        """Coupons whose face value the journal pays out more than once: to venues (redemption
        entries less void entries) and back to funders (expiry entries), from the serials the
        entries name (``entries`` on ``kind``): ``[{serial, to_venues, refunded}]``.

        The store groups the entries by serial and keeps the serials named by two entries or
        more (a coupon named once cannot be paid twice); their kinds are counted here."""
        pipeline = [
            {
                "$match": {
                    "kind": {"$in": ["coupons_redeemed", "redemption_voided", "coupons_expired"]}
                }
            },
            {"$unwind": "$ref.serials"},
            {"$group": {"_id": "$ref.serials", "kinds": {"$push": "$kind"}}},
            {"$match": {"kinds.1": {"$exists": True}}},
            {"$sort": {"_id": 1}},
        ]
        found = []
        for row in self.db.entries.aggregate(pipeline, allowDiskUse=True):
            kinds = row["kinds"]
            to_venues = kinds.count("coupons_redeemed") - kinds.count("redemption_voided")
            refunded = kinds.count("coupons_expired")
            if to_venues > 1 or refunded > 1 or (to_venues > 0 and refunded > 0):
                found.append({"serial": row["_id"], "to_venues": to_venues, "refunded": refunded})
                if len(found) >= limit:
                    break
        return found

    # -- runs -----------------------------------------------------------------------------------
    def create_run(self, collection, run):
        """``(the run with run['id'], whether this call created it)``: created from ``run`` if
        new. One upsert that only inserts, then a read by id."""
        try:
            result = self.db[collection].update_one(
                {"id": run["id"]}, {"$setOnInsert": run}, upsert=True
            )
            created = result.upserted_id is not None
        except DuplicateKeyError:  # a concurrent upsert of the same run won
            created = False
        return self.get_run(collection, run["id"]), created

    def get_run(self, collection, run_id):
        return self.db[collection].find_one({"id": run_id}, _NO_ID)

    def update_run(self, collection, run_id, changes, expected_status=None):
        query = {"id": run_id}
        if expected_status is not None:
            query["status"] = expected_status
        return update_and_get(self.db[collection], query, {"$set": changes})

    def list_runs(self, collection, key, limit=50, offset=0):
        """A page of runs, newest first, without their payouts: ``(runs, total)``."""
        total = self.db[collection].count_documents({})
        runs = list(
            self.db[collection]
            .find({}, {"_id": 0, "payouts": 0})
            .sort(key, DESCENDING)
            .skip(offset)
            .limit(limit)
        )
        return runs, total

    def unpublished_runs(self, collection):
        return list(
            self.db[collection].find(
                {"status": "completed", "events_published": False}, {"_id": 0, "id": 1}
            )
        )

    # -- documents: sequential references per kind and year, snapshots never rewritten ----------
    def issue_document(self, kind, prefix, key, year, snapshot_fn):
        """The document ``(kind, key)``: the one already issued, or a new one numbered next in
        the year, its snapshot made by ``snapshot_fn(reference)`` (``shared.numbering``: unique
        indexes make numbers continuous and unique; a lost race tries the next number)."""

        def make(number):
            reference = f"{prefix}-{year}-{number:06d}"
            return {
                "kind": kind,
                "key": key,
                "year": year,
                "number": number,
                "reference": reference,
                "snapshot": snapshot_fn(reference),
            }

        return number_once(
            self.db.documents, {"kind": kind, "key": key}, {"kind": kind, "year": year}, make
        )

    def get_document(self, kind, key):
        return self.db.documents.find_one({"kind": kind, "key": key}, _NO_ID)

    def documents(self, kind, funder_id=None, venue_id=None, limit=50, offset=0):
        """A page of the documents of ``kind`` (of a funder, of a venue), newest first:
        ``(documents, total)``."""
        query = {"kind": kind}
        if funder_id is not None:
            query["snapshot.funder.funder_id"] = funder_id
        if venue_id is not None:
            query["snapshot.venue.venue_id"] = venue_id
        total = self.db.documents.count_documents(query)
        found = list(
            self.db.documents.find(query, _NO_ID)
            .sort([("kind", ASCENDING), ("year", DESCENDING), ("number", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return found, total

    def get_document_by_reference(self, reference):
        return self.db.documents.find_one({"reference": reference}, _NO_ID)

    # -- one run at a time ----------------------------------------------------------------------
    def acquire_lock(self, name, holder, now, ttl_seconds):
        """Take the lock ``name`` unless somebody else holds it and has not timed out."""
        try:
            doc = update_and_get(
                self.db.locks,
                {"name": name, "$or": [{"holder": holder}, {"until": {"$lt": now}}]},
                {"$set": {"holder": holder, "until": now + timedelta(seconds=ttl_seconds)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return doc is not None and doc["holder"] == holder

    def release_lock(self, name, holder):
        self.db.locks.update_one(
            {"name": name, "holder": holder}, {"$set": {"holder": None, "until": _RELEASED}}
        )
