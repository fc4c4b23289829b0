"""Settlement's documents as stored files: made once, handed out whole when they fit in one
chunk, else a chunk at a time; a forged file id or chunk index finds nothing."""

import base64
import os

from services.settlement import files
from tests.settlement_support import settlement_db


def test_a_small_document_comes_whole_and_is_made_once(mongo_config):
    db = settlement_db(mongo_config)
    made = []

    def render():
        made.append(1)
        return b"%PDF-1.7 a statement"

    record = files.stored(db, "REL-2026-000001", "REL-2026-000001.pdf", render, "pdf")
    again = files.stored(db, "REL-2026-000001", "REL-2026-000001.pdf", render, "pdf")
    assert made == [1] and again == record  # rendered once, the same record after
    assert base64.b64decode(record["content_b64"]) == b"%PDF-1.7 a statement"
    assert (record["file_id"], record["size"]) == ("REL-2026-000001.pdf", 20)


def test_a_large_document_is_read_a_chunk_at_a_time(mongo_config):
    db = settlement_db(mongo_config)
    content = os.urandom(files.FileStore(db, files.BUCKET).chunk_bytes * 2 + 1234)
    record = files.stored(db, "SR-2026-03-31", "SR-2026-03-31.xml", lambda: content, "sepa")
    assert "content_b64" not in record and record["size"] == len(content)
    chunks = [files.chunk(db, record["file_id"], i) for i in range(3)]
    assert b"".join(base64.b64decode(c["content_b64"]) for c in chunks) == content
    assert files.chunk(db, record["file_id"], 3) is None  # beyond the end
    for forged in (("SR-2026-03-31.xml", -1), ("SR-2026-03-31.xml", True), ("x" * 500, 0)):
        assert files.chunk(db, *forged) is None
    assert files.chunk(db, "REL-1999-000001.pdf", 0) is None
