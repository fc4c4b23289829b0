"""The platform on the wire without nameko: a small AMQP client on pika (see docs/amqp.md).

It speaks what nameko 2.14 speaks, so that any program can call the services and follow their
events: a bank's statement importer, a sponsor's system, a load generator, the ``aptic`` command.
It imports pika, the standard library and the platform's error classes (``shared.errors``, which
imports nothing else): no nameko, no eventlet, no monkey-patching.

* :class:`AmqpClient`: blocking RPC with a time-out (``call``, ``call_async``, ``service``), the
  error envelope mapped to error classes (:func:`wire_error`, or :func:`platform_error` for a
  process that has the platform's own classes), events published with publisher confirms
  (``publish_event``); it reconnects when it finds its connection closed.
* :class:`EventConsumer`: a durable queue bound to one event, manual acknowledgement
  (``get`` -> :class:`Delivery` -> ``ack``; ``run(handler)`` acks after the handler returns),
  reconnection with a growing pause. Delivery is at least once: handlers must be idempotent.

One client (or consumer) per thread: pika's blocking connection is not thread-safe. In a process
that eventlet monkey-patched (a nameko process, a benchmark's green threads), it works too, one
client per green thread.
"""

import hashlib
import json
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import pika
from pika import exceptions as pika_errors

from shared.errors import (  # the platform's own classes (that module imports no nameko)
    AppError,
    Conflict,
    Forbidden,
    InvalidInput,
    LengthRequired,
    NotFound,
    PayloadTooLarge,
    Refused,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

# -- the wire: what nameko 2.14 declares and sends (tests/checks/test_amqp_docs.py checks these
# -- against nameko's own code; docs/amqp.md explains them) --------------------------------------
RPC_EXCHANGE = "nameko-rpc"  # topic, durable: requests and replies
RPC_QUEUE = (
    "rpc-{service}"  # durable, bound with "<service>.*": one per service, its instances share it
)
RPC_ROUTING_KEY = "{service}.{method}"
REPLY_QUEUE = "rpc.reply-{client}-{reply_key}"  # bound to RPC_EXCHANGE with routing key reply_key
EVENT_EXCHANGE = "{service}.events"  # topic, durable: one per dispatching service
EVENT_QUEUE = "evt-{source}-{event_type}--{consumer}"  # nameko: consumer = "<service>.<method>"
HEADER_PREFIX = "nameko."  # context data travels as headers "nameko.<key>"
CORRELATION_HEADER = (
    HEADER_PREFIX + "correlation_id"
)  # shared.logs.CORRELATION_KEY: log correlation
CALL_ID_STACK_HEADER = HEADER_PREFIX + "call_id_stack"  # nameko's call chain (optional)
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"
PERSISTENT = 2  # delivery mode of every request, reply and event
DEFAULT_HEARTBEAT = 60  # seconds, as nameko
DEFAULT_TIMEOUT = 30  # seconds a call waits for its reply (RPC_TIMEOUT of deploy/config.yml)

# -- poison events: delivery limits and the dead-letter queue (docs/operations.md) ----------------
DEAD_LETTER_EXCHANGE = "aptic.dead-letters"  # fanout, durable
DEAD_LETTER_QUEUE = "aptic.dead-letters"  # durable (classic): every event given up, with why
DELIVERY_LIMIT = 10  # deliveries that all failed before a handler gives an event up (default)
BROKER_DELIVERY_LIMIT = 20  # the queue's own limit: an event that keeps killing its consumer
EVENT_QUEUE_ARGUMENTS = {  # every event queue: a quorum queue, its give-ups dead-lettered
    "x-queue-type": "quorum",
    "x-delivery-limit": BROKER_DELIVERY_LIMIT,
    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
}
UPGRADE_SUFFIX = ".upgrading"  # the queue that holds events while a classic queue is upgraded
DELIVERY_COUNT_HEADER = "x-delivery-count"  # set by a quorum queue: earlier deliveries
DEAD_HEADER_PREFIX = "x-aptic-"  # what a handler adds when it gives an event up
DEAD_HEADERS = ("id", "queue", "source", "event-type", "consumer", "error", "deliveries", "at")
REPLAYS_HEADER = DEAD_HEADER_PREFIX + "replays"  # times an event was sent again by an operator

_LOST = (pika_errors.AMQPConnectionError, pika_errors.AMQPChannelError)


# -- errors of the wire itself (not answers of a service) -------------------------------------
class AmqpError(Exception):
    """The call could not be made or answered: no broker, no service, no reply in time."""


class BrokerUnavailable(AmqpError):
    """No connection to the broker (after a few attempts)."""


class ConnectionLost(AmqpError):
    """The connection dropped while a reply was awaited: the call may or may not have been
    done (retry it with the same idempotency key or natural key)."""


class RpcTimeout(AmqpError):
    """No reply within the time-out (the call may still be done)."""


class UnknownService(AmqpError):
    """No queue is bound for this routing key: no instance of the service ever started on this
    broker and virtual host (the message was returned, ``mandatory``)."""


class RemoteError(Exception):
    """An error reply that is not one of the platform's expected errors: a bug in the service,
    or nameko's own refusals (``MethodNotFound``, ``IncorrectSignature``, ``MalformedRequest``).
    """

    def __init__(self, exc_type=None, value="", envelope=None):
        self.exc_type = exc_type
        self.value = value
        self.envelope = envelope or {}
        super().__init__(f"{exc_type} {value}")


# -- the platform's expected errors, as they come back on the wire: the kinds of shared/errors.py
KINDS = {
    cls.__name__: cls
    for cls in (
        AppError,
        InvalidInput,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        LengthRequired,
        UnsupportedMediaType,
        Refused,
        TooManyAttempts,
        Unavailable,
    )
}

# Every code of the error contract by kind (shared/contracts/registry.py): generated, like the end
# of docs/amqp.md, by `python -m aptic.amqp_contract`; a unit test checks it against the registry.
# -- generated: ERROR_KINDS --
ERROR_KINDS = {
    "AppError": ("error",),
    "InvalidInput": (
        "invalid_code_format",
        "invalid_input",
        "invalid_period",
        "invalid_serial",
        "validation_error",
    ),
    "Unauthenticated": ("unauthenticated",),
    "Forbidden": (
        "booklet_handed_out",
        "forbidden",
        "not_yours",
    ),
    "NotFound": (
        "booklet_not_found",
        "coupon_not_found",
        "distributor_not_found",
        "document_not_found",
        "expiry_run_not_found",
        "not_found",
        "order_not_found",
        "order_not_issued",
        "redemption_not_found",
        "service_not_found",
        "settlement_run_not_found",
        "sponsor_not_found",
        "venue_not_found",
    ),
    "Conflict": (
        "conflict",
        "coupon_already_redeemed",
        "idempotency_key_reused",
        "invalid_booklet_transition",
        "invalid_order_transition",
        "invalid_service_transition",
        "invalid_venue_transition",
        "invoice_not_issued",
        "issue_in_progress",
        "payment_reference_conflict",
        "redemption_not_voidable",
        "request_in_progress",
        "run_in_progress",
    ),
    "PayloadTooLarge": ("payload_too_large",),
    "LengthRequired": ("length_required",),
    "UnsupportedMediaType": ("unsupported_media_type",),
    "Refused": (
        "booklet_cancelled",
        "booklet_expired",
        "cofunding_not_eligible",
        "coupon_expired",
        "coupon_not_yet_valid",
        "distributor_of_another_sponsor",
        "envelope_below_reserved",
        "invalid_security_code",
        "overpayment",
        "period_not_over",
        "refused",
        "rule_broken",
        "service_not_offered",
        "state_payment_not_expected",
        "venue_not_accredited",
        "venue_revoked",
    ),
    "TooManyAttempts": (
        "coupon_locked",
        "too_many_attempts",
    ),
    "Unavailable": ("service_unavailable",),
}
# -- end of ERROR_KINDS --
KIND_OF_CODE = {code: KINDS[kind] for kind, codes in ERROR_KINDS.items() for code in codes}

_error_classes = {}


def _is_app_error(envelope):
    """An expected error of the platform travels as ``exc_args = [message, details as JSON text,
    code]`` from a class of ``shared`` or ``services``."""
    args = envelope.get("exc_args") or []
    path = str(envelope.get("exc_path") or "")
    if len(args) != 3 or not all(isinstance(a, str) for a in args):
        return False
    if not path.startswith(("shared.", "services.")):
        return False
    try:
        return isinstance(json.loads(args[1]), dict)
    except ValueError:
        return False


def _error_class(exc_type, code):
    """The class an expected error is raised as: named ``exc_type``, of the kind its code has (or,
    for a code this table does not know, the kind ``exc_type`` names; else :class:`AppError`)."""
    kind = KIND_OF_CODE.get(code) or KINDS.get(exc_type) or AppError
    if exc_type in KINDS or not str(exc_type).isidentifier():
        return KINDS.get(exc_type, kind)
    key = (exc_type, kind)
    if key not in _error_classes:
        _error_classes[key] = type(
            exc_type, (kind,), {"code": code, "__module__": __name__, "__doc__": kind.__doc__}
        )
    return _error_classes[key]


def wire_error(envelope):
    """The exception for an error envelope ``{exc_type, exc_path, exc_args, value}``, without
    nameko: an expected error becomes an :class:`AppError` of its kind, in a class named as the
    service's (``except Refused``, ``exc.code == "coupon_already_redeemed"``); anything else a
    :class:`RemoteError`. The envelope itself is kept as ``exc.envelope``."""
    exc_type = envelope.get("exc_type")
    if _is_app_error(envelope):
        message, details, code = envelope["exc_args"]
        exc = _error_class(exc_type, code)(message, details, code)
    else:
        exc = RemoteError(exc_type, envelope.get("value", ""), envelope)
    exc.envelope = envelope
    return exc


def platform_error(envelope):
    """The exception a nameko proxy raises for this envelope: the platform's own class
    (``shared.errors``, ``shared/contracts/``). Imports nameko: for processes that have it
    already (the gateway, a benchmark next to its services), not for nameko-free programs."""
    from nameko.exceptions import deserialize

    from shared.contracts import registry  # noqa: F401  (every service's errors, by class)

    return deserialize(envelope)


# -- connections --------------------------------------------------------------------------------
def connection_parameters(amqp_uri, heartbeat=DEFAULT_HEARTBEAT, name=None):
    """pika's parameters for the platform's ``AMQP_URI`` (kombu's ``pyamqp://`` is ``amqp://``;
    the path is the virtual host, as for kombu)."""
    parts = urlsplit(amqp_uri)
    scheme = {"pyamqp": "amqp", "librabbitmq": "amqp", "amqp": "amqp", "amqps": "amqps"}.get(
        parts.scheme
    )
    if scheme is None:
        raise ValueError(f"not an AMQP URI: {parts.scheme}://...")
    params = pika.URLParameters(urlunsplit((scheme, parts.netloc, parts.path, parts.query, "")))
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 300
    if name:
        params.client_properties = {"connection_name": name}
    return params


def _connect(params, attempts, delay=0.5):
    for attempt in range(1, attempts + 1):
        try:
            return pika.BlockingConnection(params)
        except pika_errors.AMQPConnectionError as exc:
            if attempt == attempts:
                raise BrokerUnavailable(
                    f"no broker at {params.host}:{params.port}: {exc!r}"
                ) from exc
            time.sleep(delay * 2 ** (attempt - 1))
    raise BrokerUnavailable("no attempt made")  # attempts < 1


def _properties(log_correlation_id=None, headers=None, **kwargs):
    """JSON, persistent, with the platform's correlation id for logs in ``nameko.correlation_id``
    (``correlation_id`` of the AMQP properties is another thing: it pairs a reply with its call)."""
    headers = dict(headers or {})
    if log_correlation_id:
        headers[CORRELATION_HEADER] = log_correlation_id
    return pika.BasicProperties(
        content_type=CONTENT_TYPE,
        content_encoding=CONTENT_ENCODING,
        delivery_mode=PERSISTENT,
        headers=headers,
        **kwargs,
    )


def _encode(data):
    return json.dumps(data, ensure_ascii=False).encode(CONTENT_ENCODING)


def declare_event_exchange(channel, source):
    """``<source>.events``: a durable topic exchange, as nameko declares it."""
    exchange = EVENT_EXCHANGE.format(service=source)
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    return exchange


def declare_event_queue(channel, source, event_type, queue):
    """A durable quorum queue (:data:`EVENT_QUEUE_ARGUMENTS`) bound to ``<source>.events`` with
    the event type as routing key: events wait there while no consumer runs. A classic queue of
    the same name (an older release) makes the broker close the channel (406
    PRECONDITION_FAILED): :func:`ensure_event_queue` upgrades it."""
    exchange = declare_event_exchange(channel, source)
    declare_dead_letters(channel)
    channel.queue_declare(
        queue, durable=True, exclusive=False, auto_delete=False, arguments=EVENT_QUEUE_ARGUMENTS
    )
    channel.queue_bind(queue, exchange, routing_key=event_type)
    return queue


def declare_dead_letters(channel):
    """The dead-letter exchange and queue; the number of events in the queue."""
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="fanout", durable=True)
    declared = channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
    channel.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key="")
    return declared.method.message_count


def _move(channel, source_queue, target_queue):
    """Every event of ``source_queue`` into ``target_queue``, each confirmed then acknowledged."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source_queue, auto_ack=False)
        if method is None:
            return moved
        channel.basic_publish("", target_queue, body, properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1


def upgrade_event_queue(connection, source, event_type, queue):
    """Turn an event queue declared otherwise (a classic queue of an older release) into the
    platform's quorum queue, keeping its events: they wait in ``<queue>.upgrading`` (bound
    first, so that nothing published meanwhile is lost) while the queue is deleted and declared
    again. An event published while both are bound may be delivered twice (handlers are
    idempotent). Returns the number of events carried over."""
    holding = queue + UPGRADE_SUFFIX
    channel = connection.channel()
    channel.confirm_delivery()
    exchange = declare_event_exchange(channel, source)
    declare_dead_letters(channel)
    channel.queue_declare(holding, durable=True, arguments=EVENT_QUEUE_ARGUMENTS)
    channel.queue_bind(holding, exchange, routing_key=event_type)
    channel.queue_unbind(queue, exchange, routing_key=event_type)
    moved = _move(channel, queue, holding)
    channel.queue_delete(queue)
    channel.close()  # RabbitMQ 3.10: a channel that knew the old queue cannot declare the new
    channel = connection.channel()
    channel.confirm_delivery()
    declare_event_queue(channel, source, event_type, queue)
    channel.queue_unbind(holding, exchange, routing_key=event_type)
    _move(channel, holding, queue)
    channel.queue_delete(holding)
    channel.close()
    log.warning("event queue %s upgraded to a quorum queue (%d events carried over)", queue, moved)
    return moved


def ensure_event_queue(amqp_uri, source, event_type, queue, connect_attempts=6):
    """Declare an event queue on its own connection, upgrading it first if an older release
    declared it otherwise (the broker answers 406 PRECONDITION_FAILED). Services call it when
    they start, before consuming."""
    params = connection_parameters(amqp_uri, name=f"aptic queue set-up ({queue})")
    connection = _connect(params, connect_attempts)
    try:
        try:
            declare_event_queue(connection.channel(), source, event_type, queue)
        except pika_errors.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            log.warning("event queue %s was declared otherwise (%s): upgrading", queue, exc)
            upgrade_event_queue(connection, source, event_type, queue)
        else:
            _finish_upgrade(connection, source, event_type, queue)
    finally:
        if connection.is_open:
            connection.close()


def _finish_upgrade(connection, source, event_type, queue):
    """An upgrade interrupted after the old queue was deleted left ``<queue>.upgrading``, still
    bound: its events go to the queue, and it goes."""
    holding = queue + UPGRADE_SUFFIX
    quiet = logging.getLogger("pika.channel")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its 404 is the usual answer, not news
    try:
        connection.channel().queue_declare(holding, passive=True)
    except pika_errors.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:  # none: the usual case
            return
        raise
    finally:
        quiet.setLevel(level)
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_unbind(holding, EVENT_EXCHANGE.format(service=source), routing_key=event_type)
    moved = _move(channel, holding, queue)
    channel.queue_delete(holding)
    channel.close()
    log.warning("an interrupted upgrade of %s finished (%d events carried over)", queue, moved)


def deliveries(headers):
    """How many times the broker delivered this event, this one included (a quorum queue says
    ``x-delivery-count``: the deliveries before)."""
    try:
        return int((headers or {}).get(DELIVERY_COUNT_HEADER) or 0) + 1
    except (TypeError, ValueError):
        return 1


def dead_letter_headers(
    headers, queue, source, event_type, consumer, error, deliveries, failed_at=None
):
    """The headers of an event given up by its handler: its own (``nameko.*``: correlation id),
    and why (``x-aptic-queue``, ``-source``, ``-event-type``, ``-consumer``, ``-error``,
    ``-deliveries``, ``-at``), with an ``x-aptic-id`` to replay it by."""
    failed_at = failed_at or datetime.now(UTC)
    kept = {k: v for k, v in (headers or {}).items() if not _broker_or_dead_header(k)}
    why = {
        "id": uuid.uuid4().hex[:16],
        "queue": queue,
        "source": source,
        "event-type": event_type,
        "consumer": consumer,
        "error": str(error)[:1000],
        "deliveries": int(deliveries),
        "at": failed_at.isoformat(),
    }
    return {**kept, **{DEAD_HEADER_PREFIX + key: value for key, value in why.items()}}


def _broker_or_dead_header(key):
    return key in ("x-death", DELIVERY_COUNT_HEADER) or (
        key.startswith(DEAD_HEADER_PREFIX) and key != REPLAYS_HEADER
    )


# -- RPC and publishing ---------------------------------------------------------------------------
class Reply:
    """A call in flight: ``ready(timeout)`` waits up to ``timeout`` seconds, ``result()`` until
    the call's own deadline; the result, or the error of the envelope, raised."""

    def __init__(self, client, service, method, correlation_id, deadline, generation):
        self.client = client
        self.service = service
        self.method = method
        self.correlation_id = correlation_id
        self.deadline = deadline
        self.generation = generation
        self._body = None

    def ready(self, timeout=0):
        if self._body is None:
            self._body = self.client._wait(self, timeout)
        return self._body is not None

    def result(self):
        while not self.ready(timeout=None):
            pass
        error = self._body.get("error")
        if error:
            raise self.client.errors(error)
        return self._body.get("result")


class _ServiceProxy:
    def __init__(self, client, service):
        self._client, self._service = client, service

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args, **kwargs):
            return self._client.call(self._service, method, *args, **kwargs)

        call.__name__ = method
        return call


class _Connected:
    """What :class:`AmqpClient` and :class:`EventConsumer` share: one pika connection (and its
    channel), closed on request or dropped when found dead; ``_forget`` clears what belonged to
    it."""

    _connection = _channel = None

    def __exit__(self, *exc_info):
        self.close()

    def _forget(self):
        """Clear the state that belonged to the connection (each subclass has its own)."""

    def close(self):
        connection, self._connection, self._channel = self._connection, None, None
        self._forget()
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except _LOST:
                pass

    def _drop(self):
        """Forget a connection found dead (see ``_forget`` for what goes with it)."""
        connection, self._connection, self._channel = self._connection, None, None
        self._forget()
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken: nothing to save
                pass


class AmqpClient(_Connected):
    """Calls the platform's services and publishes events, over one connection.

    ``AmqpClient(amqp_uri).call("redemption", "check_coupon", venue_id, {...})``, or
    ``client.service("redemption").check_coupon(venue_id, {...})``. A call waits ``timeout``
    seconds for its reply (``None``: for ever). Every request carries the correlation id given
    here (one for all the client's calls, e.g. one per command), else a new one per call.
    Error envelopes are raised through ``errors``: :func:`wire_error` (default, nameko-free) or
    :func:`platform_error`.
    """

    def __init__(
        self,
        amqp_uri,
        timeout=DEFAULT_TIMEOUT,
        name="amqp_client",
        correlation_id=None,
        errors=wire_error,
        heartbeat=DEFAULT_HEARTBEAT,
        connect_attempts=3,
    ):
        self.params = connection_parameters(amqp_uri, heartbeat, name)
        self.timeout = timeout
        self.name = name
        self.correlation_id = correlation_id
        self.errors = errors
        self.connect_attempts = connect_attempts
        self._connection = self._channel = None
        self._generation = 0
        self._reply_key = None
        self._replies = {}  # correlation id -> reply body, for the calls awaited
        self._exchanges = set()

    # connection
    def __enter__(self):
        return self

    def _forget(self):
        """Calls awaiting a reply on the connection fail (ConnectionLost); exchanges are
        declared again on the next."""
        self._replies.clear()
        self._exchanges.clear()

    def _open(self):
        """The channel, connected (again if the broker closed the connection since)."""
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.process_data_events(0)  # notices a close the broker sent
                return self._channel
            except _LOST as exc:
                log.warning("AMQP connection lost (%r): reconnecting", exc)
                self._drop()
        self._connection = _connect(self.params, self.connect_attempts)
        self._generation += 1
        channel = self._connection.channel()
        channel.confirm_delivery()  # publisher confirms: returned (mandatory) and nacked raise
        channel.exchange_declare(RPC_EXCHANGE, exchange_type="topic", durable=True)
        self._reply_key = str(uuid.uuid4())
        queue = REPLY_QUEUE.format(client=self.name, reply_key=self._reply_key)
        channel.queue_declare(queue, exclusive=True, auto_delete=True)
        channel.queue_bind(queue, RPC_EXCHANGE, routing_key=self._reply_key)
        channel.basic_consume(queue, self._on_reply, auto_ack=True)
        self._channel = channel
        return channel

    def _on_reply(self, channel, method, properties, body):
        correlation_id = properties.correlation_id
        if correlation_id in self._replies:
            self._replies[correlation_id] = json.loads(body)
        else:  # the reply of a call given up (timed out): dropped
            log.debug("reply to an unknown call %s dropped", correlation_id)

    # RPC
    def request(self, service, method, args=(), kwargs=None, timeout=..., correlation_id=None):
        """Send a request; returns its :class:`Reply` at once (``timeout``: the client's)."""
        timeout = self.timeout if timeout is ... else timeout
        channel = self._open()
        call_id = str(uuid.uuid4())
        log_correlation_id = correlation_id or self.correlation_id or uuid.uuid4().hex
        headers = {CALL_ID_STACK_HEADER: [f"{self.name}.{method}.{call_id}"]}
        properties = _properties(
            log_correlation_id, headers, reply_to=self._reply_key, correlation_id=call_id
        )
        body = _encode({"args": list(args), "kwargs": dict(kwargs or {})})
        self._replies[call_id] = None
        try:
            channel.basic_publish(
                RPC_EXCHANGE,
                RPC_ROUTING_KEY.format(service=service, method=method),
                body,
                properties,
                mandatory=True,
            )
        except pika_errors.UnroutableError:
            self._replies.pop(call_id, None)
            raise UnknownService(service) from None
        except pika_errors.NackError:
            self._replies.pop(call_id, None)
            raise AmqpError(f"the broker refused the request to {service}.{method}") from None
        except _LOST as exc:
            self._drop()
            raise ConnectionLost(f"{service}.{method}: {exc!r}") from exc
        deadline = None if timeout is None else time.monotonic() + timeout
        return Reply(self, service, method, call_id, deadline, self._generation)

    def _wait(self, reply, timeout):
        """The reply's body, or None after ``timeout`` seconds (None: until its deadline)."""
        until = reply.deadline
        if timeout is not None:
            until = (
                time.monotonic() + timeout
                if until is None
                else min(until, time.monotonic() + timeout)
            )
        polled = False  # read the socket at least once, even with timeout=0
        while True:
            if reply.generation != self._generation or reply.correlation_id not in self._replies:
                raise ConnectionLost(f"{reply.service}.{reply.method}: connection lost")
            body = self._replies[reply.correlation_id]
            if body is not None:
                del self._replies[reply.correlation_id]
                return body
            now = time.monotonic()
            if reply.deadline is not None and now >= reply.deadline:
                del self._replies[reply.correlation_id]
                raise RpcTimeout(f"{reply.service}.{reply.method}: no reply in time")
            if polled and until is not None and now >= until:
                return None
            step = 1.0 if until is None else max(0.0, min(1.0, until - now))
            try:
                self._connection.process_data_events(time_limit=step)
            except _LOST as exc:
                self._drop()
                raise ConnectionLost(f"{reply.service}.{reply.method}: {exc!r}") from exc
            polled = True

    def call_async(self, service, method, *args, **kwargs):
        return self.request(service, method, args, kwargs)

    def call(self, service, method, *args, **kwargs):
        """Call ``service.method(*args, **kwargs)`` and wait for its result."""
        return self.request(service, method, args, kwargs).result()

    def service(self, name):
        """``client.service("ordering").get_order(order_id, actor)``."""
        return _ServiceProxy(self, name)

    # events
    def publish_event(self, source, event_type, payload, correlation_id=None):
        """Publish an event as ``source`` dispatches it (exchange ``<source>.events``, routing key
        the event type), confirmed by the broker. Retried once on a new connection if the first
        attempt meets a lost one: an event may be published twice, never lost silently."""
        body = _encode(payload)
        correlation_id = correlation_id or self.correlation_id or uuid.uuid4().hex
        properties = _properties(correlation_id)
        for attempt in (1, 2):
            channel = self._open()
            try:
                if source not in self._exchanges:
                    declare_event_exchange(channel, source)
                    self._exchanges.add(source)
                channel.basic_publish(
                    EVENT_EXCHANGE.format(service=source), event_type, body, properties
                )
                return
            except pika_errors.NackError:
                raise AmqpError(f"the broker refused the event {source}.{event_type}") from None
            except _LOST:
                self._drop()
                if attempt == 2:
                    raise


# -- consuming events ----------------------------------------------------------------------------
class Drop(Exception):
    """Raised by a handler of :meth:`EventConsumer.run`: the event is acknowledged and dropped
    (a payload it can never take), not requeued."""


class Delivery:
    """One event received and not yet acknowledged: ``payload`` (the JSON body), ``source``,
    ``event_type``, ``headers``, ``correlation_id``, ``redelivered`` (the broker delivered it
    before, unacknowledged). ``ack()`` when done; ``requeue()`` to have it delivered again."""

    def __init__(self, consumer, generation, method, properties, body):
        self._consumer = consumer
        self._generation = generation
        self.delivery_tag = method.delivery_tag
        self.redelivered = bool(method.redelivered)
        self.exchange = method.exchange
        self.event_type = method.routing_key
        self.source = method.exchange.removesuffix(".events")
        self.headers = dict(properties.headers or {})
        self.correlation_id = self.headers.get(CORRELATION_HEADER)
        self.content_type = properties.content_type
        self.body = body
        self.properties = properties
        self.deliveries = deliveries(self.headers)  # this one included
        self.payload = json.loads(body)

    def ack(self):
        """Acknowledge: the broker forgets the event. False if the connection it came on is
        gone (the broker will deliver it again: handlers are idempotent)."""
        return self._consumer._settle(self, requeue=None)

    def requeue(self):
        return self._consumer._settle(self, requeue=True)

    def dead_letter(self, error):
        """Give the event up: publish it to the dead-letter queue with ``error`` (confirmed),
        then acknowledge it. False if its connection is gone (it comes again)."""
        return self._consumer._dead_letter(self, error)


class EventConsumer(_Connected):
    """Consumes one event type of one service from a durable queue of its own, acknowledging by
    hand. ``consumer`` names the consuming program as nameko names handlers (``"<service>.<method>"``):
    the queue is ``evt-<source>-<event_type>--<consumer>``, shared by the program's instances
    (each event goes to one of them) and kept while none runs. ``prefetch``: events delivered
    and not yet acknowledged at a time. Reconnects (pause doubling up to ``max_pause``) when the
    connection drops, and declares its queue again if the broker cancels the consumer (the queue
    was deleted); what was not acknowledged is delivered again."""

    def __init__(
        self,
        amqp_uri,
        source,
        event_type,
        consumer,
        queue=None,
        prefetch=1,
        heartbeat=DEFAULT_HEARTBEAT,
        max_pause=30,
        delivery_limit=DELIVERY_LIMIT,
    ):
        self.params = connection_parameters(
            amqp_uri, heartbeat, f"{consumer} ({source}.{event_type})"
        )
        self.source, self.event_type = source, event_type
        self.queue = queue or EVENT_QUEUE.format(
            source=source, event_type=event_type, consumer=consumer
        )
        self.prefetch = prefetch
        self.max_pause = max_pause
        self.consumer = consumer
        self.delivery_limit = delivery_limit
        self._connection = self._channel = None
        self._generation = 0
        self._pending = deque()
        self._cancelled = False

    def __enter__(self):
        self.declare()
        return self

    def _forget(self):
        self._pending.clear()  # not acknowledged: the broker delivers them again

    def declare(self, deadline=None):
        """Connect, declare exchange and queue, start consuming; retries until ``deadline``
        (a ``time.monotonic()`` value; None: for ever)."""
        pause = 0.5
        while self._connection is None:
            try:
                connection = pika.BlockingConnection(self.params)
            except pika_errors.AMQPConnectionError as exc:
                if deadline is not None and time.monotonic() + pause > deadline:
                    raise BrokerUnavailable(f"no broker for {self.queue}: {exc!r}") from exc
                log.warning("no broker (%r): trying again in %.1f s", exc, pause)
                time.sleep(pause)
                pause = min(pause * 2, self.max_pause)
                continue
            try:
                channel = connection.channel()
                declare_event_queue(channel, self.source, self.event_type, self.queue)
            except pika_errors.ChannelClosedByBroker as exc:
                if exc.reply_code != 406:
                    raise
                upgrade_event_queue(connection, self.source, self.event_type, self.queue)
                channel = connection.channel()
                declare_event_queue(channel, self.source, self.event_type, self.queue)
            channel.basic_qos(prefetch_count=self.prefetch)
            generation = self._generation + 1

            def on_message(channel, method, properties, body, generation=generation):
                self._pending.append((generation, method, properties, body))

            def on_cancel(frame):  # the broker cancelled the consumer: its queue was deleted
                self._cancelled = True

            channel.add_on_cancel_callback(on_cancel)
            channel.basic_consume(self.queue, on_message, auto_ack=False)
            self._connection, self._channel, self._generation = connection, channel, generation
            self._cancelled = False
        return self

    def get(self, timeout=None):
        """The next event (a :class:`Delivery`, to acknowledge), or None after ``timeout``
        seconds (None: wait for ever), reconnecting as needed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        polled = False  # read the socket at least once, even with timeout=0
        while True:
            if self._pending:
                generation, method, properties, body = self._pending.popleft()
                return Delivery(self, generation, method, properties, body)
            try:
                self.declare(deadline)  # at once after a loss: the queue is there again
            except BrokerUnavailable:
                return None
            now = time.monotonic()
            if polled and deadline is not None and now >= deadline:
                return None
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - now))
            try:
                self._connection.process_data_events(time_limit=step)
            except _LOST as exc:
                log.warning("lost the connection of %s (%r): reconnecting", self.queue, exc)
                self._drop()
            if self._cancelled:
                log.warning(
                    "the broker cancelled the consumer of %s: declaring it again", self.queue
                )
                self._drop()
            polled = True

    def _settle(self, delivery, requeue):
        if delivery._generation != self._generation or self._channel is None:
            return False  # its connection is gone: the broker has requeued it already
        try:
            if requeue is None:
                self._channel.basic_ack(delivery.delivery_tag)
            else:
                self._channel.basic_nack(delivery.delivery_tag, requeue=requeue)
            return True
        except _LOST as exc:
            log.warning("could not settle an event of %s (%r): it comes again", self.queue, exc)
            self._drop()
            return False

    def _dead_letter(self, delivery, error):
        if delivery._generation != self._generation or self._connection is None:
            return False
        headers = dead_letter_headers(
            delivery.headers,
            queue=self.queue,
            source=self.source,
            event_type=self.event_type,
            consumer=self.consumer,
            error=error,
            deliveries=delivery.deliveries,
        )
        properties = delivery.properties
        properties = pika.BasicProperties(
            content_type=properties.content_type,
            content_encoding=properties.content_encoding,
            delivery_mode=PERSISTENT,
            headers=headers,
        )
        try:
            channel = self._connection.channel()
            channel.confirm_delivery()
            channel.basic_publish(DEAD_LETTER_EXCHANGE, self.queue, delivery.body, properties)
            channel.close()
        except (_LOST[0], _LOST[1], pika_errors.NackError) as exc:
            log.warning("could not dead-letter an event of %s (%r): requeued", self.queue, exc)
            return delivery.requeue()
        log.error(
            "event of %s dead-lettered after %d deliveries: %s",
            self.queue,
            delivery.deliveries,
            error,
        )
        return delivery.ack()

    def run(self, handler, max_events=None, idle_timeout=None, requeue_pause=1.0):
        """Call ``handler(delivery)`` for each event, acknowledging when it returns. A handler
        that raises :class:`Drop` has the event acknowledged; any other exception puts it back
        on the queue (after ``requeue_pause`` seconds, so that a failing handler does not spin),
        until the event has failed ``delivery_limit`` times: then it goes to the dead-letter
        queue with the error. Returns the number of events handled, after ``max_events`` or
        ``idle_timeout`` seconds without one (None: for ever)."""
        handled = 0
        while max_events is None or handled < max_events:
            delivery = self.get(timeout=idle_timeout)
            if delivery is None:
                break
            try:
                handler(delivery)
            except Drop:
                delivery.ack()
            except Exception as exc:
                if delivery.deliveries >= self.delivery_limit:
                    delivery.dead_letter(f"{type(exc).__name__}: {exc}")
                    handled += 1
                    continue
                log.exception("handler failed on %s: requeued", self.queue)
                time.sleep(requeue_pause)
                delivery.requeue()
                continue
            else:
                delivery.ack()
            handled += 1
        return handled


# -- the dead-letter queue: what the operator reads and sends again (aptic events) ---------------
class DeadLetter:
    """An event in the dead-letter queue: ``id``, ``queue`` it was given up on, ``source``,
    ``event_type``, ``consumer`` (``<service>.<method>``), ``at`` (when, ISO 8601), ``error``
    (why), ``deliveries``, ``replays`` (times sent again before), ``payload``. Given up by its
    handler (``x-aptic-*`` headers), or by the broker's delivery limit (``x-death``)."""

    def __init__(self, method, properties, body):
        self.delivery_tag = method.delivery_tag
        self.properties = properties
        self.body = body
        self.headers = dict(properties.headers or {})
        death = (self.headers.get("x-death") or [{}])[0]

        def own(key):
            return self.headers.get(DEAD_HEADER_PREFIX + key)

        self.queue = own("queue") or death.get("queue") or ""
        self.source = own("source") or str(death.get("exchange") or "").removesuffix(".events")
        self.event_type = own("event-type") or next(iter(death.get("routing-keys") or []), "")
        self.consumer = own("consumer") or self.queue.partition("--")[2]
        at = own("at") or death.get("time") or ""
        self.at = at.isoformat() if hasattr(at, "isoformat") else str(at)
        reason = death.get("reason")
        self.error = own("error") or (
            f"{reason}: delivered more than {BROKER_DELIVERY_LIMIT} times without an answer"
            " (its consumer crashed or lost its connection)"
            if reason == "delivery_limit"
            else str(reason or "unknown")
        )
        self.deliveries = own("deliveries") or death.get("count") or 0
        self.replays = int(self.headers.get(REPLAYS_HEADER) or 0)
        digest = hashlib.sha256(f"{self.queue}|{self.at}|".encode() + body).hexdigest()
        self.id = own("id") or digest[:16]
        try:
            self.payload = json.loads(body)
        except ValueError:
            self.payload = body.decode(errors="replace")

    def summary(self, width=80):
        """The payload on one line, cut to ``width`` characters."""
        text = json.dumps(self.payload, ensure_ascii=False, sort_keys=True, default=str)
        return text if len(text) <= width else text[: width - 1] + "…"

    def to_dict(self):
        keys = ("id", "queue", "source", "event_type", "consumer", "at", "error", "deliveries")
        return {key: getattr(self, key) for key in keys} | {
            "replays": self.replays,
            "payload": self.payload,
        }


class DeadLetters:
    """The dead-letter queue, over one connection: ``count()``, ``list()``, ``replay(ids)``.
    ``list`` reads every event without taking it (each is given back to the queue)."""

    def __init__(self, amqp_uri, name="aptic events", connect_attempts=3):
        self.params = connection_parameters(amqp_uri, name=name)
        self.connect_attempts = connect_attempts
        self._connection = None

    def __enter__(self):
        self._connection = _connect(self.params, self.connect_attempts)
        return self

    def __exit__(self, *exc_info):
        if self._connection is not None and self._connection.is_open:
            self._connection.close()
        self._connection = None

    def _channel(self):
        channel = self._connection.channel()
        declare_dead_letters(channel)
        return channel

    def count(self):
        channel = self._channel()
        count = declare_dead_letters(channel)
        channel.close()
        return count

    def _take_all(self, channel):
        taken = []
        for _ in range(declare_dead_letters(channel)):
            method, properties, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
            if method is None:
                break
            taken.append(DeadLetter(method, properties, body))
        return taken

    def list(self):
        channel = self._channel()
        try:
            return self._take_all(channel)
        finally:
            channel.close()  # not acknowledged: every one back in the queue, in its place

    def replay(self, ids=None):
        """Send again to its queue each event whose id is in ``ids`` (None: all), as its
        source published it (the dead-letter headers removed, ``x-aptic-replays`` counting),
        confirmed by the broker, then take it out of the dead-letter queue. Returns
        ``(replayed, missing)``: the events sent, and those whose queue no longer exists (left
        in the dead-letter queue)."""
        channel = self._channel()
        channel.confirm_delivery()
        replayed, missing = [], []
        try:
            for dead in self._take_all(channel):
                if ids is not None and dead.id not in ids:
                    continue
                headers = {k: v for k, v in dead.headers.items() if not _broker_or_dead_header(k)}
                headers[REPLAYS_HEADER] = dead.replays + 1
                properties = pika.BasicProperties(
                    content_type=dead.properties.content_type,
                    content_encoding=dead.properties.content_encoding,
                    delivery_mode=PERSISTENT,
                    headers=headers,
                )
                try:
                    channel.basic_publish("", dead.queue, dead.body, properties, mandatory=True)
                except pika_errors.UnroutableError:
                    missing.append(dead)
                    continue
                channel.basic_ack(dead.delivery_tag)
                replayed.append(dead)
        finally:
            channel.close()  # the others back in the queue
        return replayed, missing


def dead_letter_count(amqp_uri):
    """How many events wait in the dead-letter queue (declared if need be)."""
    with DeadLetters(amqp_uri, name="dead-letter count") as dead:
        return dead.count()
