"""OpenAPI 3 of the gateway, generated from the marshmallow schemas of the routes (apispec)."""

import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.errors import STATUS_BY_KIND
from services.gateway.http import API_PREFIX, ROUTES
from shared.schemas import ErrorEnvelope

_ERROR_STATUSES = {
    400: "malformed request (code validation_error with field messages, invalid_json, ...)",
    401: "no key or an unknown key",
    403: "wrong role, or not yours",
    404: "unknown resource",
    409: "conflict with the current state",
    411: "a chunked body (send it with its Content-Length)",
    413: "body too large",
    415: "the body is not sent as application/json",
    422: "refused by a business rule",
    429: "too many attempts",
    503: "a service did not answer",
}


def _schema_name(schema):
    return schema.__name__ if isinstance(schema, type) else type(schema).__name__


@functools.cache
def openapi_spec():
    spec = APISpec(
        title="APTIC voucher platform",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Paper vouchers for digital inclusion: catalog, ordering, issuance, "
            "redemption, settlement. Money is integer cents; times are ISO 8601 UTC."
        },
        servers=[{"url": API_PREFIX}],
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("ErrorEnvelope", schema=ErrorEnvelope)
    assert {status for _, status in STATUS_BY_KIND} <= set(_ERROR_STATUSES)
    paths = {}
    for r in ROUTES:
        operation = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": f"{r.method.lower()}_{r.path.strip('/').replace('/', '_')}",
            "responses": {},
        }
        if r.roles:
            operation["security"] = [{"apiKey": []}]
            operation["description"] = "Roles: " + ", ".join(r.roles)
        if r.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_name(r.body)}},
            }
            _register(spec, r.body)
        if r.query is not None:
            operation["parameters"] = [{"in": "query", "schema": r.query}]
        content = {"schema": _schema_name(r.response)} if r.response is not None else {}
        if r.response is not None:
            _register(spec, r.response)
        operation["responses"][str(r.status)] = {
            "description": "success",
            "content": {r.content: content},
        }
        for status, text in _ERROR_STATUSES.items():
            if status in (401, 403) and not r.roles:
                continue
            if status in (411, 415) and r.body is None:
                continue
            operation["responses"][str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": "ErrorEnvelope"}},
            }
        path_params = [p.strip("{}") for p in r.path.split("/") if p.startswith("{")]
        if path_params:
            operation.setdefault("parameters", [])
            operation["parameters"] += [
                {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                for name in path_params
            ]
        paths.setdefault(r.path, {})[r.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _register(spec, schema):
    name = _schema_name(schema)
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)
