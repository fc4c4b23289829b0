"""Redemption's own database, fed by events: coupons, booklets, orders' rules, venues; and its
redemptions, brute-force windows and locks. Every hot query reads one document by a unique key."""

from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.redemption.domain import CouponStatus, RedemptionStatus
from shared.mongo import ASCENDING, DESCENDING, Repository, update_and_get
from shared.outbox import OUTBOX_FIELD

_NO_ID = {"_id": 0, OUTBOX_FIELD: 0}


class RedemptionRepository(Repository):
    INDEXES = {
        "coupons": [
            ([("serial", ASCENDING)], {"unique": True}),
            ([("redemption_id", ASCENDING)], {"sparse": True}),
        ],
        "booklets": [([("serial", ASCENDING)], {"unique": True})],
        "orders": [([("order_id", ASCENDING)], {"unique": True})],
        "venues": [([("venue_id", ASCENDING)], {"unique": True})],
        "redemptions": [
            ([("id", ASCENDING)], {"unique": True}),
            ([("venue_id", ASCENDING), ("idempotency_key", ASCENDING)], {"unique": True}),
            ([("venue_id", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("status", ASCENDING), ("created_at", ASCENDING)], {}),
            ([("created_at", ASCENDING)], {}),
        ],
        "attempts": [([("key", ASCENDING)], {"unique": True})],
        "locks": [
            ([("venue_id", ASCENDING), ("locked_until", DESCENDING)], {}),
            ([("locked_until", DESCENDING)], {}),
        ],
    }

    # -- what events tell us ------------------------------------------------------------------
    def add_coupons(self, coupons):
        """Insert coupons not yet known (a redelivered event inserts nothing)."""
        if not coupons:
            return 0
        try:
            return len(self.db.coupons.insert_many(coupons, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            return exc.details.get("nInserted", 0)

    def upsert_booklet(self, serial, on_insert, changes=None):
        """Create the booklet if unknown (``on_insert``), apply ``changes`` either way."""
        update = {"$setOnInsert": {"serial": serial, **on_insert}}
        if changes:
            update["$set"] = changes
            for key in changes:
                update["$setOnInsert"].pop(key, None)
        self.db.booklets.update_one({"serial": serial}, update, upsert=True)

    def upsert_order(self, order):
        self.db.orders.update_one({"order_id": order["order_id"]}, {"$set": order}, upsert=True)

    def save_venue_if_newer(self, venue):
        """Keep the venue snapshot with the highest version (older or repeated ones are ignored)."""
        result = self.db.venues.update_one(
            {"venue_id": venue["venue_id"], "version": {"$lt": venue["version"]}}, {"$set": venue}
        )
        if result.matched_count == 0:
            try:
                self.db.venues.insert_one(dict(venue))
            except DuplicateKeyError:
                pass  # a newer (or the same) version is already here

    def settle(self, redemption_ids, run_id, at):
        result = self.db.redemptions.update_many(
            {"id": {"$in": redemption_ids}, "status": RedemptionStatus.ACCEPTED},
            {
                "$set": {"status": RedemptionStatus.SETTLED, "settled_at": at, "run_id": run_id},
                "$push": {
                    "history": {
                        "from": "accepted",
                        "to": "settled",
                        "at": at.isoformat() + "Z",
                        "by": {"role": "system", "label": f"settlement run {run_id}"},
                        "reason": None,
                    }
                },
            },
        )
        return result.modified_count

    def expire(self, serials):
        result = self.db.coupons.update_many(
            {"serial": {"$in": serials}, "status": CouponStatus.USABLE},
            {"$set": {"status": CouponStatus.EXPIRED}},
        )
        return result.modified_count

    # -- reads --------------------------------------------------------------------------------
    def coupon(self, serial):
        return self.db.coupons.find_one({"serial": serial}, {"_id": 0})

    def booklet(self, serial):
        return self.db.booklets.find_one({"serial": serial}, {"_id": 0})

    def order(self, order_id):
        return self.db.orders.find_one({"order_id": order_id}, {"_id": 0})

    def coupons(self, serials):
        """Several coupons in one query (``$in`` on the unique serial)."""
        return self._by_keys("coupons", "serial", serials)

    def booklets(self, serials):
        return self._by_keys("booklets", "serial", serials)

    def orders(self, order_ids):
        return self._by_keys("orders", "order_id", order_ids)

    def _by_keys(self, collection, key, values):
        values = list(values)
        if len(values) == 1:  # one key: the plain lookup
            found = self.db[collection].find_one({key: values[0]}, {"_id": 0})
            return [found] if found else []
        return list(self.db[collection].find({key: {"$in": values}}, {"_id": 0}))

    def venue(self, venue_id):
        return self.db.venues.find_one({"venue_id": venue_id}, {"_id": 0})

    def redemption(self, redemption_id):
        return self.db.redemptions.find_one({"id": redemption_id}, _NO_ID)

    def redemption_by_key(self, venue_id, key):
        return self.db.redemptions.find_one({"venue_id": venue_id, "idempotency_key": key}, _NO_ID)

    def list_redemptions(self, venue_id=None, start=None, end=None, limit=500):
        query = {}
        if venue_id:
            query["venue_id"] = venue_id
        if start or end:
            query["created_at"] = {
                **({"$gte": start} if start else {}),
                **({"$lt": end} if end else {}),
            }
        cursor = self.db.redemptions.find(query, _NO_ID).sort("created_at", ASCENDING)
        return list(cursor.limit(limit))

    # -- redeeming: single-document atomic steps ----------------------------------------------
    def insert_pending(self, redemption):
        """Create the pending redemption; DuplicateKeyError if this idempotency key is taken."""
        self.db.redemptions.insert_one(dict(redemption))

    def claim_all(self, serials, redemption_id):
        """Reserve every usable coupon of ``serials`` for this redemption in one update (each
        document's update is atomic); how many were reserved. Fewer than asked: some were taken,
        and the caller releases what it got."""
        if len(serials) == 1:  # the common case: one coupon, one key
            return self.db.coupons.update_one(
                {"serial": serials[0], "status": CouponStatus.USABLE},
                {"$set": {"status": CouponStatus.RESERVED, "redemption_id": redemption_id}},
            ).modified_count
        return self.db.coupons.update_many(
            {"serial": {"$in": list(serials)}, "status": CouponStatus.USABLE},
            {"$set": {"status": CouponStatus.RESERVED, "redemption_id": redemption_id}},
        ).modified_count

    def release(self, redemption_id, from_status):
        """Make this redemption's coupons usable again."""
        self.db.coupons.update_many(
            {"redemption_id": redemption_id, "status": from_status},
            {
                "$set": {"status": CouponStatus.USABLE},
                "$unset": {"redemption_id": "", "redeemed_at": ""},
            },
        )

    def mark_redeemed(self, redemption_id, at):
        self.db.coupons.update_many(
            {"redemption_id": redemption_id, "status": CouponStatus.RESERVED},
            {"$set": {"status": CouponStatus.REDEEMED, "redeemed_at": at}},
        )

    def finish(self, redemption_id, from_status, changes, history, event=None):
        """Move a redemption on from ``from_status`` (None if it is not there any more)."""
        push = {"history": history}
        if event is not None:
            push[OUTBOX_FIELD] = event
        return update_and_get(
            self.db.redemptions,
            {"id": redemption_id, "status": from_status},
            {"$set": changes, "$push": push},
        )

    def mark_released(self, redemption_id):
        self.db.redemptions.update_one({"id": redemption_id}, {"$set": {"coupons_released": True}})

    def delete_pending(self, redemption_id):
        self.db.redemptions.delete_one({"id": redemption_id, "status": RedemptionStatus.PENDING})

    def stale_pending(self, before):
        return list(
            self.db.redemptions.find(
                {"status": RedemptionStatus.PENDING, "created_at": {"$lt": before}}, {"id": 1}
            )
        )

    def voided_unreleased(self):
        return list(
            self.db.redemptions.find(
                {"status": RedemptionStatus.VOIDED, "coupons_released": False}, {"id": 1}
            )
        )

    # -- brute force --------------------------------------------------------------------------
    def count_wrong_code(self, venue_id, window):
        doc = update_and_get(
            self.db.attempts,
            {"key": f"{venue_id}:{window.isoformat()}"},
            {"$inc": {"count": 1}, "$setOnInsert": {"venue_id": venue_id, "window": window}},
            upsert=True,
        )
        return doc["count"]

    def lock(self, lock):
        self.db.locks.insert_one(dict(lock))

    def active_lock(self, venue_id, now):
        return self.db.locks.find_one(
            {"venue_id": venue_id, "locked_until": {"$gt": now}},
            {"_id": 0},
            sort=[("locked_until", DESCENDING)],
        )

    def locks(self, limit=200):
        return list(
            self.db.locks.find({}, {"_id": 0}).sort("locked_until", DESCENDING).limit(limit)
        )

    def ping(self):
        self.db.command("ping")
        return True
