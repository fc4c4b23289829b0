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


def decode_file(payload):
    """Files travel over RPC as ``{"content_b64": ...}``: the bytes back."""
    return base64.b64decode(payload["content_b64"])
