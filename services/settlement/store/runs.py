"""Runs, their documents (sequential yearly references, snapshots never rewritten) and the lock
that lets one run at a time.

A part of :class:`SettlementRepository` (``services/settlement/store/__init__.py``)."""

from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.settlement.store.base import NO_ID
from shared.mongo import ASCENDING, DESCENDING, update_and_get
from shared.numbering import number_once

RELEASED = datetime(1970, 1, 1, tzinfo=UTC)  # a released lock's "until": long past


class RunStore:
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
        return self.db[collection].find_one({"id": run_id}, NO_ID)

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
        return self.db.documents.find_one({"kind": kind, "key": key}, NO_ID)

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
            self.db.documents.find(query, NO_ID)
            .sort([("kind", ASCENDING), ("year", DESCENDING), ("number", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return found, total

    def get_document_by_reference(self, reference):
        return self.db.documents.find_one({"reference": reference}, NO_ID)

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
            {"name": name, "holder": holder}, {"$set": {"holder": None, "until": RELEASED}}
        )
