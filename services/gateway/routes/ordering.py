"""Routes of the ordering service: sponsors, distributors, orders, co-funding, payments, invoices.

Roles are checked here; ownership (a sponsor's own orders) is checked by the ordering service,
which gets the caller's actor with every call (403 ``not_yours``).
"""

from services.gateway.http import (
    json_response,
    query_args,
    read_json,
    route,
    stored_file_response,
)
from services.gateway.rpc import call, decode_file
from shared.contracts import schemas_ordering as ordering

TAG = "ordering"


class OrderingRoutes:
    # -- sponsors and distributors --------------------------------------------------------------
    @route(
        "POST",
        "/sponsors",
        summary="Register a sponsor",
        tag=TAG,
        roles=("operator",),
        body=ordering.SponsorInput,
        response=ordering.SponsorOut,
        status=201,
    )
    def ordering_register_sponsor(self, request):
        caller = self.auth.require(request)
        sponsor = call(self.ordering_rpc.register_sponsor, read_json(request), caller.actor())
        return json_response(sponsor, 201)

    @route(
        "GET",
        "/sponsors/<sponsor_id>",
        summary="One sponsor (operator, or the sponsor itself)",
        tag=TAG,
        roles=("operator", "sponsor"),
        response=ordering.SponsorOut,
    )
    def ordering_get_sponsor(self, request, sponsor_id):
        caller = self.auth.require(request)
        return json_response(call(self.ordering_rpc.get_sponsor, sponsor_id, caller.actor()))

    @route(
        "POST",
        "/distributors",
        summary="Register a distribution point of a sponsor (operator, or the sponsor itself)",
        tag=TAG,
        roles=("operator", "sponsor"),
        body=ordering.DistributorInput,
        response=ordering.DistributorOut,
        status=201,
    )
    def ordering_register_distributor(self, request):
        caller = self.auth.require(request)
        found = call(self.ordering_rpc.register_distributor, read_json(request), caller.actor())
        return json_response(found, 201)

    @route(
        "GET",
        "/distributors/<distributor_id>",
        summary="One distributor (operator, its sponsor, or the distributor itself)",
        tag=TAG,
        roles=("operator", "sponsor", "distributor"),
        response=ordering.DistributorOut,
    )
    def ordering_get_distributor(self, request, distributor_id):
        caller = self.auth.require(request)
        found = call(self.ordering_rpc.get_distributor, distributor_id, caller.actor())
        return json_response(found)

    # -- co-funding campaigns -------------------------------------------------------------------
    @route(
        "POST",
        "/cofunding-campaigns",
        summary="Set a year's State co-funding rate and envelope",
        tag=TAG,
        roles=("operator",),
        body=ordering.CampaignInput,
        response=ordering.CampaignOut,
    )
    def ordering_set_campaign(self, request):
        caller = self.auth.require(request)
        campaign = call(
            self.ordering_rpc.set_cofunding_campaign, read_json(request), caller.actor()
        )
        return json_response(campaign)

    @route(
        "GET",
        "/cofunding-campaigns/<year>",
        summary="A year's State co-funding campaign: rate, envelope, what is left",
        tag=TAG,
        roles=("operator",),
        response=ordering.CampaignOut,
    )
    def ordering_get_campaign(self, request, year):
        self.auth.require(request)
        return json_response(call(self.ordering_rpc.get_cofunding_campaign, year))

    # -- orders ---------------------------------------------------------------------------------
    @route(
        "POST",
        "/orders",
        summary="Order booklets (a sponsor, for itself): a draft with its quote",
        tag=TAG,
        roles=("sponsor",),
        body=ordering.OrderInput,
        response=ordering.OrderOut,
        status=201,
    )
    def ordering_create_order(self, request):
        caller = self.auth.require(request)
        order = call(self.ordering_rpc.create_order, read_json(request), caller.actor())
        return json_response(order, 201)

    @route(
        "GET",
        "/orders",
        summary="Orders of a sponsor (a sponsor key: its own), oldest first, a page at a time "
        "(limit, offset; total: how many match)",
        tag=TAG,
        roles=("operator", "sponsor"),
        query=ordering.OrderQuery,
        response=ordering.OrderListOut,
    )
    def ordering_list_orders(self, request):
        caller = self.auth.require(request)
        query = query_args(request, *ordering.OrderQuery().fields)
        return json_response(call(self.ordering_rpc.list_orders, query, caller.actor()))

    @route(
        "GET",
        "/orders/<order_id>",
        summary="An order: status, quote, co-funding, payments, invoice, history",
        tag=TAG,
        roles=("operator", "sponsor"),
        response=ordering.OrderOut,
    )
    def ordering_get_order(self, request, order_id):
        caller = self.auth.require(request)
        return json_response(call(self.ordering_rpc.get_order, order_id, caller.actor()))

    @route(
        "POST",
        "/orders/<order_id>/submit",
        summary="Submit a draft order (invoice issued, or co-funding reserved or refused)",
        tag=TAG,
        roles=("sponsor",),
        response=ordering.OrderOut,
    )
    def ordering_submit_order(self, request, order_id):
        caller = self.auth.require(request)
        return json_response(call(self.ordering_rpc.submit_order, order_id, caller.actor()))

    @route(
        "POST",
        "/orders/<order_id>/cancel",
        summary="Cancel an order before it is confirmed (its sponsor, or the operator)",
        tag=TAG,
        roles=("sponsor", "operator"),
        body=ordering.CancelInput,
        response=ordering.OrderOut,
    )
    def ordering_cancel_order(self, request, order_id):
        caller = self.auth.require(request)
        order = call(self.ordering_rpc.cancel_order, order_id, read_json(request), caller.actor())
        return json_response(order)

    @route(
        "POST",
        "/orders/<order_id>/cofunding-decision",
        summary="Approve or refuse the State co-funding of an order",
        tag=TAG,
        roles=("operator",),
        body=ordering.CofundingDecisionInput,
        response=ordering.OrderOut,
    )
    def ordering_decide_cofunding(self, request, order_id):
        caller = self.auth.require(request)
        order = call(
            self.ordering_rpc.decide_cofunding, order_id, read_json(request), caller.actor()
        )
        return json_response(order)

    @route(
        "POST",
        "/orders/<order_id>/payments",
        summary="Record a payment received (201; 200 when the reference was already recorded)",
        tag=TAG,
        roles=("operator",),
        body=ordering.PaymentInput,
        response=ordering.PaymentRecordedOut,
        status=201,
        also=(200,),
    )
    def ordering_record_payment(self, request, order_id):
        caller = self.auth.require(request)
        answer = call(
            self.ordering_rpc.record_payment, order_id, read_json(request), caller.actor()
        )
        return json_response(answer, 201 if answer["created"] else 200)

    @route(
        "POST",
        "/orders/<order_id>/dispatch",
        summary="The issued booklets were sent to the sponsor",
        tag=TAG,
        roles=("operator",),
        response=ordering.OrderOut,
    )
    def ordering_dispatch_order(self, request, order_id):
        caller = self.auth.require(request)
        return json_response(call(self.ordering_rpc.mark_dispatched, order_id, caller.actor()))

    @route(
        "GET",
        "/orders/<order_id>/invoice.pdf",
        summary="The order's invoice (PDF)",
        tag=TAG,
        roles=("operator", "sponsor"),
        content="application/pdf",
    )
    def ordering_invoice_pdf(self, request, order_id):
        caller = self.auth.require(request)
        actor = caller.actor()
        record = call(self.ordering_rpc.invoice_pdf, order_id, actor, timeout=60)
        proxy = self.ordering_rpc

        def read_chunk(index):  # stored by ordering, streamed a chunk per RPC (issue 14)
            return decode_file(call(proxy.invoice_file_chunk, record["file_id"], index, actor))

        return stored_file_response(request, record, "application/pdf", read_chunk)
