"""The gateway's OpenAPI document is a valid OpenAPI 3 document that says what each route answers:
its success schema (lists as lists), its errors with their codes, its roles (declared once)."""

import inspect
import re
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator

from services.gateway import auth
from services.gateway.http import ROUTES
from services.gateway.openapi import ecma_pattern, openapi_spec
from services.gateway.service import GatewayService  # noqa: F401  (declares every route)
from shared.contracts import registry

ROUTES_DIR = Path(auth.__file__).parent / "routes"
GATEWAY_CODES = {
    "missing_api_key",
    "invalid_api_key",
    "wrong_role",
    "not_yours",
    "invalid_json",
    "key_not_found",
    "rate_limited",
}


def resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(spec):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_validates():
    errors = [error.message for error in OpenAPIV30SpecValidator(openapi_spec()).iter_errors()]
    assert errors == []


def test_every_route_is_described_once_with_its_path_parameters():
    spec = openapi_spec()
    described = {(method.upper(), path) for path, method, _ in operations(spec)}
    declared = [(r.method, r.path) for r in ROUTES]
    assert len(declared) == len(set(declared)) == len(described) >= 50
    assert described == set(declared)
    # {venue_id}.pdf is the parameter venue_id (not "venue_id}.pdf")
    statement = spec["paths"]["/settlement-runs/{run_id}/statements/{venue_id}.pdf"]["get"]
    assert [p["name"] for p in statement["parameters"] if p["in"] == "path"] == [
        "run_id",
        "venue_id",
    ]
    for path, method, operation in operations(spec):
        named = re.findall(r"{([^}]+)}", path)
        params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert params == named, (method, path)
        queried = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        assert not set(queried) & set(named), (method, path)  # a coupon's serial: path only
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z_]+", i) for i in ids)


@pytest.mark.parametrize(
    "path, key, paged",
    [
        ("/venues", "venues", True),
        ("/api-keys", "keys", True),
        ("/redemptions", "redemptions", True),
        ("/orders", "orders", True),
        ("/redemption-locks", "locks", True),
        ("/settlement-runs", "runs", True),
        ("/credit-notes", "credit_notes", True),
    ],
)
def test_lists_are_described_as_lists(path, key, paged):
    spec = openapi_spec()
    answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema = resolve(spec, answer["schema"])
    assert schema["type"] == "object"
    assert schema["properties"][key]["type"] == "array"
    assert "$ref" in schema["properties"][key]["items"]
    if paged:
        assert {"total", "limit", "offset"} <= set(schema["required"])
        names = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert {"limit", "offset"} <= names


def test_every_json_answer_has_a_schema_and_files_are_binary():
    spec = openapi_spec()
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            for media, content in response["content"].items():
                schema = resolve(spec, content["schema"])
                if media in ("application/pdf", "application/xml"):
                    assert schema == {"type": "string", "format": "binary"}, (path, status)
                else:
                    assert schema.get("type") == "object", (method, path, status)


def test_every_error_is_the_envelope_with_known_codes():
    spec = openapi_spec()
    known = {cls.code for cls in registry.ALL_ERRORS} | GATEWAY_CODES
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["properties"]["error"]["required"] == ["code", "message", "details"]
    for path, method, operation in operations(spec):
        statuses = {int(status) for status in operation["responses"]}
        assert statuses & {400, 401, 404, 503} or path == "/openapi.json", (method, path)
        for status, response in operation["responses"].items():
            if int(status) < 400 or path == "/health":
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, status)
            assert response["x-codes"] and set(response["x-codes"]) <= known, (path, status)
            assert all(code in response["description"] for code in response["x-codes"])
        if operation.get("security"):
            assert "wrong_role" in operation["responses"]["403"]["x-codes"], (method, path)
            assert "missing_api_key" in operation["responses"]["401"]["x-codes"], (method, path)
        if "requestBody" in operation:
            assert {"400", "411", "413", "415"} <= set(operation["responses"]), (method, path)


def test_repeated_requests_answer_200_as_documented():
    spec = openapi_spec()
    for path in ("/settlement-runs", "/expiry-runs", "/redemptions", "/orders/{order_id}/payments"):
        assert {"200", "201"} <= set(spec["paths"][path]["post"]["responses"]), path


def test_patterns_are_ecma_regular_expressions():
    assert ecma_pattern(r"\A(?:[0-9]{5})\Z") == "^(?:[0-9]{5})$"
    text = str(openapi_spec())
    assert "\\\\A" not in text and "\\\\Z" not in text


def test_roles_are_declared_once_per_route():
    spec = openapi_spec()
    by_route = {(r.method.lower(), r.path): r.roles for r in ROUTES}
    for path, method, operation in operations(spec):
        assert tuple(operation.get("x-roles", ())) == by_route[(method, path)]
    # the handlers do not name roles again: require(request) reads them from the route
    assert list(inspect.signature(auth.Authenticator.require).parameters) == ["self", "request"]
    for source in ROUTES_DIR.glob("*.py"):
        assert not re.search(r"auth\.require\(request,", source.read_text()), source.name


class Request:
    def __init__(self, key):
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}


class Keys:
    def __init__(self, records):
        self.records = records

    def find_active(self, key):
        return self.records.get(key)


def test_the_route_roles_are_what_the_authenticator_checks():
    keys = Keys(
        {
            "ak_op": {"key_id": "k1", "role": "operator", "subject_id": None, "label": None},
            "ak_ven": {"key_id": "k2", "role": "venue", "subject_id": "ven_1", "label": None},
        }
    )
    only_operators = auth.Authenticator(keys, ("operator",))
    assert only_operators.require(Request("ak_op")).role == "operator"
    with pytest.raises(auth.Forbidden) as refused:
        only_operators.require(Request("ak_ven"))
    assert refused.value.code == "wrong_role"
    with pytest.raises(auth.Unauthenticated):
        only_operators.require(Request(None))
    public = auth.Authenticator(keys, ())
    assert public.require(Request("ak_ven")).subject_id == "ven_1"
