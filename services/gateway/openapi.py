"""OpenAPI 3 of the gateway, generated from the marshmallow schemas of the routes (apispec).

Each route (``services.gateway.http.route``) gives its success answer's schema (lists included),
its roles and the codes it may answer besides the common ones; the errors of each route are listed
by status, each with the error envelope and its stable codes, taken from the error contract
(``shared.contracts.registry``: the errors of the route's service, by kind) and from the gateway's
own checks. ``tests/checks/test_gateway_openapi.py`` validates the document (openapi-spec-validator).
"""

import copy
import functools
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from services.gateway.auth import SUBJECT_ROLES
from services.gateway.errors import STATUS_BY_KIND
from services.gateway.http import API_PREFIX, ROUTES
from services.gateway.limits import EXEMPT
from shared.contracts import registry

# What each status means, on any route
_ERROR_STATUSES = {
    400: "malformed request",
    401: "no key, or an unknown or revoked key",
    403: "a role this route does not allow, or not yours",
    404: "unknown resource",
    409: "conflict with the current state",
    411: "a chunked body (send it with its Content-Length)",
    413: "body too large",
    415: "the body is not sent as application/json",
    422: "refused by a business rule",
    429: "too many attempts, or too many requests without a key (Retry-After)",
    503: "a service did not answer, or is not running",
}
_STATUS_OF_KIND = dict(STATUS_BY_KIND)

# The gateway's own codes, by status (services.gateway.auth, .http, .rpc)
AUTH_CODES = ("missing_api_key", "invalid_api_key")
BODY_CODES = {
    400: ("validation_error", "invalid_json"),
    411: ("length_required",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
}
UNAVAILABLE = ("service_unavailable",)

# A route's tag names the service that answers it (the platform's routes are the gateway's own)
SERVICE_OF_TAG = {
    "catalog": "catalog",
    "ordering": "ordering",
    "issuance": "issuance",
    "redemption": "redemption",
    "settlement": "settlement",
}

ERROR_ENVELOPE = {
    "type": "object",
    "description": "The body of every error answer; `code` is stable (docs/catalogue.md).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}

ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

# Answers that are not JSON objects of a marshmallow schema
BINARY = {"type": "string", "format": "binary"}
ANY_OBJECT = {"type": "object"}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
    },
}

_PATH_PARAM = re.compile(r"{([a-z_]+)}")


def _schema_name(schema):
    return schema.__name__ if isinstance(schema, type) else type(schema).__name__


def service_codes(service):
    """``{status: [code, ...]}`` of the errors a service's contract defines."""
    found = {}
    for cls in registry.ERRORS.get(service, ()):
        status = _STATUS_OF_KIND.get(registry.kind_of(cls))
        if status is not None:
            found.setdefault(status, []).append(cls.code)
    return found


def route_errors(r):
    """``{status: sorted codes}`` a route may answer (besides 500, which it never should)."""
    codes = {}

    def add(status, *names):
        codes.setdefault(status, set()).update(names)

    has_input = bool(r.body or r.query or _PATH_PARAM.search(r.path))
    if r.roles:
        add(401, *AUTH_CODES)
        add(403, "wrong_role")
        if set(r.roles) & SUBJECT_ROLES:
            add(403, "not_yours")  # a sponsor's, distributor's or venue's own resources only
    if r.body is not None:
        for status, names in BODY_CODES.items():
            add(status, *names)
    elif has_input:
        add(400, "validation_error")
    service = SERVICE_OF_TAG.get(r.tag)
    if service:
        add(503, *UNAVAILABLE)
        for status, names in service_codes(service).items():
            if status == 400 and not has_input:
                continue
            if status == 404 and not _PATH_PARAM.search(r.path) and r.body is None:
                continue  # nothing named, nothing to find
            if status in (409, 422) and r.method == "GET":
                continue  # a read changes nothing: a GET that may conflict says so itself
            add(status, *names)
    if not r.roles and r.path not in EXEMPT:
        add(429, "rate_limited")  # anonymous requests, counted per client address
    for status, names in r.errors.items():
        add(status, *names)
    return {status: sorted(names) for status, names in sorted(codes.items())}


def _success(r, spec):
    if r.content == "application/json":
        if r.response is None:
            schema = ANY_OBJECT
        elif isinstance(r.response, dict):
            schema = r.response
        else:
            _register(spec, r.response)
            schema = _schema_name(r.response)
    elif r.content == "application/geo+json":
        schema = FEATURE_COLLECTION
    else:
        schema = BINARY
    return {"content": {r.content: {"schema": schema}}}


@functools.cache
def openapi_spec():
    spec = APISpec(
        title="APTIC voucher platform",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Paper vouchers for digital inclusion: catalog, ordering, issuance, "
            "redemption, settlement. Money is integer cents; times are ISO 8601 UTC. Every error "
            "answer is the ErrorEnvelope, with a stable code (listed per route and status). "
            "Lists are paged: `limit` and `offset` in the query, `total` in the answer."
        },
        servers=[{"url": API_PREFIX}],
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema("ErrorEnvelope", ERROR_ENVELOPE)
    assert {status for _, status in STATUS_BY_KIND} <= set(_ERROR_STATUSES)
    paths = {}
    for r in ROUTES:
        operation = {
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": r.name,
            "responses": {},
        }
        if r.roles:
            operation["security"] = [{"apiKey": []}]
            operation["description"] = "Roles: " + ", ".join(r.roles)
            operation["x-roles"] = list(r.roles)
        if r.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_name(r.body)}},
            }
            _register(spec, r.body)
        path_params = _PATH_PARAM.findall(r.path)
        parameters = [
            {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
            for name in path_params
        ]
        if r.query is not None:
            parameters.append({"in": "query", "schema": r.query})
        if parameters:
            operation["parameters"] = parameters
        success = {"description": "success", **_success(r, spec)}
        for status in (r.status, *r.also):
            operation["responses"][str(status)] = success
        if r.accepted is not None:
            _register(spec, r.accepted)
            operation["responses"]["202"] = {
                "description": "accepted, with Prefer: respond-async: the work goes on; poll "
                "the address in Location",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": _schema_name(r.accepted)}},
            }
            operation.setdefault("parameters", []).append(
                {
                    "in": "header",
                    "name": "Prefer",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "respond-async: answer 202 at once instead of waiting",
                }
            )
        for status, codes in route_errors(r).items():
            operation["responses"][str(status)] = {
                "description": f"{_ERROR_STATUSES[status]}; codes: {', '.join(codes)}",
                "content": {"application/json": {"schema": ENVELOPE_REF}},
                "x-codes": codes,
            }
        paths.setdefault(r.path, {})[r.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _finish(spec.to_dict())


def _register(spec, schema):
    name = _schema_name(schema)
    if name not in spec.components.schemas:
        spec.components.schema(name, schema=schema)


def _finish(document):
    """What apispec leaves that OpenAPI does not take: Python's whole-text anchors in patterns
    (``\\A...\\Z``; ECMA regular expressions write ``^...$``), and query parameters a schema
    shares with the path (a coupon's ``serial``: the path gives it)."""
    document = copy.deepcopy(document)
    _ecma_patterns(document)
    for operations in document["paths"].values():
        for operation in operations.values():
            parameters = operation.get("parameters")
            if not parameters:
                continue
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            operation["parameters"] = [
                p for p in parameters if p["in"] == "path" or p["name"] not in in_path
            ]
    return document


def _ecma_patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                node[key] = ecma_pattern(value)
            else:
                _ecma_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _ecma_patterns(item)


def ecma_pattern(pattern):
    r"""``\A(?:x)\Z`` -> ``^(?:x)$``: the same whole-text match in an ECMA regular expression."""
    if pattern.startswith("\\A"):
        pattern = "^" + pattern[2:]
    if pattern.endswith("\\Z"):
        pattern = pattern[:-2] + "$"
    return pattern
