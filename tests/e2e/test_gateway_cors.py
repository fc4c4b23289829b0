"""The CORS policy: no origin allowed by default; ``CORS_ORIGINS`` names the origins whose browser
pages may call the API (preflight answered, answers carrying their origin), and no other."""

import pytest

from tests.conftest import free_port
from tests.factories import venue_payload

pytestmark = pytest.mark.e2e

APP = "https://app.example.org"
OTHER = "https://evil.example.com"


def preflight(api, path, origin, method="POST"):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return api.request("OPTIONS", path, headers=headers)


@pytest.fixture
def stack_config(service_config, request):
    """The stack's settings, with ``CORS_ORIGINS`` when a test gives it (indirect parameter)."""
    config = {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}
    if getattr(request, "param", None):
        config["CORS_ORIGINS"] = request.param
    return config


def test_no_origin_is_allowed_by_default(api, operator_key):
    answer = api.get("/venues", headers={"Origin": APP})
    assert answer.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in answer.headers)
    refused = preflight(api, "/venues", APP)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "cors_origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in refused.headers
    plain = api.request("OPTIONS", "/venues", key=operator_key)  # not a preflight: runs nothing
    assert plain.status_code == 405 and plain.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("stack_config", [f"{APP}, http://localhost:3000"], indirect=True)
def test_configured_origins_and_only_them(api, operator_key):
    answer = preflight(api, "/venues", APP)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    assert set(answer.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    assert "Authorization" in answer.headers["Access-Control-Allow-Headers"]
    assert answer.headers["Vary"] == "Origin"

    made = api.post(
        "/venues",
        json=venue_payload(),
        key=operator_key,
        headers={"Origin": "http://localhost:3000"},
    )
    assert made.status_code == 201
    assert made.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    error = api.get("/api-keys", headers={"Origin": APP})  # errors carry it too (readable)
    assert error.status_code == 401 and error.headers["Access-Control-Allow-Origin"] == APP

    other = api.get("/venues", headers={"Origin": OTHER})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert preflight(api, "/venues", OTHER).status_code == 403
