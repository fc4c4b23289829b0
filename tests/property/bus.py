"""An in-memory broker and a controllable clock, to run the platform's services in one process.

:class:`Bus` stands for RabbitMQ as the services use it: every event a service dispatches is
copied (as JSON, as it travels) into one *delivery* per consuming service, each of which may be
delivered late, out of order, or more than once (delivery is at least once, per consumer queue).
Who consumes what is read from the service classes themselves (their ``@event_handler``
entrypoints), so a handler added to a service is driven here without touching this file.

:class:`Clock` stands for the wall clock: ``shared.times.now`` (and every module of the
platform that imported ``now`` by name) answers the clock's time while it is installed.
"""

import importlib
import inspect
import json
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count

from shared import times
from shared.errors import AppError

# the services the machine runs: name -> "module:class"
SERVICES = {
    "ordering": "services.ordering.service:OrderingService",
    "issuance": "services.issuance.service:IssuanceService",
    "redemption": "services.redemption.service:RedemptionService",
    "settlement": "services.settlement.service:SettlementService",
}


def service_class(name):
    module, cls = SERVICES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def routes(names=SERVICES):
    """``{(source_service, event_type): [(consumer, handler method name), ...]}`` from the
    ``@event_handler`` entrypoints of the services ``names``."""
    table = {}
    for consumer in names:
        for method, fn in inspect.getmembers(service_class(consumer), inspect.isfunction):
            for entrypoint in getattr(fn, "nameko_entrypoints", ()):
                source = getattr(entrypoint, "source_service", None)
                event_type = getattr(entrypoint, "event_type", None)
                if source and event_type:
                    table.setdefault((source, event_type), []).append((consumer, method))
    for consumers in table.values():
        consumers.sort()
    return table


@dataclass
class Delivery:
    """One event waiting in (or taken from) one consumer's queue."""

    seq: int
    source: str
    event_type: str
    consumer: str
    handler: str
    payload: dict
    attempts: int = 0

    def label(self):
        return f"#{self.seq} {self.source}.{self.event_type} -> {self.consumer}"


@dataclass
class Bus:
    """Events in flight between the services: ``pending`` (not yet delivered, any order),
    ``delivered`` (may be delivered again), and every event ever dispatched (``log``)."""

    routes: dict
    workers: dict = field(default_factory=dict)  # consumer name -> service worker
    pending: list = field(default_factory=list)
    delivered: list = field(default_factory=list)
    log: list = field(default_factory=list)  # (source, event_type, payload)
    refused: list = field(default_factory=list)  # (delivery label, AppError) acked by the handler
    listeners: list = field(default_factory=list)  # fn(source, event_type, payload) at dispatch
    _seq: count = field(default_factory=lambda: count(1))

    def dispatcher(self, source):
        """The ``dispatch(event_type, payload)`` a service's worker is given."""

        def dispatch(event_type, payload):
            wire = json.loads(json.dumps(payload))  # what travels: JSON, nothing else
            self.log.append((source, event_type, wire))
            for listener in self.listeners:
                listener(source, event_type, wire)
            seq = next(self._seq)
            for consumer, handler in self.routes.get((source, event_type), ()):
                if consumer in self.workers:
                    self.pending.append(
                        Delivery(
                            seq, source, event_type, consumer, handler, json.loads(json.dumps(wire))
                        )
                    )

        return dispatch

    def renumber(self):
        """Go on numbering after the deliveries the bus holds (put back from elsewhere)."""
        held = [d.seq for d in self.pending + self.delivered]
        self._seq = count(max(held, default=0) + 1)

    def publish(self, source, event_type, payload):
        """An event from a service the machine does not run (the catalog's venues)."""
        self.dispatcher(source)(event_type, payload)

    def deliver(self, delivery):
        """Hand ``delivery`` to its consumer's handler, as the broker does: an expected refusal
        (AppError) is acknowledged; anything else is a bug here (the broker would requeue it
        forever), so it propagates."""
        delivery.attempts += 1
        worker = self.workers[delivery.consumer]
        try:
            getattr(worker, delivery.handler)(json.loads(json.dumps(delivery.payload)))
        except AppError as refusal:
            self.refused.append((delivery.label(), refusal))

    def take(self, index):
        """Deliver the pending delivery at ``index`` (any one: the queues are independent)."""
        delivery = self.pending.pop(index)
        self.deliver(delivery)
        self.delivered.append(delivery)
        return delivery

    def drain(self, limit=200):
        """Deliver everything pending, oldest first, including what deliveries dispatch."""
        done = 0
        while self.pending and done < limit:
            self.take(0)
            done += 1
        return done


class Clock:
    """A fake wall clock for the platform: install it, move it, uninstall it.

    Replaces ``shared.times.now`` and the ``now`` that modules of ``services``/``shared``
    imported by name (``from shared.times import now``), for as long as it is installed."""

    installed = []  # clocks installed and not yet uninstalled (see ``uninstall_all``)

    def __init__(self, start):
        self.moment = start
        self._original = times.now
        self._patched = []

    def now(self):
        return self.moment

    def advance(self, **delta):
        self.moment = self.moment + timedelta(**delta)
        return self.moment

    def install(self):
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(("services", "shared")):
                continue
            if getattr(module, "now", None) is self._original:
                self._patched.append(module)
                module.now = self.now
        Clock.installed.append(self)
        return self

    def uninstall(self):
        for module in self._patched:
            module.now = self._original
        self._patched.clear()
        if self in Clock.installed:
            Clock.installed.remove(self)

    @classmethod
    def uninstall_all(cls):
        """Put the real clock back whatever happened (a test's safety net)."""
        for clock in reversed(list(cls.installed)):
            clock.uninstall()

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()
