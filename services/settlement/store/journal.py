"""The journal (double entry, immutable) and the ledger's invariants computed from it.

A part of :class:`SettlementRepository` (``services/settlement/store/__init__.py``)."""

from pymongo.errors import DuplicateKeyError

from services.settlement.domain import Account


class JournalStore:
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
