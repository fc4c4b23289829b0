"""Routes of the platform itself: health, OpenAPI, API keys."""

import eventlet
from werkzeug.utils import redirect

from services.gateway import docs
from services.gateway.answers import (
    HealthOut,
    KeyCreatedOut,
    KeyListOut,
    KeyRevokedOut,
    PageQuery,
)
from services.gateway.auth import KeyInput, key_out
from services.gateway.http import ApiHandler, json_response, query_args, read_json, route
from services.gateway.openapi import openapi_spec
from services.gateway.subjects import create_bound_key
from shared.errors import AppError, NotFound

TAG = "platform"
HEALTH_TIMEOUT = 3
SERVICES = ("catalog", "ordering", "issuance", "redemption", "settlement")


class SystemRoutes:
    @route(
        "GET",
        "/health",
        summary="Liveness of the gateway and of each service over the bus "
        "(public); 503 names the services that are down",
        tag=TAG,
        response=HealthOut,
        also=(503,),
    )
    def health_http(self, request):
        checks = {name: eventlet.spawn(self._check, name) for name in SERVICES}
        services = {name: thread.wait() for name, thread in checks.items()}
        services["gateway"] = {"status": "ok"}
        down = sorted(name for name, state in services.items() if state["status"] != "ok")
        body = {"status": "ok" if not down else "degraded", "down": down, "services": services}
        return json_response(body, 200 if not down else 503)

    def _check(self, name):
        proxy = getattr(self, f"{name}_rpc")
        try:
            with eventlet.Timeout(HEALTH_TIMEOUT):
                proxy.health.call_async().result()
            return {"status": "ok"}
        except eventlet.Timeout:
            return {"status": "down", "reason": f"no answer in {HEALTH_TIMEOUT} s"}
        except Exception as exc:  # a service that answers with an error is not healthy either
            return {"status": "down", "reason": type(exc).__name__}

    @route("GET", "/openapi.json", summary="This API's OpenAPI 3 description (public)", tag=TAG)
    def openapi_http(self, request):
        return json_response(openapi_spec())

    # the API's page (Swagger UI from package files): not an operation of the API itself
    @ApiHandler.decorator("GET", docs.DOCS, expected_exceptions=AppError)
    def api_docs_page(self, request):
        self.auth.limit_anonymous(request)
        return docs.page()

    @ApiHandler.decorator("GET", docs.DOCS + "/<name>", expected_exceptions=AppError)
    def api_docs_asset(self, request, name):
        self.auth.limit_anonymous(request)
        answer = docs.asset(name)
        if answer is None:
            raise NotFound("no such file of the API page", code="route_not_found")
        return answer

    @ApiHandler.decorator("GET", "/docs", expected_exceptions=AppError)
    def api_docs_redirect(self, request):
        return redirect(docs.DOCS, 308)

    @route(
        "POST",
        "/api-keys",
        summary="Create an API key (shown once); a sponsor, distributor or venue key is bound to "
        "one that exists (else 404 sponsor_not_found, distributor_not_found, venue_not_found)",
        tag=TAG,
        roles=("operator",),
        body=KeyInput,
        response=KeyCreatedOut,
        errors={
            404: ("venue_not_found", "sponsor_not_found", "distributor_not_found"),
            503: ("service_unavailable",),
        },
        status=201,
    )
    def create_api_key_http(self, request):
        caller = self.auth.require(request)
        key, record = create_bound_key(self, read_json(request), caller.actor())
        # the key itself is in this answer only: no cache, no proxy, no browser may keep it
        return json_response(key_out(record, key), 201, headers={"Cache-Control": "no-store"})

    @route(
        "GET",
        "/api-keys",
        summary="List API keys (never the keys themselves), oldest first, a page at a time "
        "(limit, offset; total: how many keys)",
        tag=TAG,
        roles=("operator",),
        query=PageQuery,
        response=KeyListOut,
    )
    def list_api_keys_http(self, request):
        self.auth.require(request)
        page = PageQuery().load_or_raise(query_args(request, "limit", "offset"))
        keys = self.auth.keys.list(page["limit"], page["offset"])
        total = self.auth.keys.count()
        return json_response({"keys": [key_out(k) for k in keys], "total": total, **page})

    @route(
        "POST",
        "/api-keys/<key_id>/revoke",
        summary="Revoke an API key",
        tag=TAG,
        roles=("operator",),
        response=KeyRevokedOut,
        errors={400: ("validation_error",), 404: ("key_not_found",)},
    )
    def revoke_api_key_http(self, request, key_id):
        self.auth.require(request)
        self.auth.keys.revoke(key_id)
        return json_response({"key_id": key_id, "revoked": True})
