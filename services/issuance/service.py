"""The issuance service: a thin nameko adapter over ``services.issuance.api``.

Every method that changes something takes the ``actor`` (``Principal.actor()`` of the gateway);
ownership (a sponsor's own booklets, a distributor's assigned ones) is checked here too.
"""

import base64
import time

from nameko.events import EventDispatcher
from nameko.timer import timer

from services.issuance import api
from services.issuance.documents import print_file
from services.issuance.schemas import (
    ActivationInput,
    AssignmentInput,
    BlockOut,
    BookletOut,
    CancellationInput,
    DispatchOut,
    ListQuery,
    OrderBookletsOut,
    PrintFileOut,
)
from services.issuance.settings import Settings
from services.issuance.store import IssuanceRepository
from shared.entrypoints import event_handler, rpc
from shared.events import DistributorRegistered, OrderConfirmed
from shared.logs import Correlation
from shared.mongo import Store
from shared.outbox import OUTBOX_FLUSH_SECONDS, Outbox
from shared.schemas import ActorSchema
from shared.settings import SettingsProvider

RESUME_SECONDS = 30  # how often a service looks for an issue left unfinished


def _actor(actor):
    return ActorSchema().load_or_raise(actor)


class IssuanceService:
    name = "issuance"

    store = Store(IssuanceRepository)
    settings = SettingsProvider(Settings)
    dispatch = EventDispatcher()
    outbox = Outbox("booklets")
    correlation = Correlation()

    @timer(interval=OUTBOX_FLUSH_SECONDS)
    def flush_outbox(self):
        """Publish booklet events a crash or a broker outage left in the outbox."""
        self.outbox.flush(self.dispatch)

    @timer(interval=RESUME_SECONDS)
    def resume_issues(self):
        """Finish the issue of orders a crash or a broker outage left half done."""
        api.resume_stalled(self.store, self.settings, self.dispatch)

    def _publish(self, serial):
        self.outbox.publish_pending(self.dispatch, "booklets", {"serial": serial})

    @rpc
    def health(self):
        """Liveness: answers when the service runs and its store answers a ping."""
        return {"service": self.name, "store": self.store.ping()}

    # -- events ---------------------------------------------------------------------------------
    @event_handler("ordering", "order_confirmed")
    def handle_order_confirmed(self, payload):
        """Issue the order's booklets (serial blocks, booklets, ``booklets_issued``), once."""
        api.issue_order(
            self.store, self.settings, OrderConfirmed().load_or_raise(payload), self.dispatch
        )

    @event_handler("ordering", "distributor_registered")
    def handle_distributor_registered(self, payload):
        """Learn a sponsor's distributor (to check assignments)."""
        api.record_distributor(self.store, DistributorRegistered().load_or_raise(payload))

    # -- reading --------------------------------------------------------------------------------
    @rpc
    def get_booklet(self, serial, actor):
        """One booklet (operator, its sponsor, or its assigned distributor); never a code.

        Security codes exist only on paper and in print files."""
        return BookletOut().dump(api.get_booklet(self.store, serial, _actor(actor)))

    @rpc
    def order_booklets(self, order_id, query, actor):
        """The booklets issued for an order (operator or its sponsor), a page of them.

        Serials, coupon range, status; ``query``: ``limit`` (1000), ``offset`` (0)."""
        found = api.order_booklets(
            self.store, order_id, ListQuery().load_or_raise(query), _actor(actor)
        )
        return OrderBookletsOut().dump(found)

    # -- the booklet lifecycle ------------------------------------------------------------------
    @rpc
    def dispatch_booklet(self, serial, actor):
        """The operator sent this booklet to its sponsor (issued -> dispatched)."""
        return BookletOut().dump(api.dispatch_booklet(self.store, serial, _actor(actor)))

    @rpc
    def dispatch_order(self, order_id, actor):
        """The operator sent every still ``issued`` booklet of the order to its sponsor."""
        return DispatchOut().dump(api.dispatch_order(self.store, order_id, _actor(actor)))

    @rpc
    def assign_booklet(self, serial, payload, actor):
        """Its sponsor hands the booklet to one of its distributors (-> assigned)."""
        data = AssignmentInput().load_or_raise(payload)
        booklet = api.assign(self.store, serial, data["distributor_id"], _actor(actor))
        return BookletOut().dump(booklet)

    @rpc
    def activate_booklet(self, serial, payload, actor):
        """The assigned distributor hands the booklet to a beneficiary (-> activated).

        Validity is one year from now; optional anonymous profile; emits
        ``issuance.booklet_activated``."""
        data = ActivationInput().load_or_raise(payload)
        booklet = api.activate(self.store, serial, data["profile"], _actor(actor))
        self._publish(booklet["serial"])
        return BookletOut().dump(booklet)

    @rpc
    def cancel_booklet(self, serial, payload, actor):
        """Its sponsor or the operator reports the booklet lost or stolen (-> cancelled).

        Emits ``issuance.booklet_cancelled`` with every coupon serial of the booklet."""
        data = CancellationInput().load_or_raise(payload)
        booklet = api.cancel(self.store, serial, data["reason"], _actor(actor))
        self._publish(booklet["serial"])
        return BookletOut().dump(booklet)

    @rpc
    def block_booklet(self, serial, actor):
        """Its sponsor or the operator blocks a booklet not yet handed out (-> cancelled,
        reason ``blocked``); emits ``issuance.booklet_cancelled``."""
        booklet = api.block(self.store, serial, _actor(actor))
        self._publish(booklet["serial"])
        return BookletOut().dump(booklet)

    @rpc
    def block_order(self, order_id, actor):
        """Block every booklet of the order not yet handed out (before the end of validity)."""
        result = api.block_order(self.store, order_id, _actor(actor))
        for serial in result["serials"]:
            self._publish(serial)
        return BlockOut().dump(result)

    # -- print files ----------------------------------------------------------------------------
    def _print(self, booklets, name, title):
        started = time.perf_counter()
        settings = self.settings
        content = print_file(
            booklets,
            settings.operator_secret,
            title,
            settings.map_url,
            workers=settings.print_workers,
        )
        return PrintFileOut().dump(
            {
                "filename": f"{name}.pdf",
                "content_b64": base64.b64encode(content).decode("ascii"),
                "booklet_count": len(booklets),
                "coupon_count": sum(len(b["coupon_serials"]) for b in booklets),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    @rpc
    def print_order(self, order_id, actor):
        """The print file (PDF) of every booklet of an order (operator only).

        ``{"filename", "content_b64", "booklet_count", "coupon_count", "seconds"}``."""
        booklets = api.booklets_to_print(self.store, order_id, _actor(actor))
        return self._print(booklets, f"print-{order_id}", f"Impression commande {order_id}")

    @rpc
    def print_booklet(self, serial, actor):
        """The print file (PDF) of one booklet (operator or its sponsor)."""
        booklet = api.booklet_to_print(self.store, serial, _actor(actor))
        name = booklet["serial"]
        return self._print([booklet], f"print-{name}", f"Impression carnet {name}")
