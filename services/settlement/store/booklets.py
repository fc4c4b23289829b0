"""Booklets as expiry and the sponsor's dashboard read them.

A part of :class:`SettlementRepository` (``services/settlement/store/__init__.py``)."""

from services.settlement.store.base import NO_ID
from shared.mongo import ASCENDING


class BookletStore:
    # -- expiry ---------------------------------------------------------------------------------
    def booklets_to_expire(self, before):
        """Booklets not yet expired whose validity ended before ``before`` or that were
        cancelled (a stream)."""
        yield from self.db.booklets.find(
            {"expiry_run_id": None, "valid_until": {"$lt": before}}, NO_ID
        )
        yield from self.db.booklets.find(
            {"expiry_run_id": None, "cancelled_at": {"$ne": None}}, NO_ID
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
                {"sponsor_id": sponsor_id, "valid_until": {"$gte": start, "$lt": end}}, NO_ID
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
        return self.db.venues.find({"venue_id": {"$in": list(ids)}}, NO_ID)

    def booklet_redeemed_count(self, serial):
        return self.db.coupons.count_documents({"booklet_serial": serial, "status": "redeemed"})
