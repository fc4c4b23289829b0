"""What events told settlement: orders, booklets, coupons, venues.

A part of :class:`SettlementRepository` (``services/settlement/store/__init__.py``)."""

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.settlement.store.base import NO_ID
from shared.mongo import ASCENDING

# what a booklet's later events say (activated, cancelled, expired, its validity): kept when a
# redelivered or late booklets_issued arrives after them
BOOKLET_STATE = ("activated_at", "cancelled_at", "expiry_run_id", "valid_until")


class EventStore:
    # -- orders, booklets, coupons, venues (from events) ----------------------------------------
    def get_order(self, order_id):
        return self.db.orders.find_one({"order_id": order_id}, NO_ID)

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
        return list(self.db.orders.find({"anomaly": True}, NO_ID).limit(limit))

    def disputed_payables(self, limit=100):
        return list(
            self.db.payables.find({"status": "disputed"}, NO_ID)
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
                    facts = {k: v for k, v in b.items() if k not in BOOKLET_STATE}
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
        return self.db.venues.find_one({"venue_id": venue_id}, NO_ID)
