"""The ordering service: a thin nameko adapter over ``services.ordering.api``.

Every method that changes something takes the ``actor`` (``Principal.actor()`` of the gateway);
ownership (a sponsor acts on its own sponsor, distributors and orders only) is checked here too.
"""

import base64

from nameko.events import EventDispatcher
from nameko.timer import timer

from services.ordering import api
from services.ordering.documents import invoice_chunk, stored_invoice
from services.ordering.settings import Settings
from services.ordering.store import OrderingRepository
from shared.contracts.schemas_ordering import (
    CampaignInput,
    CampaignOut,
    CampaignYear,
    CancelInput,
    CofundingDecisionInput,
    DistributorInput,
    DistributorListOut,
    DistributorOut,
    OrderInput,
    OrderListOut,
    OrderOut,
    OrderQuery,
    OrderStatus,
    PaymentInput,
    PaymentRecordedOut,
    QuoteAnswerOut,
    QuoteInput,
    SponsorInput,
    SponsorOut,
)
from shared.entrypoints import event_handler, rpc
from shared.errors import InvalidInput, NotFound
from shared.events import BookletsIssued
from shared.logs import Correlation
from shared.mongo import Store
from shared.outbox import OUTBOX_FLUSH_SECONDS, Outbox
from shared.schemas import ActorSchema
from shared.settings import SettingsProvider


def _actor(actor):
    return ActorSchema().load_or_raise(actor)


INVOICE_RECORD = ("reference", "filename", "file_id", "size", "sha256", "chunk_bytes")


class OrderingService:
    name = "ordering"

    store = Store(OrderingRepository)
    settings = SettingsProvider(Settings)
    dispatch = EventDispatcher()
    outbox = Outbox("orders", "distributors")
    correlation = Correlation()

    @timer(interval=OUTBOX_FLUSH_SECONDS)
    def flush_outbox(self):
        """Publish events a crash or a broker outage left in the outbox."""
        self.outbox.flush(self.dispatch)

    def _publish(self, order_id):
        self.outbox.publish_pending(self.dispatch, "orders", {"id": order_id})

    @rpc
    def health(self):
        """Liveness: answers when the service runs and its store answers a ping."""
        return {"service": self.name, "store": self.store.ping()}

    # -- sponsors and distributors --------------------------------------------------------------
    @rpc
    def register_sponsor(self, payload, actor):
        """Register a sponsor (operator). Returns it with its ``id``."""
        sponsor = api.register_sponsor(
            self.store, SponsorInput().load_or_raise(payload), _actor(actor)
        )
        return SponsorOut().dump(sponsor)

    @rpc
    def get_sponsor(self, sponsor_id, actor):
        """One sponsor (operator, or the sponsor itself)."""
        return SponsorOut().dump(api.get_sponsor(self.store, sponsor_id, _actor(actor)))

    @rpc
    def register_distributor(self, payload, actor):
        """Register a distributor of a sponsor; emits ``ordering.distributor_registered``."""
        distributor = api.register_distributor(
            self.store, DistributorInput().load_or_raise(payload), _actor(actor)
        )
        self.outbox.publish_pending(self.dispatch, "distributors", {"id": distributor["id"]})
        return DistributorOut().dump(distributor)

    @rpc
    def get_distributor(self, distributor_id, actor):
        """One distributor (operator, its sponsor, or the distributor itself)."""
        found = api.get_distributor(self.store, distributor_id, _actor(actor))
        return DistributorOut().dump(found)

    @rpc
    def list_distributors(self, sponsor_id, actor):
        """A sponsor's distributors, by name (operator, or the sponsor itself)."""
        found = api.list_distributors(self.store, sponsor_id, _actor(actor))
        return DistributorListOut().dump({"distributors": found})

    # -- co-funding campaigns -------------------------------------------------------------------
    @rpc
    def set_cofunding_campaign(self, payload, actor):
        """Set a year's State co-funding rate (bp) and envelope (operator)."""
        campaign = api.set_campaign(
            self.store, self.settings, CampaignInput().load_or_raise(payload), _actor(actor)
        )
        return CampaignOut().dump(campaign)

    @rpc
    def get_cofunding_campaign(self, year):
        """A year's campaign: rate, envelope and what is left of it."""
        year = CampaignYear().load_or_raise({"year": year})["year"]
        return CampaignOut().dump(api.current_campaign(self.store, self.settings, year))

    # -- orders ---------------------------------------------------------------------------------
    @rpc
    def create_order(self, payload, actor):
        """A draft order of a sponsor (its own) with its quote.

        Co-funding asked by a sponsor that cannot have it is refused (``cofunding_not_eligible``).
        """
        order = api.create_order(
            self.store, self.settings, OrderInput().load_or_raise(payload), _actor(actor)
        )
        return OrderOut().dump(order)

    @rpc
    def quote_order(self, payload, actor):
        """What an order would cost, stored nowhere (its sponsor asks, as it fills its form).

        The quote of ``create_order`` and the State's rate applied; ``state_cofunding`` is true
        or false here; asked by a sponsor that cannot have it, ``cofunding_not_eligible``."""
        found = api.quote_order(
            self.store, self.settings, QuoteInput().load_or_raise(payload), _actor(actor)
        )
        return QuoteAnswerOut().dump(found)

    @rpc
    def get_order(self, order_id, actor):
        """An order with its status, quote, co-funding, payments, invoice and history."""
        return OrderOut().dump(api.get_order(self.store, order_id, _actor(actor)))

    @rpc
    def list_orders(self, query, actor):
        """Orders of a sponsor (a sponsor key: its own), oldest first; filters of OrderQuery."""
        data = OrderQuery().load_or_raise(query)
        orders, total = api.list_orders(self.store, data, _actor(actor))
        page = {"total": total, "limit": data["limit"], "offset": data["offset"]}
        return OrderListOut().dump({**page, "orders": orders})

    @rpc
    def submit_order(self, order_id, actor):
        """Submit a draft: invoiced, or its State share reserved, or co-funding refused at once.

        ``cofunding_pending`` when the share is reserved; ``cofunding_refused`` (with reason code
        ``cofunding_envelope_exhausted``) when what is left of the envelope cannot cover it.
        """
        order = api.submit_order(self.store, self.settings, order_id, _actor(actor))
        order = api.ensure_invoice(self.store, self.settings, order)
        return OrderOut().dump(order)

    @rpc
    def decide_cofunding(self, order_id, payload, actor):
        """Approve or refuse the State co-funding of a pending order (operator), with a reason."""
        data = CofundingDecisionInput().load_or_raise(payload)
        order = api.decide_cofunding(
            self.store, order_id, data["decision"], data["reason"], _actor(actor)
        )
        order = api.ensure_invoice(self.store, self.settings, order)
        return OrderOut().dump(order)

    @rpc
    def record_payment(self, order_id, payload, actor):
        """Record a payment received (operator); the same reference twice records one payment.

        The payment that completes the order confirms it and emits ``ordering.order_confirmed``.
        """
        order, payment, created = api.record_payment(
            self.store, order_id, PaymentInput().load_or_raise(payload), _actor(actor)
        )
        if created and order["status"] == OrderStatus.CONFIRMED:
            # only the call whose update confirmed the order publishes its event (a replay or a
            # concurrent payment does not race it); the outbox timer covers a crash here
            self._publish(order_id)
        return PaymentRecordedOut().dump({"created": created, "payment": payment, "order": order})

    @rpc
    def cancel_order(self, order_id, payload, actor):
        """Cancel an order before issuance; emits ``ordering.order_cancelled``."""
        data = CancelInput().load_or_raise(payload)
        order = api.cancel_order(self.store, self.settings, order_id, data["reason"], _actor(actor))
        self._publish(order_id)
        return OrderOut().dump(order)

    @rpc
    def mark_dispatched(self, order_id, actor):
        """The printed booklets of an issued order were sent to the sponsor (operator)."""
        return OrderOut().dump(api.mark_dispatched(self.store, order_id, _actor(actor)))

    @rpc
    def invoice_pdf(self, order_id, actor):
        """The order's invoice as PDF, stored once: its record, never its bytes.

        ``{"reference", "filename", "file_id", "size", "sha256", "chunk_bytes"}``; the bytes:
        ``invoice_file_chunk`` (1 MiB each)."""
        invoice = api.invoice_of(self.store, self.settings, order_id, _actor(actor))
        record = stored_invoice(self.store.db, invoice, order_id)
        return {key: record[key] for key in INVOICE_RECORD}

    @rpc
    def invoice_file_chunk(self, file_id, index, actor):
        """One chunk (1 MiB, ``index`` from 0) of a stored invoice, in base64.

        ``{file_id, index, content_b64}``; who may read the order may read it."""
        record, content = invoice_chunk(self.store.db, file_id, index)
        if record is None:
            raise NotFound("no such invoice file", details={"file_id": str(file_id)[:120]})
        api.get_order(self.store, record["order_id"], _actor(actor))
        if content is None or (index > 0 and not content):
            raise InvalidInput("no such chunk", details={"index": str(index)[:20]})
        return {
            "file_id": file_id,
            "index": index,
            "content_b64": base64.b64encode(content).decode("ascii"),
        }

    # -- events ---------------------------------------------------------------------------------
    @event_handler("issuance", "booklets_issued")
    def handle_booklets_issued(self, payload):
        """The order is issued once every batch of its booklets is (idempotent)."""
        api.mark_issued(self.store, BookletsIssued().load_or_raise(payload))
