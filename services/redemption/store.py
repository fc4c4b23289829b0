"""Redemption's own database, fed by events: coupons, booklets, orders' rules, venues; and its
redemptions, brute-force guards (on venues and coupons) and locks.

A redemption's success path is four round trips (see docs/redemption.md): :meth:`snapshot` (one
aggregation: coupons with their locks, their booklets and orders, the venue with its lock),
:meth:`claim` (one conditional update), :meth:`insert_redemption` (accepted, its event in the
outbox), then the outbox's ``$pull`` once the event is published. Every query is served by an
index listed here.

Dates are BSON dates, read back aware in UTC (``shared.times``): ``TZ_AWARE`` for the ``Store``
provider, and :class:`RedemptionRepository` makes any database it is given read them so."""

from datetime import datetime

from bson.codec_options import CodecOptions
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.redemption.domain import (
    VISIBLE_STATUSES,
    CouponStatus,
    RedemptionStatus,
    claim_key,
)
from shared import times
from shared.mongo import ASCENDING, DESCENDING, Repository, update_and_get
from shared.outbox import OUTBOX_FIELD

_NO_ID = {"_id": 0, OUTBOX_FIELD: 0}
_TTL = {"expireAfterSeconds": 0}  # purged by the server once ``expires_at`` has passed


def _without_id(doc):
    return {key: value for key, value in doc.items() if key != "_id"}


def _aware_db(db):
    """``db``, reading dates back aware in UTC. The ``Store`` provider already makes it so
    (``TZ_AWARE``); a repository built by hand on a client's database (a test, a bench, a tool)
    gets it here."""
    options = getattr(db, "codec_options", None)
    if isinstance(options, CodecOptions) and not options.tz_aware:
        return db.with_options(codec_options=options.with_options(tz_aware=True))  # in UTC
    return db


def _aware(value):
    """Dates of a document read back, aware in UTC even from an engine that ignores the codec
    options (the bench's in-process one): what the checks compare with ``times.now()``."""
    if isinstance(value, datetime):
        return times.aware(value)
    if isinstance(value, dict):
        return {key: _aware(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value


class Snapshot:
    """What one read tells about a request: its coupons (each with its booklet and order) and the
    venue; a coupon and the venue each with their brute-force guard (``failed_guesses``,
    ``locked_until``) if they were ever guessed at."""

    def __init__(self, venue, coupons):
        self.venue = venue
        self.coupons = coupons  # {serial: {"coupon": ..., "booklet": ..., "order": ...}}


class RedemptionRepository(Repository):
    TZ_AWARE = True  # dates read back aware, in UTC (shared.times)

    INDEXES = {
        "coupons": [
            ([("serial", ASCENDING)], {"unique": True}),
            ([("redemption_id", ASCENDING)], {"sparse": True}),
            ([("redeemed_at", ASCENDING)], {"sparse": True}),  # recovery's scan of claims
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
        "locks": [
            ([("locked_until", DESCENDING)], {}),
            ([("expires_at", ASCENDING)], _TTL),
        ],
    }

    # the three joins of :meth:`snapshot`: (collection, local field, foreign field, as); each
    # foreign field is the key of a unique index above, so each lookup is an indexed read
    LOOKUPS = (
        ("booklets", "booklet_serials", "serial", "booklets"),
        ("orders", "order_ids", "order_id", "orders"),
        ("venues", "venue_id", "venue_id", "venues"),
    )

    def __init__(self, db):
        super().__init__(_aware_db(db))

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
        """Keep the venue snapshot with the highest version (older or repeated ones are ignored).
        ``$set`` of the event's own fields: a brute-force lock (``locked_until``) stays."""
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
                        "at": times.iso(at),
                        "by": {"role": "system", "label": f"settlement run {run_id}"},
                        "reason": None,
                    }
                },
            },
        )
        return result.modified_count

    def voided_among(self, redemption_ids):
        """The redemptions of ``redemption_ids`` that are voided (one query on the unique id)."""
        return list(
            self.db.redemptions.find(
                {"id": {"$in": list(redemption_ids)}, "status": RedemptionStatus.VOIDED.value},
                _NO_ID,
            )
        )

    def restore_paid(self, redemption, run_id, at):
        """A voided redemption that a settlement run paid (the void crossed the run; settlement
        refused it): settled after all, its coupons taken back where still usable (a coupon
        redeemed again meanwhile stays with that redemption, which settlement disputes). True if
        it was voided."""
        # the coupons first: interrupted, the redemption is still voided and found again
        self.db.coupons.update_many(
            {
                "serial": {"$in": [c["serial"] for c in redemption["coupons"]]},
                "status": CouponStatus.USABLE.value,
            },
            {
                "$set": {
                    "status": CouponStatus.REDEEMED.value,
                    "redemption_id": redemption["id"],
                    "redeemed_at": at,
                    "claim_key": claim_key(redemption["venue_id"], redemption["idempotency_key"]),
                }
            },
        )
        restored = self.db.redemptions.update_one(
            {"id": redemption["id"], "status": RedemptionStatus.VOIDED.value},
            {
                "$set": {
                    "status": RedemptionStatus.SETTLED.value,
                    "settled_at": at,
                    "run_id": run_id,
                    "void_refused": True,
                },
                "$push": {
                    "history": {
                        "from": "voided",
                        "to": "settled",
                        "at": times.iso(at),
                        "by": {"role": "system", "label": f"settlement run {run_id}"},
                        "reason": "paid by the run before the void reached settlement: "
                        "the void is refused",
                    }
                },
            },
        ).modified_count
        return bool(restored)

    def expire(self, serials):
        result = self.db.coupons.update_many(
            {"serial": {"$in": serials}, "status": CouponStatus.USABLE},
            {"$set": {"status": CouponStatus.EXPIRED}},
        )
        return result.modified_count

    # -- reads --------------------------------------------------------------------------------
    def snapshot_pipeline(self, venue_id, serials):
        """The request's coupons (``$match`` on the unique serial) gathered in one document with
        the set of their booklets and orders and the venue's id, then joined once each (not once
        per coupon) to their booklets, orders and venue: ``$lookup`` on a local field (an array
        matches any of its values) and a foreign field, never a sub-pipeline (which some servers
        answer by scanning the foreign collection)."""
        pipeline = [
            {"$match": {"serial": {"$in": list(serials)}}},
            {"$project": {"_id": 0}},
            {
                "$group": {
                    "_id": None,
                    "coupons": {"$push": "$$ROOT"},
                    "booklet_serials": {"$addToSet": "$booklet_serial"},
                    "order_ids": {"$addToSet": "$order_id"},
                }
            },
            {"$addFields": {"venue_id": venue_id}},
        ]
        for collection, local, foreign, name in self.LOOKUPS:
            lookup = {"from": collection, "localField": local, "foreignField": foreign, "as": name}
            pipeline.append({"$lookup": lookup})
        return pipeline

    def snapshot(self, venue_id, serials):
        """One request's reads in one round trip: its coupons, their booklets and orders, and the
        venue with its lock. No coupon known: the venue alone is read (a second round trip, on
        a path that fails anyway), so that a refusal of the venue still comes first."""
        results = list(self.db.coupons.aggregate(self.snapshot_pipeline(venue_id, serials)))
        if not results:  # one document (the coupons gathered), or none
            return Snapshot(_aware(self.venue(venue_id)), {})
        found = _aware(results[0])
        booklets = {b["serial"]: _without_id(b) for b in found["booklets"]}
        orders = {o["order_id"]: _without_id(o) for o in found["orders"]}
        coupons = {
            coupon["serial"]: {
                "coupon": coupon,
                "booklet": booklets.get(coupon["booklet_serial"]),
                "order": orders.get(coupon["order_id"]),
            }
            for coupon in found["coupons"]
        }
        venue = _without_id(found["venues"][0]) if found["venues"] else None
        return Snapshot(venue, coupons)

    def coupon(self, serial):
        return self.db.coupons.find_one({"serial": serial}, {"_id": 0})

    def coupons(self, serials):
        """Several coupons in one query (``$in`` on the unique serial)."""
        return _aware(list(self.db.coupons.find({"serial": {"$in": list(serials)}}, {"_id": 0})))

    def venue(self, venue_id):
        return self.db.venues.find_one({"venue_id": venue_id}, {"_id": 0})

    def redemption(self, redemption_id):
        return self.db.redemptions.find_one({"id": redemption_id}, _NO_ID)

    def redemption_by_key(self, venue_id, key):
        return self.db.redemptions.find_one({"venue_id": venue_id, "idempotency_key": key}, _NO_ID)

    @staticmethod
    def _listed(venue_id=None, start=None, end=None):
        query = {"status": {"$in": [str(status) for status in VISIBLE_STATUSES]}}
        if venue_id:
            query["venue_id"] = venue_id
        if start or end:
            query["created_at"] = {
                **({"$gte": start} if start else {}),
                **({"$lt": end} if end else {}),
            }
        return query

    def list_redemptions(self, venue_id=None, start=None, end=None, limit=0, offset=0):
        """Visible redemptions, oldest first (then by id: pages never overlap), ``offset`` of
        them skipped, at most ``limit`` (0: all); the database skips and limits."""
        cursor = self.db.redemptions.find(self._listed(venue_id, start, end), _NO_ID)
        cursor = cursor.sort([("created_at", ASCENDING), ("id", ASCENDING)])
        return list(cursor.skip(offset).limit(limit))

    def count_redemptions(self, venue_id=None, start=None, end=None):
        """How many visible redemptions :meth:`list_redemptions` would list with no limit."""
        return self.db.redemptions.count_documents(self._listed(venue_id, start, end))

    # -- redeeming: single-document atomic steps ----------------------------------------------
    def claim(self, serials, redemption_id, claim_key, at):
        """Redeem every usable coupon of ``serials`` not locked at ``at`` for this redemption in
        one conditional update (each document's update is atomic); how many were claimed. Fewer
        than asked: some were taken (or locked since the read), and the caller gives back what it
        got (:meth:`release`)."""
        changes = {
            "$set": {
                "status": CouponStatus.REDEEMED.value,
                "redemption_id": redemption_id,
                "redeemed_at": at,
                "claim_key": claim_key,
            }
        }
        usable = {"status": CouponStatus.USABLE.value, **self.not_locked(at)}
        if len(serials) == 1:  # the common case: one coupon, one key
            query = {"serial": serials[0], **usable}
            return self.db.coupons.update_one(query, changes).modified_count
        query = {"serial": {"$in": list(serials)}, **usable}
        return self.db.coupons.update_many(query, changes).modified_count

    def release(self, redemption_id):
        """Make this redemption's coupons usable again (only those it holds: the condition on its
        id leaves alone a coupon another redemption has claimed since)."""
        return self.db.coupons.update_many(
            {"redemption_id": redemption_id, "status": CouponStatus.REDEEMED.value},
            {
                "$set": {"status": CouponStatus.USABLE.value},
                "$unset": {"redemption_id": "", "redeemed_at": "", "claim_key": ""},
            },
        ).modified_count

    def insert_redemption(self, redemption):
        """Insert a redemption (accepted, or a recovery's tombstone). DuplicateKeyError if its
        ``id`` is taken (a tombstone) or its ``(venue_id, idempotency_key)`` (another request)."""
        self.db.redemptions.insert_one(dict(redemption))

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

    def voided_unreleased(self):
        return list(
            self.db.redemptions.find(
                {"status": RedemptionStatus.VOIDED.value, "coupons_released": False}, {"id": 1}
            )
        )

    # -- recovery: claims whose redemption was never written ----------------------------------
    @staticmethod
    def claims_query(start, end):
        return {"redeemed_at": {"$gte": start, "$lt": end}}

    def claims_between(self, start, end):
        """Coupons claimed with ``start <= redeemed_at < end``: a range on the sparse
        ``redeemed_at`` index alone (only claimed coupons carry it: a release unsets it)."""
        found = self.db.coupons.find(
            self.claims_query(start, end),
            {"_id": 0, "serial": 1, "status": 1, "redemption_id": 1, "claim_key": 1},
        )
        return [claim for claim in found if claim.get("status") == CouponStatus.REDEEMED]

    @staticmethod
    def ids_query(redemption_ids):
        return {"id": {"$in": list(redemption_ids)}}

    def redemption_statuses(self, redemption_ids):
        """``{id: status}`` of the redemptions that exist among ``redemption_ids`` (one query)."""
        found = self.db.redemptions.find(
            self.ids_query(redemption_ids), {"_id": 0, "id": 1, "status": 1}
        )
        return {doc["id"]: doc["status"] for doc in found}

    def watermark(self, name):
        """Up to when recovery has checked (None before its first run)."""
        doc = self.db.recovery.find_one({"_id": name})
        return times.aware(doc["checked_until"]) if doc else None

    def advance_watermark(self, name, checked_until):
        """Never backwards, whichever instance writes last."""
        self.db.recovery.update_one(
            {"_id": name}, {"$max": {"checked_until": checked_until}}, upsert=True
        )

    # -- brute force: guards on the venue's and the coupon's own documents --------------------
    # where each kind of subject keeps its guard (``failed_guesses``, ``locked_until``): on its
    # own document, so that the one read of a redemption sees both locks at no extra cost
    GUARDED = {"venue": ("venues", "venue_id"), "coupon": ("coupons", "serial")}

    @staticmethod
    def not_locked(now):
        """The condition "not locked at ``now``" (no ``locked_until``, or one that has passed)."""
        return {"locked_until": {"$not": {"$gt": now}}}

    @staticmethod
    def guard_pipeline(guard, failure, now, lock_id):
        """The update of :meth:`record_failure` (an aggregation pipeline, evaluated by the server
        on the document as it is): keep the failed guesses of the last ``guard.window`` plus this
        one (at most ``guard.limit``), and if they reach the limit set ``locked_until`` and the
        ``lock_id`` of this failure. Values are ``$literal``: an id or serial is never read as an
        expression."""
        recent = {
            "$filter": {
                "input": {"$ifNull": ["$failed_guesses", []]},
                "as": "failure",
                "cond": {"$gt": ["$$failure.at", now - guard.window]},
            }
        }
        kept = {"$slice": [{"$concatArrays": [recent, [{"$literal": failure}]]}, -guard.limit]}
        full = {"$gte": [{"$size": "$failed_guesses"}, guard.limit]}
        return [
            {"$set": {"failed_guesses": kept}},
            {
                "$set": {
                    "locked_until": {
                        "$cond": [full, {"$literal": now + guard.lock}, "$locked_until"]
                    },
                    "lock_id": {"$cond": [full, {"$literal": lock_id}, "$lock_id"]},
                }
            },
        ]

    def record_failure(self, guard, subject_id, failure, now, lock_id):
        """One failed guess against a venue or a coupon, in ONE atomic conditional update that
        checks the lock and counts: it matches only if the subject is not locked at ``now``, and
        locks it (marked with ``lock_id``) if this failure fills the window. Concurrent guesses,
        from any number of instances, are thus serialised by the document: exactly ``limit`` are
        counted before the lock, none after.

        Returns ``(counted, state)``: whether this failure was counted (False: the subject was
        locked), and the subject's guard read back after the update (``failed_guesses``,
        ``locked_until``, ``lock_id``; None if there is no such document)."""
        collection, field = self.GUARDED[guard.kind]
        result = self.db[collection].update_one(
            {field: subject_id, **self.not_locked(now)},
            self.guard_pipeline(guard, failure, now, lock_id),
        )
        state = self.db[collection].find_one(
            {field: subject_id}, {"_id": 0, "failed_guesses": 1, "locked_until": 1, "lock_id": 1}
        )
        return result.matched_count == 1, _aware(state)

    def add_lock(self, lock):
        """A lock, for operators (purged by the server after its ``expires_at``)."""
        self.db.locks.insert_one(dict(lock))

    def locks(self, limit=50, offset=0):
        """A page of the locks of venues and coupons, the latest ending first:
        ``(locks, total)``."""
        total = self.db.locks.count_documents({})
        found = list(
            self.db.locks.find({}, {"_id": 0, "expires_at": 0})
            .sort("locked_until", DESCENDING)
            .skip(offset)
            .limit(limit)
        )
        return found, total

    def ping(self):
        self.db.command("ping")
        return True
