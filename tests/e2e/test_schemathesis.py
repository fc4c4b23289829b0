"""schemathesis over every operation of the gateway's OpenAPI document, on the running stack.

For each operation, and for each caller that may call it (anonymous for a public route; the
operator and each allowed role's own key otherwise, from ``tests/e2e/gateway_world.py``),
schemathesis draws requests from the document (positive mode: what the document says is valid),
half of them aimed at the world's real objects (the path parameters of a real venue, order,
booklet...) and half at whatever it draws. Every answer must hold:

- no 5xx (schemathesis' ``not_a_server_error``);
- its status is one the document lists for the operation, its content type the one it gives, its
  body valid against the schema it gives (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``);
- every 4xx and 503 is the error envelope ``{"error": {"code", "message", "details"}}`` with a code
  the document lists for that status.

Budget: ``SCHEMATHESIS_EXAMPLES`` examples per operation and caller (default 3: the whole run, the
stack's start and its world included, stays within about three minutes); ``make fuzz`` raises it.
Always ``derandomize``d: the same requests on every run.
"""

import os
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.gateway_world import make_world

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# operations whose every request would change the world for the others (its state, its keys):
# drawn with their own world's values like the others, but run last
LAST = {("POST", "/orders/{order_id}/booklets/block"), ("POST", "/api-keys/{key_id}/revoke")}


def callers(operation, world):
    """The keys an operation is tried with: anonymous when public, else the operator's and each
    allowed role's own."""
    roles = operation.definition.raw.get("x-roles", [])
    if not roles:
        return {"anonymous": None}
    return {role: world["keys"][role] for role in roles}


def failure_text(exc):
    if isinstance(exc, FailureGroup):
        return "; ".join(f"{type(e).__name__}: {str(e)[:500]}" for e in exc.exceptions)
    return str(exc)[:600]


def envelope_error(answer, documented):
    """What is wrong with an error answer (None if nothing)."""
    try:
        data = answer.json()
    except ValueError:
        return f"{answer.status_code} is not JSON: {answer.text[:200]!r}"
    error = data.get("error") if isinstance(data, dict) else None
    if not (
        isinstance(error, dict)
        and set(error) == {"code", "message", "details"}
        and isinstance(error["code"], str)
        and isinstance(error["message"], str)
        and isinstance(error["details"], dict)
    ):
        return f"{answer.status_code} without the error envelope: {answer.text[:200]}"
    codes = documented.get(str(answer.status_code), {}).get("x-codes")
    if codes is not None and error["code"] not in codes:
        return f"{answer.status_code} {error['code']!r} is not among the documented {codes}"
    return None


def test_every_operation_holds_to_the_document(api, operator_key, make_key):
    document = api.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    world = make_world(api, operator_key, make_key)
    base_url = api.base_url
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in document["paths"].values())
    operations.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    failures, sent, answered = [], 0, {}

    def send(operation, caller, case, headers):
        nonlocal sent
        answer = case.call(base_url=base_url, session=session, headers=headers)
        sent += 1
        label = f"{operation.method.upper()} {operation.path}"
        answered.setdefault(label, set()).add(answer.status_code)
        where = f"{label} as {caller}"
        try:
            case.validate_response(answer, checks=CHECKS, headers=headers)
        except (AssertionError, FailureGroup) as exc:
            failures.append(f"{where}: {failure_text(exc)}")
            return
        if answer.status_code >= 400 and operation.path != "/health":
            wrong = envelope_error(answer, operation.definition.raw["responses"])
            if wrong:
                failures.append(f"{where}: {wrong}")

    def fuzz(operation, caller, headers, real):
        """Drawn requests; half of them aimed at the world's objects (its path parameters)."""

        @HYPOTHESIS
        @given(case=operation.as_strategy(), aimed=st.booleans())
        def drawn(case, aimed):
            if aimed and case.path_parameters:
                case.path_parameters = {
                    name: real.get(name, value) for name, value in case.path_parameters.items()
                }
            send(operation, caller, case, headers)

        return drawn

    for operation in operations:
        real = {**world["by_name"], **world["by_path"].get(operation.path, {})}
        path_names = re.findall(r"{([a-z_]+)}", operation.path)
        for caller, key in callers(operation, world).items():
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            # first the world's own request (real objects, a valid body), then drawn ones
            example = {"path_parameters": {name: real[name] for name in path_names}}
            if operation.path in world["queries"]:
                example["query"] = world["queries"][operation.path]
            if operation.method.upper() == "POST" and operation.path in world["bodies"]:
                example["body"] = world["bodies"][operation.path]
                example["media_type"] = "application/json"
            send(operation, caller, operation.Case(**example), headers)

            fuzz(operation, caller, headers, real)()

    assert sent >= len(operations) * EXAMPLES
    if os.environ.get("SCHEMATHESIS_REPORT"):
        print("\n".join(f"{label}: {sorted(codes)}" for label, codes in answered.items()))
    # the requests reach the work, not only the checks in front of it: most operations succeed
    succeeded = [label for label, codes in answered.items() if min(codes) < 300]
    assert len(succeeded) >= 0.8 * len(operations), sorted(set(answered) - set(succeeded))
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n\n".join(
        failures[:30]
    )
