"""Settlement's documents as files: each made once, the first time it is asked for, and kept in
settlement's file store (a GridFS bucket, ``shared.filestore``); handed out a chunk at a time, so
that no message carries more than a chunk of a file (issue 14, "large files out of RPC").

A document's content never changes (its snapshot is written once), so its file is named by what
it is: ``REL-2026-000002.pdf``, ``SR-2026-03-31.xml``."""

import base64

from shared.filestore import FileStore

BUCKET = "document_files"
RECORD = ("reference", "filename", "file_id", "size", "sha256", "chunk_bytes")
MAX_FILE_ID = 120


def stored(db, reference, filename, render, kind):
    """The record of the file ``filename``, rendered by ``render()`` and stored the first time.

    ``{reference, filename, file_id, size, sha256, chunk_bytes}``, and ``content_b64`` (the
    whole file) when it fits in one chunk: a statement on a page or two comes in one answer;
    a larger file is read with :func:`chunk`."""
    files = FileStore(db, BUCKET)
    found = files.find(filename)
    if found is None:
        found = files.put(filename, filename, render(), {"reference": reference, "kind": kind})
    record = {key: found[key] for key in RECORD}
    if found["size"] <= found["chunk_bytes"]:
        record["content_b64"] = _b64(files.chunk(filename, 0))
    return record


def chunk(db, file_id, index):
    """``{file_id, index, content_b64}``: chunk ``index`` of a stored document, or None."""
    if not isinstance(file_id, str) or len(file_id) > MAX_FILE_ID:
        return None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    files = FileStore(db, BUCKET)
    found = files.find(file_id)
    if found is None or (index > 0 and index * found["chunk_bytes"] >= found["size"]):
        return None
    return {"file_id": file_id, "index": index, "content_b64": _b64(files.chunk(file_id, index))}


def _b64(content):
    return base64.b64encode(content).decode("ascii")
