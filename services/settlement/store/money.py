"""What is owed: payables (to venues), refunds (to funders), the cooperation fund's contributions.

A part of :class:`SettlementRepository` (``services/settlement/store/__init__.py``)."""

from pymongo.errors import DuplicateKeyError

from services.settlement.store.base import NO_ID
from shared.mongo import ASCENDING


class MoneyStore:
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
        return self.db.payables.find_one({"id": item_id}, NO_ID)

    def void_payable(self, redemption_id, fields_):
        """Open (or waiting) -> voided; or create it voided when the redemption has not arrived
        yet. The line as it was before (None if created)."""
        while True:
            before = self.db.payables.find_one({"id": redemption_id}, NO_ID)
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
        return list(self.db.payables.find({"anomaly": True}, NO_ID).limit(limit))

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
        return self.db.payables.find(query, NO_ID).sort(
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
        return self.db.refunds.find({"run_id": run_id}, NO_ID).sort(
            [("run_id", ASCENDING), ("funder_id", ASCENDING)]
        )

    def open_refunds(self):
        return list(self.db.refunds.find({"status": "open"}, NO_ID))

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
            {"run_id": run_id, "department": department}, NO_ID
        ).sort([("run_id", ASCENDING), ("department", ASCENDING), ("confirmed_at", ASCENDING)])
