"""Calling services from the gateway with a time limit (``shared.rpc``), so that a stopped service
is a clear 503; an error class the gateway lacks is answered as its kind."""

import base64
import logging

from services.gateway.errors import known_remote_error
from shared import rpc

log = logging.getLogger(__name__)


def _known(method, exc, reply):
    """A nameko ``RemoteError`` raised as its kind when the error contract knows its code, with
    its details (see ``services.gateway.errors``); None otherwise."""
    known = known_remote_error(exc, (reply.resp_body or {}).get("error"))
    if known is not None:
        log.warning(
            "the error contract lacks %s (a newer %s service?): answered as %s",
            exc.exc_type,
            method.service_name,
            type(known).__name__,
        )
    return known


def call(method, *args, timeout=None, **kwargs):
    """``method(*args, **kwargs)``, or :class:`Unavailable` after ``timeout`` (default: the
    configured ``RPC_TIMEOUT``); see :func:`shared.rpc.call`."""
    return rpc.call(method, *args, timeout=timeout, remote_error=_known, **kwargs)


def decode_file(payload):
    """Files travel over RPC as ``{"content_b64": ...}``: the bytes back."""
    return base64.b64decode(payload["content_b64"])
