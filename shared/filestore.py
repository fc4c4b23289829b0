"""Files a service makes once and keeps in its own database's file store (a GridFS bucket), handed
out a chunk at a time: no message carries a whole file (issue 14; docs/issuance.md, "Print files
out of RPC"). The gateway streams them (``services.gateway.http.stored_file_response``).

A file's record is its GridFS file document: ``file_id`` (chosen by the service: a name and a
digest of what the file is made of, so that the same content is stored once), ``filename``,
``size``, ``sha256``, ``chunk_bytes`` and the service's own ``metadata`` (who may read it)."""

import hashlib
import io

import gridfs
from pymongo.errors import DuplicateKeyError

CHUNK_BYTES = 1024 * 1024  # a GridFS chunk, and what one RPC answer gives of a file


class FileStore:
    def __init__(self, db, bucket, chunk_bytes=CHUNK_BYTES):
        self.db, self.name, self.chunk_bytes = db, bucket, chunk_bytes
        self.bucket = gridfs.GridFSBucket(db, bucket_name=bucket, chunk_size_bytes=chunk_bytes)

    def find(self, file_id):
        """The record of a stored file, or None."""
        doc = self.db[f"{self.name}.files"].find_one({"_id": file_id})
        if doc is None:
            return None
        meta = doc.get("metadata") or {}
        return {
            **meta,
            "file_id": doc["_id"],
            "filename": doc["filename"],
            "size": doc["length"],
            "chunk_bytes": doc["chunkSize"],
            "sha256": doc.get("sha256"),
        }

    def put(self, file_id, filename, content, metadata=None):
        """Store ``content`` (bytes, or an open binary file read a chunk at a time) under
        ``file_id`` unless it is stored already; the record."""
        found = self.find(file_id)
        if found is not None:
            return found
        source = io.BytesIO(content) if isinstance(content, bytes | bytearray) else content
        digest = hashlib.sha256()
        try:
            self.bucket.delete(file_id)  # the chunks of an earlier try that did not finish
        except gridfs.errors.NoFile:
            pass
        meta = dict(metadata or {})
        try:
            with self.bucket.open_upload_stream_with_id(file_id, filename, metadata=meta) as up:
                while block := source.read(self.chunk_bytes):
                    digest.update(block)
                    up.write(block)
                up.sha256 = digest.hexdigest()  # a field of the file document, written at close
        except (DuplicateKeyError, gridfs.errors.FileExists):
            pass  # another request stored it meanwhile: the same content
        return self.find(file_id)

    def chunk(self, file_id, index):
        """Bytes ``index * chunk_bytes`` to the next ``chunk_bytes`` of a stored file (empty past
        its end): its GridFS chunk ``index``, one document read by the bucket's ``(files_id, n)``
        index. Not through GridFS's download stream: that asks for every chunk from ``index`` on,
        and a server answers up to 16 MB a batch (15 chunks of 1 MiB read, and decoded, for the
        one handed out: a 476 MB file took issuance's peak memory from 237 to 342 MB)."""
        found = self.db[f"{self.name}.chunks"].find_one(
            {"files_id": file_id, "n": index}, {"_id": 0, "data": 1}
        )
        return b"" if found is None else bytes(found["data"])
