"""The catalog through the gateway, as the operator, a venue and the public use it."""

import re

import pytest

from tests.factories import service_payload, venue_payload

pytestmark = pytest.mark.e2e


def register_accredited(api, key, place, **overrides):
    venue = api.post("/venues", json=venue_payload(place, **overrides), key=key).json()
    answer = api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "accredit", "reason": "label APTIC obtenu"},
        key=key,
    )
    assert answer.status_code == 200, answer.text
    return venue


def test_register_accredit_add_service_and_find_near(api, operator_key, make_key):
    answer = api.post("/venues", json=venue_payload("merignac"), key=operator_key)
    assert answer.status_code == 201, answer.text
    venue = answer.json()
    assert venue["status"] == "applied" and venue["id"].startswith("ven_")

    # not on the public map until accredited
    assert api.get("/venues", params={"near": "44.8378,-0.5792"}).json()["venues"] == []

    answer = api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "accredit", "reason": "label APTIC obtenu"},
        key=operator_key,
    )
    assert answer.json()["status"] == "accredited"
    history = answer.json()["history"]
    assert [(h["from"], h["to"]) for h in history] == [(None, "applied"), ("applied", "accredited")]
    assert history[-1]["by"]["role"] == "operator" and history[-1]["reason"] == "label APTIC obtenu"
    assert history[0]["at"] == venue["created_at"]  # times as iso() writes them:
    for at in (venue["created_at"], history[-1]["at"]):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", at), at

    venue_key = make_key("venue", venue["id"])
    answer = api.post(f"/venues/{venue['id']}/services", json=service_payload(), key=venue_key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["id"].startswith("svc_")
    assert answer.json()["status"] == "pending"  # offered once the operator approves it
    approved = api.post(
        f"/venues/{venue['id']}/services/{answer.json()['id']}/approve",
        json={"reason": "programme vérifié"},
        key=operator_key,
    )
    assert approved.status_code == 200, approved.text

    found = api.get("/venues", params={"near": "44.8378,-0.5792", "radius_km": 10}).json()
    assert [v["id"] for v in found["venues"]] == [venue["id"]]
    # Bordeaux centre to Mérignac centre: 5.1 km as the crow flies
    assert found["venues"][0]["distance_km"] == pytest.approx(5.1, abs=0.1)
    assert found["venues"][0]["categories"] == ["online_admin_procedures"]
    assert "iban" not in found["venues"][0]
    # the GeoJSON copy of the location the database searches on stays inside the catalog
    assert "geo" not in found["venues"][0]
    assert "geo" not in api.get(f"/venues/{venue['id']}", key=operator_key).json()


def test_search_sorts_by_distance_and_filters(api, operator_key):
    far = register_accredited(api, operator_key, "libourne")
    near = register_accredited(api, operator_key, "merignac", venue_type="library")
    middle = register_accredited(api, operator_key, "pessac")
    register_accredited(api, operator_key, "arcachon")  # 50+ km away

    answer = api.get("/venues", params={"near": "44.8378,-0.5792", "radius_km": 40})
    venues = answer.json()["venues"]
    assert [v["id"] for v in venues] == [near["id"], middle["id"], far["id"]]
    distances = [v["distance_km"] for v in venues]
    assert distances == sorted(distances)
    assert distances[2] == pytest.approx(27.6, abs=0.3)  # Bordeaux - Libourne

    libraries = api.get("/venues", params={"venue_type": "library"}).json()["venues"]
    assert [v["id"] for v in libraries] == [near["id"]]
    assert api.get("/venues", params={"department": "75"}).json()["venues"] == []


def test_suspended_venue_leaves_search_and_map(api, operator_key):
    venue = register_accredited(api, operator_key, "bordeaux")
    api.post(
        f"/venues/{venue['id']}/services", json=service_payload("smartphone_use"), key=operator_key
    )
    geo = api.get("/map.geojson")
    assert geo.headers["Content-Type"].startswith("application/geo+json")
    feature = geo.json()["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [-0.5792, 44.8378]}
    assert feature["properties"]["services"][0]["category"] == "smartphone_use"

    answer = api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "suspend", "reason": "contrôle en cours"},
        key=operator_key,
    )
    assert answer.json()["status"] == "suspended"
    assert api.get("/venues").json()["venues"] == []
    assert api.get("/map.geojson").json()["features"] == []
    assert api.get(f"/venues/{venue['id']}").status_code == 404
    # the operator still sees it, with its history
    assert api.get(f"/venues/{venue['id']}", key=operator_key).json()["status"] == "suspended"


def test_errors_bad_input_no_key_wrong_role_unknown_id(api, operator_key, make_key):
    bad = venue_payload(iban="FR7630006000011234567890188", department="99", venue_type="bar")
    answer = api.post("/venues", json=bad, key=operator_key)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["fields"]) == {"iban", "department", "venue_type"}

    assert api.post("/venues", json=venue_payload()).status_code == 401
    assert (
        api.post("/venues", json=venue_payload(), key="ak_forged").json()["error"]["code"]
        == "invalid_api_key"
    )
    venue_key = make_key(
        "venue", api.post("/venues", json=venue_payload(), key=operator_key).json()["id"]
    )
    answer = api.post("/venues", json=venue_payload(), key=venue_key)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "wrong_role"

    unknown = api.post(
        "/venues/ven_0123456789abcdef0123/accreditation",
        json={"decision": "accredit", "reason": "ok ok"},
        key=operator_key,
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "venue_not_found"
    assert api.get("/venues/../../etc/passwd").status_code == 404

    venue = api.post("/venues", json=venue_payload(), key=operator_key).json()
    other_venue = api.post("/venues", json=venue_payload(), key=operator_key).json()
    other_venue_key = make_key("venue", other_venue["id"])
    answer = api.post(
        f"/venues/{venue['id']}/services", json=service_payload(), key=other_venue_key
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "not_yours"

    answer = api.post(
        f"/venues/{venue['id']}/accreditation",
        json={"decision": "suspend", "reason": "why not"},
        key=operator_key,
    )
    assert (
        answer.status_code == 409 and answer.json()["error"]["code"] == "invalid_venue_transition"
    )

    assert (
        api.post("/venues", data="{not json", key=operator_key).json()["error"]["code"]
        == "invalid_json"
    )
    huge = api.post("/venues", data="x" * 200_000, key=operator_key)
    assert huge.status_code == 413
    assert api.get("/venues", params={"near": "north"}).status_code == 400
    assert api.get("/nowhere").json()["error"]["code"] == "route_not_found"


def test_health_and_openapi(api):
    health = api.get("/health")
    assert health.status_code == 200, health.text
    assert health.json()["down"] == []
    assert set(health.json()["services"]) >= {
        "catalog",
        "ordering",
        "issuance",
        "redemption",
        "settlement",
        "gateway",
    }
    spec = api.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/venues/{venue_id}/accreditation" in spec["paths"]
    assert "VenueInput" in spec["components"]["schemas"]
