"""Calling the other services with a time limit, so that a stopped service is a clear 503 page.

The pages know every service's errors from the error contract (``shared.contracts.registry``):
a refusal arrives as its own class, with its stable code and details."""

import base64

import eventlet
from nameko.exceptions import UnknownService

from shared.contracts import registry
from shared.errors import Unavailable

registry.register()

DEFAULT_RPC_TIMEOUT = 30


def call(method, *args, timeout=None, **kwargs):
    """``method(*args, **kwargs)`` on a nameko RPC proxy, or :class:`Unavailable` after
    ``timeout`` seconds (default: the worker's ``RPC_TIMEOUT``)."""
    if timeout is None:
        config = getattr(getattr(method, "worker_ctx", None), "config", None) or {}
        timeout = float(config.get("RPC_TIMEOUT") or DEFAULT_RPC_TIMEOUT)
    try:
        reply = method.call_async(*args, **kwargs)
        with eventlet.Timeout(timeout):
            return reply.result()
    except eventlet.Timeout:
        raise Unavailable(
            f"the {method.service_name} service did not answer in {timeout:g} s",
            details={"service": method.service_name},
        ) from None
    except UnknownService:
        raise Unavailable(
            f"the {method.service_name} service is not running",
            details={"service": method.service_name},
        ) from None


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
