"""The file store hands out a stored file a chunk at a time, and reading one chunk brings one
chunk over the wire (GridFS's download stream asked for every chunk from there on: a server
answers up to 16 MB a batch, 15 chunks read to hand one out)."""

import os

from pymongo import MongoClient, monitoring

from shared.filestore import FileStore


class Replies(monitoring.CommandListener):
    def __init__(self):
        self.documents = []

    def started(self, event):
        pass

    def succeeded(self, event):
        cursor = event.reply.get("cursor") or {}
        batch = cursor.get("firstBatch", cursor.get("nextBatch"))
        if event.command_name in ("find", "getMore") and batch is not None:
            self.documents.append(len(batch))

    def failed(self, event):
        pass


def test_one_chunk_read_is_one_chunk_document_over_the_wire(mongo_config):
    replies = Replies()
    client = MongoClient(mongo_config["MONGO_URI"], event_listeners=[replies])
    try:
        db = client[mongo_config["MONGO_DB_PREFIX"] + "files"]
        store = FileStore(db, "docs", chunk_bytes=1024)
        content = os.urandom(1024 * 40 + 100)  # 41 chunks, the last one short
        store.put("big.bin", "big.bin", content)
        replies.documents.clear()
        read = [store.chunk("big.bin", i) for i in range(41)]
        assert b"".join(read) == content
        assert [len(c) for c in read[-2:]] == [1024, 100]
        assert replies.documents == [1] * 41  # one document answered per chunk, never more
        assert store.chunk("big.bin", 41) == b""  # past the end
        assert store.chunk("other.bin", 0) == b""
    finally:
        client.close()
