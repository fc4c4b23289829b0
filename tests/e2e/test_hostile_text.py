"""Text no person could mean (a lone UTF-16 surrogate, NUL, terminal escapes) is refused where it
comes in (400, nothing stored), so that one caller can never make a page fail for everyone else.

The reproduction: a venue's service titled "Atelier \\ud800 x" was stored, and from then on the
public map and every venue search answered 500."""

import json

import pytest

from services.gateway.http import json_response, nesting_depth
from tests.e2e.test_catalog_http import register_accredited
from tests.e2e.test_ordering_http import order_payload, register_sponsor
from tests.factories import service_payload, venue_payload

pytestmark = pytest.mark.e2e

HOSTILE = ["Atelier \ud800 x", "Atelier\x00", "\x1b[31mrouge", "fin\udfff"]


def send(api, path, body, key):
    """POST a body holding text ``requests`` would refuse to encode itself."""
    raw = json.dumps(body, ensure_ascii=True)  # "\ud800" travels as its JSON escape
    headers = {"Content-Type": "application/json"}
    return api.post(path, data=raw, headers=headers, key=key)


def assert_refused(answer, field):
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"], error


@pytest.mark.parametrize("title", HOSTILE)
def test_a_venue_cannot_break_the_public_map_with_a_service_title(
    api, operator_key, make_key, title
):
    venue = register_accredited(api, operator_key, "merignac")
    venue_key = make_key("venue", venue["id"])
    answer = send(api, f"/venues/{venue['id']}/services", service_payload(title=title), venue_key)
    assert_refused(answer, "title")

    for path, params in [
        ("/map.geojson", None),
        ("/venues", None),
        ("/venues", {"near": "44.8378,-0.5792", "radius_km": 20}),
        (f"/venues/{venue['id']}", None),
    ]:
        page = api.get(path, params=params)
        assert page.status_code == 200, (path, page.text)
    assert api.get(f"/venues/{venue['id']}").json()["services"] == []


def test_hostile_names_and_reasons_are_refused_and_change_nothing(api, operator_key, make_key):
    answer = send(api, "/venues", venue_payload("pessac", name="EPN\x00Pessac"), operator_key)
    assert_refused(answer, "name")
    assert api.get("/venues", key=operator_key).json()["total"] == 0

    sponsor, key = register_sponsor(api, operator_key, make_key)
    distributor = {"name": "CCAS \ud800", "sponsor_id": sponsor["id"], "town_code": "33318"}
    assert_refused(send(api, "/distributors", distributor, operator_key), "name")

    order = api.post("/orders", json=order_payload(sponsor, cofunded=False), key=key).json()
    answer = send(api, f"/orders/{order['id']}/cancel", {"reason": "gel \ud800"}, key)
    assert_refused(answer, "reason")
    readable = api.get(f"/orders/{order['id']}", key=key)
    assert readable.status_code == 200 and readable.json()["status"] == "draft"


def test_an_answer_never_fails_on_text_stored_before_the_checks():
    answer = json_response({"title": "Atelier \ud800 x", "city": "Mérignac"})
    assert answer.status_code == 200
    body = answer.get_data()
    assert json.loads(body) == {"title": "Atelier \ud800 x", "city": "Mérignac"}
    assert b"\\ud800" in body
    # the usual answer stays UTF-8 as it was, not escaped
    assert "Mérignac".encode() in json_response({"city": "Mérignac"}).get_data()


@pytest.mark.parametrize("path", ["/redemptions", "/orders", "/venues"])
def test_a_body_nested_1000_deep_is_invalid_json_not_a_500(api, operator_key, make_key, path):
    if path == "/orders":
        key = register_sponsor(api, operator_key, make_key)[1]
    elif path == "/redemptions":
        key = make_key("venue", register_accredited(api, operator_key, "pessac")["id"])
    else:
        key = operator_key
    body = '{"a": ' * 1000 + "1" + "}" * 1000
    answer = api.post(path, data=body, headers={"Content-Type": "application/json"}, key=key)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"
    assert answer.json()["error"]["details"] == {"max_depth": 32}


def test_nesting_is_measured_outside_strings():
    assert nesting_depth(b'{"a": [1, {"b": "[[[{{{"}], "c": "\\\\\\"]"}') == 3
    assert nesting_depth(b"[]") == 1 and nesting_depth(b'"x"') == 0


def test_a_body_must_be_declared_json_and_say_its_length(api, operator_key):
    body = json.dumps(venue_payload("pessac"))
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        answer = api.post(
            "/venues", data=body, headers={"Content-Type": content_type}, key=operator_key
        )
        assert answer.status_code == 415, answer.text
        assert answer.json()["error"]["code"] == "unsupported_media_type"

    def chunks():
        yield body.encode()

    answer = api.post(
        "/venues",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        key=operator_key,
    )
    assert answer.status_code == 411, answer.text
    assert answer.json()["error"]["code"] == "length_required"
    assert api.get("/venues", key=operator_key).json()["total"] == 0
    # the same body, declared and measured, is taken
    assert api.post("/venues", data=body, key=operator_key).status_code == 201
