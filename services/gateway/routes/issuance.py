"""Routes of the issuance service: booklets of an order, their lifecycle, print files.

Roles are checked here; ownership (a sponsor's own booklets, a distributor's assigned ones) is
checked by the issuance service, which gets the caller's actor with every call (403 ``not_yours``).
Security codes are never in a JSON answer: only in the print files.
"""

from services.gateway.http import (
    json_response,
    query_args,
    read_json,
    route,
    stored_file_response,
)
from services.gateway.rpc import call, decode_file
from shared.contracts import schemas_issuance as issuance

TAG = "issuance"
PRINT_TIMEOUT = 900  # seconds: 20,000 coupons print in under a minute; issuance goes on after it


class IssuanceRoutes:
    @route(
        "GET",
        "/orders/<order_id>/booklets",
        summary="The booklets issued for an order: serials, coupon range, status",
        tag=TAG,
        roles=("operator", "sponsor"),
        query=issuance.ListQuery,
        response=issuance.OrderBookletsOut,
    )
    def issuance_order_booklets(self, request, order_id):
        caller = self.auth.require(request)
        query = query_args(request, *issuance.ListQuery().fields)
        found = call(self.issuance_rpc.order_booklets, order_id, query, caller.actor())
        return json_response(found)

    @route(
        "POST",
        "/orders/<order_id>/booklets/dispatch",
        summary="Every still issued booklet of the order was sent to its sponsor (extension)",
        tag=TAG,
        roles=("operator",),
        response=issuance.DispatchOut,
    )
    def issuance_dispatch_order(self, request, order_id):
        caller = self.auth.require(request)
        return json_response(call(self.issuance_rpc.dispatch_order, order_id, caller.actor()))

    @route(
        "POST",
        "/orders/<order_id>/booklets/block",
        summary="Block every booklet of the order not yet handed out to a beneficiary (before "
        "the end of validity): their coupons are refused, then refunded by the next expiry run",
        tag=TAG,
        roles=("sponsor", "operator"),
        response=issuance.BlockOut,
    )
    def issuance_block_order(self, request, order_id):
        caller = self.auth.require(request)
        return json_response(call(self.issuance_rpc.block_order, order_id, caller.actor()))

    @route(
        "POST",
        "/booklets/<serial>/block",
        summary="Block a booklet not yet handed out to a beneficiary (-> cancelled, blocked)",
        tag=TAG,
        roles=("sponsor", "operator"),
        response=issuance.BookletOut,
    )
    def issuance_block_booklet(self, request, serial):
        caller = self.auth.require(request)
        return json_response(call(self.issuance_rpc.block_booklet, serial, caller.actor()))

    @route(
        "GET",
        "/orders/<order_id>/print.pdf",
        summary="The print file of every booklet of the order (A4, cut marks)",
        tag=TAG,
        roles=("operator",),
        content="application/pdf",
    )
    def issuance_print_order(self, request, order_id):
        caller = self.auth.require(request)
        record = call(
            self.issuance_rpc.print_order, order_id, caller.actor(), timeout=PRINT_TIMEOUT
        )
        return self._print_file(request, record, caller)

    @route(
        "GET",
        "/booklets/<serial>",
        summary="One booklet (operator, its sponsor, or the distributor it is assigned to)",
        tag=TAG,
        roles=("operator", "sponsor", "distributor"),
        response=issuance.BookletOut,
    )
    def issuance_get_booklet(self, request, serial):
        caller = self.auth.require(request)
        return json_response(call(self.issuance_rpc.get_booklet, serial, caller.actor()))

    @route(
        "GET",
        "/booklets/<serial>/print.pdf",
        summary="The print file of one booklet (operator or its sponsor)",
        tag=TAG,
        roles=("operator", "sponsor"),
        content="application/pdf",
    )
    def issuance_print_booklet(self, request, serial):
        caller = self.auth.require(request)
        record = call(self.issuance_rpc.print_booklet, serial, caller.actor(), timeout=60)
        return self._print_file(request, record, caller)

    def _print_file(self, request, record, caller):
        """A print file stored by issuance, streamed a chunk (1 MiB) per RPC as it is sent."""
        proxy, actor = self.issuance_rpc, caller.actor()

        def read_chunk(index):
            return decode_file(call(proxy.print_file_chunk, record["file_id"], index, actor))

        return stored_file_response(request, record, "application/pdf", read_chunk)

    @route(
        "POST",
        "/booklets/<serial>/dispatch",
        summary="The booklet was sent to its sponsor: issued -> dispatched (extension)",
        tag=TAG,
        roles=("operator",),
        response=issuance.BookletOut,
    )
    def issuance_dispatch_booklet(self, request, serial):
        caller = self.auth.require(request)
        return json_response(call(self.issuance_rpc.dispatch_booklet, serial, caller.actor()))

    @route(
        "POST",
        "/booklets/<serial>/assignment",
        summary="Hand a booklet to one of the sponsor's distributors",
        tag=TAG,
        roles=("sponsor",),
        body=issuance.AssignmentInput,
        response=issuance.BookletOut,
    )
    def issuance_assign_booklet(self, request, serial):
        caller = self.auth.require(request)
        booklet = call(self.issuance_rpc.assign_booklet, serial, read_json(request), caller.actor())
        return json_response(booklet)

    @route(
        "POST",
        "/booklets/<serial>/activation",
        summary="Handed to a beneficiary (optional anonymous profile): validity starts",
        tag=TAG,
        roles=("distributor",),
        body=issuance.ActivationInput,
        response=issuance.BookletOut,
    )
    def issuance_activate_booklet(self, request, serial):
        caller = self.auth.require(request)
        booklet = call(
            self.issuance_rpc.activate_booklet, serial, read_json(request), caller.actor()
        )
        return json_response(booklet)

    @route(
        "POST",
        "/booklets/<serial>/cancellation",
        summary="Report a booklet lost or stolen: its coupons can no longer be redeemed",
        tag=TAG,
        roles=("sponsor", "operator"),
        body=issuance.CancellationInput,
        response=issuance.BookletOut,
    )
    def issuance_cancel_booklet(self, request, serial):
        caller = self.auth.require(request)
        booklet = call(self.issuance_rpc.cancel_booklet, serial, read_json(request), caller.actor())
        return json_response(booklet)
