"""Routes of the catalog: venues, their services, the public map."""

from services.gateway.answers import listing
from services.gateway.http import json_response, query_args, read_json, route
from services.gateway.rpc import call
from shared.contracts import schemas_catalog as catalog

TAG = "catalog"


class CatalogRoutes:
    @route(
        "POST",
        "/venues",
        summary="Register a venue (status applied)",
        tag=TAG,
        roles=("operator",),
        body=catalog.VenueInput,
        response=catalog.VenueDetailOut,
        status=201,
    )
    def register_venue(self, request):
        caller = self.auth.require(request)
        venue = call(self.catalog_rpc.register_venue, read_json(request), caller.actor())
        return json_response(venue, 201)

    @route(
        "POST",
        "/venues/<venue_id>/accreditation",
        summary="Accredit, suspend or revoke a venue",
        tag=TAG,
        roles=("operator",),
        body=catalog.AccreditationInput,
        response=catalog.VenueDetailOut,
    )
    def decide_accreditation(self, request, venue_id):
        caller = self.auth.require(request)
        venue = call(
            self.catalog_rpc.decide_accreditation, venue_id, read_json(request), caller.actor()
        )
        return json_response(venue)

    @route(
        "POST",
        "/venues/<venue_id>/services",
        summary="Add a service to a venue's offer: pending (not offered nor redeemable) until the "
        "operator approves it; approved at once when the operator adds it",
        tag=TAG,
        roles=("operator", "venue"),
        body=catalog.ServiceInput,
        response=catalog.ServiceDetailOut,
        status=201,
    )
    def add_venue_service(self, request, venue_id):
        caller = self.auth.require(request)
        caller.require_owner("venue", venue_id)
        service = call(self.catalog_rpc.add_service, venue_id, read_json(request), caller.actor())
        return json_response(service, 201)

    @route(
        "PUT",
        "/venues/<venue_id>/services/<service_id>",
        summary="Edit a venue's service: pending again (checked before it is offered) when the "
        "venue edits it; its status kept when the operator edits it",
        tag=TAG,
        roles=("operator", "venue"),
        body=catalog.ServiceInput,
        response=catalog.ServiceDetailOut,
    )
    def edit_venue_service(self, request, venue_id, service_id):
        caller = self.auth.require(request)
        caller.require_owner("venue", venue_id)
        service = call(
            self.catalog_rpc.edit_service,
            venue_id,
            service_id,
            read_json(request),
            caller.actor(),
        )
        return json_response(service)

    @route(
        "PUT",
        "/venues/<venue_id>/opening-hours",
        summary="Set a venue's opening information (free text on its public page; null or blank "
        "removes it)",
        tag=TAG,
        roles=("operator", "venue"),
        body=catalog.OpeningHoursInput,
        response=catalog.VenueDetailOut,
    )
    def set_venue_opening_hours(self, request, venue_id):
        caller = self.auth.require(request)
        caller.require_owner("venue", venue_id)
        venue = call(
            self.catalog_rpc.set_opening_hours, venue_id, read_json(request), caller.actor()
        )
        return json_response(venue)

    @route(
        "GET",
        "/services",
        summary="Venues' services awaiting approval (status=pending, the default) or refused, "
        "oldest first, a page at a time (limit, offset; total: how many match)",
        tag=TAG,
        roles=("operator",),
        query=catalog.ServiceQuery,
        response=listing("ServiceListOut", "services", catalog.ServiceQueueOut),
    )
    def list_services(self, request):
        self.auth.require(request)
        query = query_args(request, *catalog.ServiceQuery().fields)
        return json_response(call(self.catalog_rpc.list_services, query))

    @route(
        "POST",
        "/venues/<venue_id>/services/<service_id>/approve",
        summary="Approve a venue's pending (or refused) service: offered and redeemable",
        tag=TAG,
        roles=("operator",),
        body=catalog.ServiceApprovalInput,
        response=catalog.ServiceDetailOut,
    )
    def approve_venue_service(self, request, venue_id, service_id):
        return self._decide_service(request, self.catalog_rpc.approve_service, venue_id, service_id)

    @route(
        "POST",
        "/venues/<venue_id>/services/<service_id>/refuse",
        summary="Refuse a venue's pending service, or withdraw an approved one, with a reason",
        tag=TAG,
        roles=("operator",),
        body=catalog.ServiceRefusalInput,
        response=catalog.ServiceDetailOut,
    )
    def refuse_venue_service(self, request, venue_id, service_id):
        return self._decide_service(request, self.catalog_rpc.refuse_service, venue_id, service_id)

    def _decide_service(self, request, decide, venue_id, service_id):
        """The operator's decision on a venue's service (its reason in the body)."""
        caller = self.auth.require(request)
        return json_response(call(decide, venue_id, service_id, read_json(request), caller.actor()))

    @route(
        "GET",
        "/venues",
        summary="Search accredited venues (public), a page at a time (limit, offset; total: how "
        "many match)",
        tag=TAG,
        query=catalog.SearchQuery,
        response=listing("VenueListOut", "venues", catalog.VenueOut),
    )
    def search_venues(self, request):
        query = query_args(request, *catalog.SearchQuery().fields)
        return json_response(call(self.catalog_rpc.search_venues, query))

    @route(
        "GET",
        "/venues/<venue_id>",
        summary="One accredited venue with its services (public; "
        "with an operator key or the venue's own key: any status, with IBAN and history)",
        tag=TAG,
        response=catalog.VenueDetailOut,
        errors={401: ("invalid_api_key",)},  # a key is optional, but a key sent must be valid
    )
    def get_venue(self, request, venue_id):
        public = True
        if request.headers.get("Authorization"):
            caller = self.auth.require(request)
            public = not (caller.is_operator() or caller.subject_id == venue_id)
        return json_response(call(self.catalog_rpc.get_venue, venue_id, public=public))

    @route(
        "GET",
        "/map.geojson",
        summary="GeoJSON map of accredited venues (public)",
        tag=TAG,
        content="application/geo+json",
    )
    def map_geojson(self, request):
        return json_response(call(self.catalog_rpc.map_geojson), mimetype="application/geo+json")
