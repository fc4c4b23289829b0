"""Calling services from the gateway with a time limit, so that a stopped service is a clear 503."""

import base64

import eventlet

from shared.errors import Unavailable

RPC_TIMEOUT_KEY = "RPC_TIMEOUT"
DEFAULT_RPC_TIMEOUT = 30


def call(method, *args, timeout=DEFAULT_RPC_TIMEOUT, **kwargs):
    """``method(*args, **kwargs)`` on a nameko RPC proxy, or :class:`Unavailable` after ``timeout``."""
    reply = method.call_async(*args, **kwargs)
    try:
        with eventlet.Timeout(timeout):
            return reply.result()
    except eventlet.Timeout:
        raise Unavailable(
            f"the {method.service_name} service did not answer in {timeout} s",
            details={"service": method.service_name},
        ) from None


def decode_file(payload):
    """Files travel over RPC as ``{"content_b64": ...}``: the bytes back."""
    return base64.b64decode(payload["content_b64"])
