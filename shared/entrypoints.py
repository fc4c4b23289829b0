"""The entrypoints every service uses, with the platform's conventions built in."""

import eventlet
from nameko.events import EventHandler
from nameko.rpc import rpc as nameko_rpc

from shared.errors import AppError

REQUEUE_DELAY_SECONDS = 1  # a failing event is retried about once a second, not in a tight loop


def rpc(fn=None, **kwargs):
    """An RPC method: expected errors (AppError) go back to the caller and are logged as warnings."""
    kwargs.setdefault("expected_exceptions", AppError)
    decorator = nameko_rpc(**kwargs)
    return decorator(fn) if fn is not None else decorator


class ReliableEventHandler(EventHandler):
    """An event handler that never loses an event to an unexpected failure.

    An expected error (an :class:`AppError`, e.g. a malformed payload) is final: the event is
    acknowledged and the refusal logged. Any other error (the store is down, a bug) puts the event
    back on the queue to be tried again, so that a handler that recovers catches up.
    """

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None and not isinstance(exc_info[1], self.expected_exceptions):
            eventlet.sleep(REQUEUE_DELAY_SECONDS)
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)


def event_handler(source_service, event_type, **kwargs):
    """An event handler shared by all instances of the service (one of them gets each event).

    Delivery is at least once: every handler must be idempotent.
    """
    kwargs.setdefault("expected_exceptions", AppError)
    kwargs.setdefault("reliable_delivery", True)
    return ReliableEventHandler.decorator(source_service, event_type, **kwargs)
