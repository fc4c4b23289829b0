"""The issuance service: a thin nameko adapter over ``services.issuance.api``.

Every method that changes something takes the ``actor`` (``Principal.actor()`` of the gateway);
ownership (a sponsor's own booklets, a distributor's assigned ones) is checked here too.
"""

import base64

from nameko.events import EventDispatcher
from nameko.timer import timer

from services.issuance import api
from services.issuance.documents import CHUNK_BOOKLETS, write_print_file
from services.issuance.settings import Settings
from services.issuance.store import IssuanceRepository
from shared.contracts.schemas_issuance import (
    ActivationInput,
    AssignmentInput,
    BlockOut,
    BookletOut,
    CancellationInput,
    DispatchOut,
    DistributorBookletsOut,
    ListQuery,
    OrderBookletsOut,
    PrintChunkOut,
    PrintFileOut,
)
from shared.entrypoints import event_handler, rpc
from shared.events import DistributorRegistered, OrderConfirmed
from shared.logs import Correlation
from shared.mongo import Store
from shared.outbox import OUTBOX_FLUSH_SECONDS, Outbox
from shared.schemas import ActorSchema
from shared.settings import SettingsProvider

RESUME_SECONDS = 30  # how often a service looks for an issue left unfinished
PURGE_SECONDS = 600  # how often a service deletes stored print files past PRINT_FILE_HOURS


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

    @timer(interval=PURGE_SECONDS)
    def purge_print_files(self):
        """Delete stored print files older than ``PRINT_FILE_HOURS`` (they hold codes)."""
        api.purge_print_files(self.store, self.settings)

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

    @rpc
    def distributor_booklets(self, distributor_id, query, actor):
        """The booklets assigned to a distributor (operator, its sponsor, or the distributor), a
        page of them in serial order; ``query``: ``limit`` (1000), ``offset`` (0)."""
        found = api.distributor_booklets(
            self.store, distributor_id, ListQuery().load_or_raise(query), _actor(actor)
        )
        return DistributorBookletsOut().dump(found)

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
    # Made once, stored in issuance's file bucket (GridFS), read back a chunk at a time: no
    # message carries more than one chunk (docs/issuance.md, "Print files out of RPC").
    def _print(self, booklets, name, title, owner):
        settings = self.settings

        def make(items, path):
            return write_print_file(
                items,
                settings.operator_secret,
                title,
                settings.map_url,
                path,
                workers=settings.print_workers,
            )

        record = api.stored_print_file(self.store, settings, booklets, name, title, owner, make)
        return PrintFileOut().dump(record)

    @rpc
    def print_order(self, order_id, actor):
        """The print file (PDF) of every booklet of an order (operator only): its record.

        Made once and stored: ``{file_id, filename, status, size, pages, sha256, chunk_bytes,
        booklet_count, coupon_count, seconds}`` (the bytes: ``print_file_chunk``).

        The order's booklets are never held together: one pass over the order gives the file's
        key, each chunk of booklets is read from the store when it is drawn (``OrderBooklets``)."""
        booklets = api.order_to_print(self.store, order_id, _actor(actor), CHUNK_BOOKLETS)
        owner = {"order_id": order_id, "sponsor_id": booklets.sponsor_id}
        return self._print(booklets, f"print-{order_id}", f"Impression commande {order_id}", owner)

    @rpc
    def print_booklet(self, serial, actor):
        """The print file (PDF) of one booklet (operator, or its sponsor while it holds it).

        The same record as ``print_order``. Each call is recorded in the booklet's history."""
        booklet = api.booklet_to_print(self.store, serial, _actor(actor))
        name = booklet["serial"]
        owner = {
            "order_id": booklet["order_id"],
            "sponsor_id": booklet["sponsor_id"],
            "serial": name,
        }
        return self._print([booklet], f"print-{name}", f"Impression carnet {name}", owner)

    @rpc
    def print_file(self, file_id, actor):
        """The record of a stored print file (``status``: ``ready`` or ``in_progress``)."""
        return PrintFileOut().dump(api.print_file_of(self.store, file_id, _actor(actor)))

    @rpc
    def print_file_chunk(self, file_id, index, actor):
        """One chunk (1 MiB, ``index`` from 0) of a ready print file, in base64.

        ``{file_id, index, content_b64}``; a chunk of ``chunk_bytes`` is the most a message
        carries."""
        content = api.print_file_chunk(self.store, file_id, index, _actor(actor))
        return PrintChunkOut().dump(
            {
                "file_id": file_id,
                "index": index,
                "content_b64": base64.b64encode(content).decode("ascii"),
            }
        )
