"""Routes of redemption: venues check and redeem coupons, void, list; operators watch locks."""

from services.gateway.answers import PageQuery, listing
from services.gateway.http import json_response, query_args, read_json, route
from services.gateway.rpc import call
from shared.contracts import schemas_redemption as redemption

TAG = "redemption"


class RedemptionRoutes:
    @route(
        "GET",
        "/coupons/<serial>",
        summary="Check a coupon without redeeming it: usable or why not (query: code, service_id?)",
        tag=TAG,
        roles=("venue",),
        query=redemption.CheckInput,
        response=redemption.CheckOut,
    )
    def redemption_check_coupon(self, request, serial):
        caller = self.auth.require(request)
        query = {"serial": serial, **query_args(request, "code", "service_id")}
        return json_response(call(self.redemption_rpc.check_coupon, caller.subject_id, query))

    @route(
        "POST",
        "/redemptions",
        summary="Redeem coupons for a service: all or none; a retried "
        "idempotency_key answers the first result",
        tag=TAG,
        roles=("venue",),
        body=redemption.RedemptionInput,
        response=redemption.RedemptionOut,
        status=201,
        also=(200,),
    )
    def redemption_redeem(self, request):
        caller = self.auth.require(request)
        answer = call(
            self.redemption_rpc.redeem, caller.subject_id, read_json(request), caller.actor()
        )
        return json_response(answer["redemption"], 201 if answer["created"] else 200)

    @route(
        "POST",
        "/redemptions/<redemption_id>/void",
        summary="Void a redemption before it is settled; its coupons become usable again",
        tag=TAG,
        roles=("venue", "operator"),
        response=redemption.RedemptionOut,
    )
    def redemption_void(self, request, redemption_id):
        caller = self.auth.require(request)
        venue_id = None if caller.is_operator() else caller.subject_id
        return json_response(
            call(self.redemption_rpc.void, redemption_id, venue_id, caller.actor())
        )

    @route(
        "GET",
        "/redemptions/<redemption_id>",
        summary="One redemption",
        tag=TAG,
        roles=("venue", "operator"),
        response=redemption.RedemptionOut,
    )
    def redemption_get(self, request, redemption_id):
        caller = self.auth.require(request)
        venue_id = None if caller.is_operator() else caller.subject_id
        return json_response(call(self.redemption_rpc.get_redemption, redemption_id, venue_id))

    @route(
        "GET",
        "/redemptions",
        summary="Redemptions by venue and period (venue_id, from, to), oldest first, a page at a "
        "time (limit, offset; total: how many match)",
        tag=TAG,
        roles=("venue", "operator"),
        query=redemption.ListQuery,
        response=listing("RedemptionListOut", "redemptions", redemption.RedemptionOut),
    )
    def redemption_list(self, request):
        caller = self.auth.require(request)
        query = query_args(request, "venue_id", "from", "to", "limit", "offset")
        if not caller.is_operator():
            caller.require_owner("venue", query.setdefault("venue_id", caller.subject_id))
        return json_response(call(self.redemption_rpc.list_redemptions, query))

    @route(
        "GET",
        "/redemption-locks",
        summary="Venues and coupons locked out for guessing security codes, the latest ending "
        "first, a page at a time (limit, offset; total)",
        tag=TAG,
        roles=("operator",),
        query=PageQuery,
        response=listing("LockListOut", "locks", redemption.LockOut),
    )
    def redemption_locks(self, request):
        self.auth.require(request)
        query = query_args(request, "limit", "offset")
        return json_response(call(self.redemption_rpc.list_locks, query))
