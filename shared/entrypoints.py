"""The entrypoints every service uses, with the platform's conventions built in."""

import logging
import os
import time
import traceback

import eventlet
from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection, get_producer
from nameko.constants import AMQP_SSL_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.events import SERVICE_POOL, EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.web.handlers import HttpRequestHandler

from shared import amqp_client as wire
from shared import metrics, times
from shared.errors import AppError

log = logging.getLogger(__name__)

REQUEUE_DELAY_SECONDS = 1  # a failing event is retried after 1 s, then 2, 4... (up to the max)
MAX_REQUEUE_DELAY_SECONDS = 30
DELIVERY_LIMIT_KEY = "EVENT_DELIVERY_LIMIT"  # config keys (optional): deliveries before the
REQUEUE_DELAY_KEY = "EVENT_REQUEUE_DELAY"  # dead-letter queue, and the first pause in seconds


class ReliableRpc(Rpc):
    """nameko's RPC entrypoint, surviving a broker out of reach when the reply is sent.

    nameko 2.14 lets an error publishing the reply escape the worker, which kills the whole
    container (the process exits, and with it every call in flight). Here the request is put back
    instead (or, if its own connection is gone, the broker has done so already): it is delivered
    again once the broker is back, and done again (at least once, as any call; the platform's
    writes are idempotent) so that a caller still waiting gets its answer.

    Measured (:mod:`shared.metrics`): latency and outcome of every call, refusals by code.
    """

    def handle_message(self, body, message):
        message.aptic_received = time.perf_counter()
        return super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except Exception as exc:  # the broker dropped us: no reply sent, nothing acknowledged
            log.warning(
                "could not send the reply of %s (%r): the request will be delivered again",
                self.method_name,
                exc,
            )
            try:
                self.rpc_consumer.requeue_message(message)
            except Exception:  # its connection is gone too: the broker requeues it by itself
                pass
            return result, exc_info
        finally:
            self._measure(message, result, exc_info)

    def _measure(self, message, result, exc_info):
        received = getattr(message, "aptic_received", None)
        seconds = time.perf_counter() - received if received is not None else 0.0
        try:
            metrics.rpc_answered(
                self.container.service_name,
                self.method_name,
                seconds,
                result,
                exc_info,
                self.expected_exceptions,
            )
        except Exception:  # a metric never fails a call
            log.exception("could not count the RPC %s", self.method_name)


def rpc(fn=None, **kwargs):
    """An RPC method: expected errors (AppError) go back to the caller and are logged as warnings."""
    kwargs.setdefault("expected_exceptions", AppError)
    decorator = ReliableRpc.decorator(**kwargs)
    return decorator(fn) if fn is not None else decorator


def _setting(config, key):
    """A setting from the service's config, else the environment (no config file names it)."""
    return config.get(key) or os.environ.get(key)


def dead_letter_queue():
    """The platform's dead-letter exchange (fanout) and its one durable queue, as kombu entities."""
    exchange = Exchange(wire.DEAD_LETTER_EXCHANGE, type="fanout", durable=True)
    return Queue(wire.DEAD_LETTER_QUEUE, exchange=exchange, routing_key="", durable=True)


def dead_letter_count(connection):
    """How many events wait in the dead-letter queue, on a kombu ``connection`` (the exchange,
    the queue and their binding declared first, if none yet)."""
    channel = connection.channel()
    try:
        queue = dead_letter_queue()(channel)
        queue.declare()
        return queue.queue_declare(passive=True).message_count
    finally:
        channel.close()


class ReliableEventHandler(EventHandler):
    """An event handler that never loses an event to an unexpected failure, and is never stuck
    on one that always fails.

    An expected error (an :class:`AppError`, e.g. a malformed payload) is final: the event is
    acknowledged and the refusal logged. Any other error (the store is down, a bug) puts the event
    back on the queue to be tried again after a pause that doubles (1 s, 2 s, 4 s... up to 30 s;
    the worker is free meanwhile), so that a handler that recovers catches up. After
    ``EVENT_DELIVERY_LIMIT`` deliveries (default :data:`shared.amqp_client.DELIVERY_LIMIT`) that
    all failed, the event goes to the dead-letter queue with the error (``aptic events dead``
    lists it, ``aptic events replay`` sends it again). The queue is a quorum queue whose own
    delivery limit dead-letters an event that keeps killing its consumer (a crash, not an
    exception) the same way. See docs/operations.md.
    """

    def setup(self):
        super().setup()
        if self.handler_type is not SERVICE_POOL:  # the platform's handlers are all pooled
            return
        config = self.container.config
        self.delivery_limit = int(_setting(config, DELIVERY_LIMIT_KEY) or wire.DELIVERY_LIMIT)
        self.requeue_delay = float(_setting(config, REQUEUE_DELAY_KEY) or REQUEUE_DELAY_SECONDS)
        queue = self.queue
        # declared (or upgraded from a classic queue of an older release) before nameko's
        # consumer declares it again with the same arguments
        wire.ensure_event_queue(
            config["AMQP_URI"], self.source_service, self.event_type, queue.name
        )
        self.queue = Queue(
            queue.name,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            durable=True,
            queue_arguments=dict(wire.EVENT_QUEUE_ARGUMENTS),
        )

    def _count(self, outcome):
        try:
            metrics.event_handled(
                self.container.service_name, self.source_service, self.event_type, outcome
            )
        except Exception:  # a metric never fails a handler
            log.exception("could not count an event of %s", self.event_type)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None or isinstance(exc_info[1], self.expected_exceptions):
            self._count("ok" if exc_info is None else "refused")
            self.queue_consumer.ack_message(message)
            return
        deliveries = wire.deliveries(message.headers)
        limit = getattr(self, "delivery_limit", wire.DELIVERY_LIMIT)
        if deliveries >= limit and self._dead_letter(message, exc_info, deliveries):
            self._count("dead_lettered")
            self.queue_consumer.ack_message(message)
            return
        self._count("retried")
        delay = getattr(self, "requeue_delay", REQUEUE_DELAY_SECONDS)
        delay = min(delay * 2 ** (deliveries - 1), MAX_REQUEUE_DELAY_SECONDS)
        # put back later without holding a worker (RPCs share them): the event waits unacked
        eventlet.spawn_after(delay, self.queue_consumer.requeue_message, message)

    def _dead_letter(self, message, exc_info, deliveries):
        """Publish the event, as received, to the dead-letter queue with why it is there
        (confirmed by the broker); False if that failed (the event is then requeued, and the
        queue's own delivery limit dead-letters it later)."""
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        headers = wire.dead_letter_headers(
            message.headers,
            queue=self.queue.name,
            source=self.source_service,
            event_type=self.event_type,
            consumer=f"{self.container.service_name}.{self.method_name}",
            error=error,
            deliveries=deliveries,
            failed_at=times.now(),
        )
        config = self.container.config
        try:
            with get_producer(
                config["AMQP_URI"],
                ssl=config.get(AMQP_SSL_CONFIG_KEY),
                login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
            ) as producer:
                dead = dead_letter_queue()
                producer.publish(
                    message.body,
                    exchange=dead.exchange,
                    routing_key=self.queue.name,
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=wire.PERSISTENT,
                    declare=[dead],
                    retry=True,
                )
        except Exception:
            log.exception("could not dead-letter an event of %s: requeued", self.queue.name)
            return False
        log.error(
            "event dead-lettered after %d deliveries: %s (%s)",
            deliveries,
            self.queue.name,
            error,
            extra={"queue": self.queue.name, "deliveries": deliveries},
        )
        return True


class MeasuredHttpHandler(HttpRequestHandler):
    """nameko's HTTP entrypoint, measured (:mod:`shared.metrics`): each request's handling time
    by service, method, route (its pattern, e.g. ``/api/v1/venues/<venue_id>``) and status, until
    the answer is made (a streamed body's sending is not counted). The gateway's and the web
    pages' handlers derive from it."""

    def handle_request(self, request):
        started = time.perf_counter()
        response = None
        try:
            response = super().handle_request(request)
            return response
        finally:
            status = getattr(response, "status_code", 500)
            try:
                metrics.http_answered(
                    self.container.service_name,
                    request.method,
                    self.url,
                    status,
                    time.perf_counter() - started,
                )
            except Exception:  # a metric never fails a request
                log.exception("could not count a request to %s", self.url)


class DeadLetterCount(DependencyProvider):
    """Injects a function answering how many events wait in the platform's dead-letter queue
    (one queue for every service: ``aptic events dead`` says whose), or None if the broker does
    not answer. For a service's ``health``::

        dead_letters = DeadLetterCount()

        @rpc
        def health(self):
            return {"service": self.name, ..., "dead_letters": self.dead_letters()}
    """

    def get_dependency(self, worker_ctx):
        config = self.container.config

        def count():
            try:
                with get_connection(
                    config["AMQP_URI"],
                    ssl=config.get(AMQP_SSL_CONFIG_KEY),
                    login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
                ) as connection:
                    return dead_letter_count(connection)
            except Exception as exc:  # the broker out of reach: health says so, does not fail
                log.warning("could not count the dead letters: %r", exc)
                return None

        return count


def event_handler(source_service, event_type, **kwargs):
    """An event handler shared by all instances of the service (one of them gets each event).

    Delivery is at least once: every handler must be idempotent.
    """
    kwargs.setdefault("expected_exceptions", AppError)
    kwargs.setdefault("reliable_delivery", True)
    return ReliableEventHandler.decorator(source_service, event_type, **kwargs)
