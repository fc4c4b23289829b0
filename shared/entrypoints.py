"""The entrypoints every service uses, with the platform's conventions built in."""

from nameko.events import event_handler as nameko_event_handler
from nameko.rpc import rpc as nameko_rpc

from shared.errors import AppError


def rpc(fn=None, **kwargs):
    """An RPC method: expected errors (AppError) go back to the caller and are logged as warnings."""
    kwargs.setdefault("expected_exceptions", AppError)
    decorator = nameko_rpc(**kwargs)
    return decorator(fn) if fn is not None else decorator


def event_handler(source_service, event_type, **kwargs):
    """An event handler shared by all instances of the service (one of them gets each event).

    Delivery is at least once: every handler must be idempotent. Expected errors (a malformed
    event) are logged and dropped; others are requeued to be tried again (e.g. the store was down).
    """
    kwargs.setdefault("expected_exceptions", AppError)
    kwargs.setdefault("reliable_delivery", True)
    return nameko_event_handler(source_service, event_type, **kwargs)
