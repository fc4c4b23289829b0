"""Calling the other services with a time limit (``shared.rpc``), so that a stopped service is a
clear 503 page.

The pages know every service's errors from the error contract (``shared.contracts.registry``):
a refusal arrives as its own class, with its stable code and details."""

import base64

from shared.contracts import registry
from shared.rpc import call

__all__ = ["call", "decode_file"]

registry.register()


def decode_file(payload, read_chunk=None):
    """Files travel over RPC as ``{"content_b64": ...}``: the bytes back. A stored file larger
    than one chunk comes as its record (``size``, ``chunk_bytes``): ``read_chunk(index)`` (an
    RPC answering ``{"content_b64": ...}``) reads it a chunk at a time."""
    if "content_b64" in payload:
        return base64.b64decode(payload["content_b64"])
    if read_chunk is None:
        raise ValueError(f"{payload.get('filename')}: larger than a chunk, read_chunk needed")
    count = -(-payload["size"] // payload["chunk_bytes"])
    return b"".join(base64.b64decode(read_chunk(i)["content_b64"]) for i in range(count))
