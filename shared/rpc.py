"""Calling another service over nameko RPC with a time limit, for the processes that answer people
and programs (the gateway, the web pages): a service that is stopped, or does not answer in time,
is :class:`~shared.errors.Unavailable` (503 ``service_unavailable``), never a request left waiting."""

import eventlet
from nameko.exceptions import RemoteError, UnknownService

from shared.errors import Unavailable

RPC_TIMEOUT_KEY = "RPC_TIMEOUT"
DEFAULT_RPC_TIMEOUT = 30


def configured_timeout(method):
    """``RPC_TIMEOUT`` (seconds) from the config of the worker making the call."""
    config = getattr(getattr(method, "worker_ctx", None), "config", None) or {}
    return float(config.get(RPC_TIMEOUT_KEY) or DEFAULT_RPC_TIMEOUT)


def call(method, *args, timeout=None, remote_error=None, **kwargs):
    """``method(*args, **kwargs)`` on a nameko RPC proxy, or :class:`Unavailable` after
    ``timeout`` seconds (default: the configured ``RPC_TIMEOUT``) or when the service's queue does
    not exist (it never ran). ``remote_error(method, exc, reply)``: what to raise instead of a nameko
    ``RemoteError`` (an error class this process lacks), or None to raise it as it is."""
    timeout = configured_timeout(method) if timeout is None else timeout
    try:
        reply = method.call_async(*args, **kwargs)
        with eventlet.Timeout(timeout):
            return reply.result()
    except RemoteError as exc:
        known = remote_error(method, exc, reply) if remote_error else None
        if known is None:
            raise
        raise known from exc
    except eventlet.Timeout:
        raise _unavailable(method, f"did not answer in {timeout:g} s") from None
    except UnknownService:
        raise _unavailable(method, "is not running") from None


def _unavailable(method, what):
    return Unavailable(
        f"the {method.service_name} service {what}", {"service": method.service_name}
    )
