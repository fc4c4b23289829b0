"""Calling services from the gateway with a time limit, so that a stopped service is a clear 503."""

import base64
import logging

import eventlet
from nameko.exceptions import RemoteError

from services.gateway.errors import known_remote_error
from shared.errors import Unavailable

RPC_TIMEOUT_KEY = "RPC_TIMEOUT"
DEFAULT_RPC_TIMEOUT = 30

log = logging.getLogger(__name__)


def configured_timeout(method):
    """The gateway's ``RPC_TIMEOUT`` (seconds), from the config of the worker making the call."""
    config = getattr(getattr(method, "worker_ctx", None), "config", None) or {}
    return float(config.get(RPC_TIMEOUT_KEY) or DEFAULT_RPC_TIMEOUT)


def call(method, *args, timeout=None, **kwargs):
    """``method(*args, **kwargs)`` on a nameko RPC proxy, or :class:`Unavailable` after ``timeout``
    (default: the configured ``RPC_TIMEOUT``).

    An error class the gateway lacks (nameko's ``RemoteError``) is raised as its kind when the error
    contract knows its code, with its details (see ``services.gateway.errors``)."""
    timeout = configured_timeout(method) if timeout is None else timeout
    reply = method.call_async(*args, **kwargs)
    try:
        with eventlet.Timeout(timeout):
            return reply.result()
    except RemoteError as exc:
        known = known_remote_error(exc, (reply.resp_body or {}).get("error"))
        if known is None:
            raise
        log.warning(
            "the error contract lacks %s (a newer %s service?): answered as %s",
            exc.exc_type,
            method.service_name,
            type(known).__name__,
        )
        raise known from exc
    except eventlet.Timeout:
        raise Unavailable(
            f"the {method.service_name} service did not answer in {timeout:g} s",
            details={"service": method.service_name},
        ) from None


def decode_file(payload):
    """Files travel over RPC as ``{"content_b64": ...}``: the bytes back."""
    return base64.b64decode(payload["content_b64"])
