"""The issuance service's own database: the issue of each order, the serial blocks, booklets,
and the distributors it learnt from ordering. Every change of a booklet is one conditional update
on its ``version``; events of a change go to the booklet's outbox in that same update.

Times are BSON dates, read back as aware UTC datetimes (``shared.times``): the server compares
them (``publishing.until``, ``updated_at``)."""

import hashlib
from datetime import UTC, datetime

import gridfs
from bson.binary import Binary
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.filestore import FileStore
from shared.mongo import ASCENDING, DESCENDING, Repository, update_and_get
from shared.outbox import OUTBOX_FIELD

HIDDEN = {"_id": 0, OUTBOX_FIELD: 0}


class IssuanceRepository(Repository):
    TZ_AWARE = True
    INDEXES = {
        "issues": [
            ([("order_id", ASCENDING)], {"unique": True}),
            ([("status", ASCENDING), ("updated_at", ASCENDING)], {}),
        ],
        # one document per block given: (sequence, first) and (sequence, order_id) are unique
        "serial_blocks": [
            ([("sequence", ASCENDING), ("first", DESCENDING)], {"unique": True}),
            ([("sequence", ASCENDING), ("order_id", ASCENDING)], {"unique": True}),
        ],
        "booklets": [
            ([("serial", ASCENDING)], {"unique": True}),
            ([("first_coupon", ASCENDING)], {"unique": True}),
            ([("order_id", ASCENDING), ("sequence", ASCENDING)], {}),
            ([("distributor_id", ASCENDING), ("sequence", ASCENDING)], {}),
        ],
        "distributors": [([("distributor_id", ASCENDING)], {"unique": True})],
        # one record per print file made (its bytes in the GridFS bucket ``print_files``)
        "print_files": [
            ([("file_id", ASCENDING)], {"unique": True}),
            ([("ready_at", ASCENDING)], {}),
        ],
        # GridFS's own indexes (its upload stream makes them; the chunks are written here)
        "print_files.chunks": [([("files_id", ASCENDING), ("n", ASCENDING)], {"unique": True})],
        "print_files.files": [([("filename", ASCENDING), ("uploadDate", ASCENDING)], {})],
    }
    PRINT_BUCKET = "print_files"
    CHUNK_BYTES = 1024 * 1024  # a GridFS chunk, and what one RPC gives of a file

    # -- the issue of an order ------------------------------------------------------------------
    def insert_issue(self, issue):
        """Record the issue of an order once; the stored one (also when it already was)."""
        try:
            self.db.issues.insert_one(dict(issue))
        except DuplicateKeyError:
            pass
        return self.get_issue(issue["order_id"])

    def get_issue(self, order_id):
        return self.db.issues.find_one({"order_id": order_id}, HIDDEN)

    def advance_issue(self, order_id, status_from, changes):
        """Apply ``changes`` if the issue is still at ``status_from``; the issue after it (None
        if someone else moved it meanwhile)."""
        return update_and_get(
            self.db.issues, {"order_id": order_id, "status": status_from}, {"$set": changes}
        )

    def take_publishing(self, order_id, holder, now, until):
        """Become the one instance that publishes the order's batches, unless another holds
        that right and has not let it lapse (``now`` and ``until``: aware datetimes)."""
        change = {"$set": {"publishing": {"holder": holder, "until": until}}}
        # two conditional updates rather than one with a top-level $or (which SecantusDB answers
        # by scanning the collection): free or ours, else lapsed
        for condition in (
            {"publishing.holder": {"$in": [None, holder]}},
            {"publishing.until": {"$lt": now}},
        ):
            query = {"order_id": order_id, "status": "created", **condition}
            if self.db.issues.update_one(query, change).matched_count:
                return True
        return False

    def release_publishing(self, order_id, holder):
        """Give the right up (publishing failed: the retried event may take it at once)."""
        query = {"order_id": order_id, "publishing.holder": holder}
        self.db.issues.update_one(query, {"$set": {"publishing": {"holder": None, "until": None}}})

    def mark_batch_published(self, order_id, batch, at):
        return update_and_get(
            self.db.issues,
            {"order_id": order_id},
            {"$addToSet": {"published_batches": batch}, "$set": {"updated_at": at}},
        )

    def stalled_issues(self, before):
        """Issues not finished and untouched since ``before`` (an aware datetime): a crash, a
        broker outage."""
        query = {"status": {"$ne": "published"}, "updated_at": {"$lt": before}}
        return list(self.db.issues.find(query, HIDDEN).sort("updated_at", ASCENDING).limit(20))

    # -- serial blocks: the allocation ledger ---------------------------------------------------
    def allocate_block(self, sequence, order_id, size, next_block):
        """The block of ``size`` numbers of ``sequence`` given to ``order_id``: the one it
        already has, or the next one after the last block given.

        The insert of the block document is the allocation itself: a block exists only once
        stored (a crash cannot lose numbers), ``(sequence, first)`` unique forbids two orders the
        same numbers (the loser of a race reads the new last block and tries again), and
        ``(sequence, order_id)`` unique gives an order one block, whoever asks and how often."""
        while True:
            mine = self.db.serial_blocks.find_one(
                {"sequence": sequence, "order_id": order_id}, {"_id": 0}
            )
            if mine is not None:
                return mine
            last = self.db.serial_blocks.find_one(
                {"sequence": sequence}, {"_id": 0, "last": 1}, sort=[("first", DESCENDING)]
            )
            block = next_block(last["last"] if last else 0, size)
            try:
                self.db.serial_blocks.insert_one(
                    {
                        "sequence": sequence,
                        "order_id": order_id,
                        "first": block.first,
                        "last": block.last,
                    }
                )
            except DuplicateKeyError:
                continue

    def blocks(self, sequence):
        """Every block of a sequence, in order (for audits and tests)."""
        cursor = self.db.serial_blocks.find({"sequence": sequence}, {"_id": 0})
        return list(cursor.sort("first", ASCENDING))

    # -- booklets -------------------------------------------------------------------------------
    def insert_booklets(self, booklets):
        """Store booklets; those already stored (a retry) are left as they are."""
        if not booklets:
            return
        try:
            self.db.booklets.insert_many([dict(b) for b in booklets], ordered=False)
        except BulkWriteError as exc:
            if any(error["code"] != 11000 for error in exc.details["writeErrors"]):
                raise

    def get_booklet(self, serial):
        return self.db.booklets.find_one({"serial": serial}, HIDDEN)

    def booklets_of_order(self, order_id, history=True, offset=0, limit=0):
        """The order's booklets in serial order (``limit`` 0: all of them)."""
        projection = dict(HIDDEN) if history else {**HIDDEN, "history": 0}
        cursor = self.db.booklets.find({"order_id": order_id}, projection)
        return list(cursor.sort("sequence", ASCENDING).skip(offset).limit(limit))

    def booklets_of_distributor(self, distributor_id, offset=0, limit=0):
        """The booklets assigned to a distributor, in serial order (no history), and how many."""
        query = {"distributor_id": distributor_id}
        projection = {**HIDDEN, "history": 0}
        cursor = self.db.booklets.find(query, projection).sort("sequence", ASCENDING)
        page = list(cursor.skip(offset).limit(limit))
        return page, self.db.booklets.count_documents(query)

    def count_booklets(self, order_id):
        return self.db.booklets.count_documents({"order_id": order_id})

    def update_booklet(self, serial, version, changes, entry, events=()):
        """Apply ``changes`` if the booklet is still at ``version``, with its audit ``entry`` and
        outbox ``events`` in the same atomic update; None if it changed meanwhile."""
        update = {"$set": dict(changes), "$inc": {"version": 1}, "$push": {"history": entry}}
        if events:
            update["$push"][OUTBOX_FIELD] = {"$each": list(events)}
        doc = update_and_get(self.db.booklets, {"serial": serial, "version": version}, update)
        if doc is not None:
            doc.pop(OUTBOX_FIELD, None)
        return doc

    def record_prints(self, serials, entries, order_id=None):
        """Add each booklet's print entry to its audit trail (``entries[serial]``): one update
        for a single booklet, one per status for a whole order (``order_id``: every booklet of
        the order in that status, found by the order's index; an ``$in`` of 10,000 serials took
        SecantusDB minutes)."""
        by_status = {}
        for serial in serials:
            by_status.setdefault(entries[serial]["from"], []).append(serial)
        for status, group in by_status.items():
            entry = entries[group[0]]
            where = {"order_id": order_id} if order_id else {"serial": {"$in": group}}
            self.db.booklets.update_many({**where, "status": status}, {"$push": {"history": entry}})

    # the fields a print file is made of (and the status its audit entry needs): nothing else of
    # a booklet is read to print an order, a batch at a time, in serial order
    PRINT_FIELDS = {
        "_id": 0,
        "serial": 1,
        "sequence": 1,
        "sponsor_id": 1,
        "sponsor_name": 1,
        "face_value_cents": 1,
        "coupon_serials": 1,
        "status": 1,
    }
    PRINT_BATCH = 500  # booklets per batch of the cursor (~200 KB for booklets of 10)

    def scan_order_for_print(self, order_id):
        """The order's booklets in serial order (:attr:`PRINT_FIELDS`), read a batch at a time
        from the ``(order_id, sequence)`` index: never the whole order in memory."""
        cursor = self.db.booklets.find({"order_id": order_id}, self.PRINT_FIELDS)
        return cursor.sort("sequence", ASCENDING).batch_size(self.PRINT_BATCH)

    def order_booklets_from(self, order_id, sequence, limit, skip=0, before=None):
        """Up to ``limit`` booklets of the order from booklet sequence ``sequence`` on (after
        ``skip`` of them) and, when given, before sequence ``before``, in serial order
        (:attr:`PRINT_FIELDS`): one chunk of a print file, by the ``(order_id, sequence)`` index.

        ``before`` bounds what the server reads: a server that sorts what the index range gives
        before it skips and limits (SecantusDB) would otherwise read the rest of the order for
        each chunk, the whole file's reads growing with the square of the order."""
        return list(self.order_chunk_cursor(order_id, sequence, limit, skip, before))

    def order_chunk_cursor(self, order_id, sequence, limit, skip=0, before=None):
        """The cursor of :meth:`order_booklets_from` (its ``explain()`` shows what it reads)."""
        sequences = {"$gte": sequence} if before is None else {"$gte": sequence, "$lt": before}
        query = {"order_id": order_id, "sequence": sequences}
        cursor = self.db.booklets.find(query, self.PRINT_FIELDS).sort("sequence", ASCENDING)
        return cursor.skip(skip).limit(limit)

    def record_order_prints(self, order_id, entries):
        """Add the print entry of each status (``entries[status]``) to the audit trail of every
        booklet of the order in that status: one ``update_many`` per status, by the order's index."""
        for status, entry in entries.items():
            self.db.booklets.update_many(
                {"order_id": order_id, "status": status}, {"$push": {"history": entry}}
            )

    def dispatch_issued(self, order_id, entry):
        """Every booklet of the order still ``issued`` becomes ``dispatched``; how many did."""
        result = self.db.booklets.update_many(
            {"order_id": order_id, "status": "issued"},
            {"$set": {"status": "dispatched"}, "$inc": {"version": 1}, "$push": {"history": entry}},
        )
        return result.modified_count

    # -- distributors (from ordering.distributor_registered) ------------------------------------
    def upsert_distributor(self, distributor):
        """Record a distributor once (a redelivered event changes nothing)."""
        self.db.distributors.update_one(
            {"distributor_id": distributor["distributor_id"]},
            {"$setOnInsert": dict(distributor)},
            upsert=True,
        )

    def get_distributor(self, distributor_id):
        return self.db.distributors.find_one({"distributor_id": distributor_id}, {"_id": 0})

    # -- print files: produced once, stored in GridFS, read a chunk at a time ------------------
    def _bucket(self):
        return gridfs.GridFSBucket(
            self.db, bucket_name=self.PRINT_BUCKET, chunk_size_bytes=self.CHUNK_BYTES
        )

    def get_print_file(self, file_id):
        return self.db.print_files.find_one({"file_id": file_id}, {"_id": 0})

    def claim_print_file(self, record):
        """Become the one that produces this print file: True, or False if it is recorded
        already (ready, or in progress elsewhere)."""
        try:
            self.db.print_files.insert_one(dict(record))
        except DuplicateKeyError:
            return False
        return True

    def take_over_print_file(self, file_id, holder, started_before, at):
        """Take over a production left in progress since before ``started_before`` (a crash)."""
        result = self.db.print_files.update_one(
            {"file_id": file_id, "status": "in_progress", "started_at": {"$lt": started_before}},
            {"$set": {"holder": holder, "started_at": at}},
        )
        return bool(result.matched_count)

    def touch_print_file(self, file_id, holder, at):
        """The maker of a print file is still at work: its ``started_at`` becomes ``at``."""
        self.db.print_files.update_one(
            {"file_id": file_id, "holder": holder, "status": "in_progress"},
            {"$set": {"started_at": at}},
        )

    def store_print_file(self, file_id, filename, source, block_bytes=CHUNK_BYTES):
        """Copy the open binary file ``source`` into the bucket under ``file_id``, a block at a
        time (memory bounded): ``(size, sha256 hex)``. Leftovers of an earlier try go first."""
        bucket = self._bucket()
        try:
            bucket.delete(file_id)
        except gridfs.errors.NoFile:
            pass
        # GridFS's own upload stream buffers up to 48 MB of chunks before one insert_many (and
        # encodes them again): +140 MB of peak memory for a file of 45 MB. The chunks are written
        # here one insert each, in GridFS's layout, the file document last (the bucket reads it)
        chunks = self.db[f"{self.PRINT_BUCKET}.chunks"]
        digest, size, n = hashlib.sha256(), 0, 0
        while block := source.read(block_bytes):
            digest.update(block)
            size += len(block)
            chunks.insert_one({"files_id": file_id, "n": n, "data": Binary(block)})
            n += 1
        self.db[f"{self.PRINT_BUCKET}.files"].insert_one(
            {
                "_id": file_id,
                "length": size,
                "chunkSize": self.CHUNK_BYTES,
                "uploadDate": datetime.now(UTC),
                "filename": filename,
            }
        )
        return size, digest.hexdigest()

    def mark_print_file_ready(self, file_id, holder, changes):
        return update_and_get(
            self.db.print_files,
            {"file_id": file_id, "holder": holder},
            {"$set": {**changes, "status": "ready"}},
        )

    def drop_print_file(self, file_id, holder):
        """Forget a production that failed (the next request makes the file again)."""
        self.db.print_files.delete_one({"file_id": file_id, "holder": holder})

    def purge_print_files(self, before, limit=100):
        """Delete print files made before ``before`` (an aware datetime), bytes and record; how
        many. They hold security codes: kept only as long as ``PRINT_FILE_HOURS`` says."""
        old = self.db.print_files.find(
            {"ready_at": {"$lt": before}}, {"_id": 0, "file_id": 1}
        ).limit(limit)
        done = 0
        for record in list(old):
            try:
                self._bucket().delete(record["file_id"])
            except gridfs.errors.NoFile:
                pass
            self.db.print_files.delete_one({"file_id": record["file_id"]})
            done += 1
        return done

    def read_print_chunk(self, file_id, index):
        """Bytes ``index * CHUNK_BYTES`` to the next CHUNK_BYTES of a stored print file: one
        chunk document (:meth:`shared.filestore.FileStore.chunk`)."""
        return FileStore(self.db, self.PRINT_BUCKET, self.CHUNK_BYTES).chunk(file_id, index)

    def ping(self):
        self.db.command("ping")
        return True
