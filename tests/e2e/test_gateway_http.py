"""The gateway's own behaviour: keys and roles, health naming a stopped service, errors."""

import json
import logging
import re
from datetime import datetime

import pytest
from nameko.testing.utils import get_container

from aptic.registry import all_service_classes
from shared.logs import JsonFormatter
from shared.mongo import database_name, get_client
from shared.times import iso
from tests.conftest import Api
from tests.factories import venue_payload

pytestmark = pytest.mark.e2e
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")  # what iso() writes


def test_key_lifecycle_over_http(api, operator_key, stack_config):
    answer = api.post("/api-keys", json={"role": "venue"}, key=operator_key)
    assert answer.status_code == 400
    assert "subject_id" in answer.json()["error"]["details"]["fields"]

    venue = api.post("/venues", json=venue_payload(), key=operator_key).json()  # a real one
    answer = api.post(
        "/api-keys",
        json={"role": "venue", "subject_id": venue["id"], "label": "desk"},
        key=operator_key,
    )
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"  # the key is in this answer only
    created = answer.json()
    venue_key, key_id = created["api_key"], created["key_id"]
    assert venue_key.startswith("ak_") and len(venue_key) > 40

    listed = api.get("/api-keys", key=operator_key).json()["keys"]
    assert key_id in [k["key_id"] for k in listed]
    assert all("api_key" not in k and "hash" not in k for k in listed)
    assert venue_key not in str(listed)

    assert api.get("/api-keys", key=venue_key).json()["error"]["code"] == "wrong_role"
    assert api.post(f"/api-keys/{key_id}/revoke", key=operator_key).status_code == 200
    answer = api.get("/api-keys", key=venue_key)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_api_key"
    again = api.post(f"/api-keys/{key_id}/revoke", key=operator_key)
    assert again.status_code == 404

    # its dates are BSON dates in the store, ISO 8601 text with a Z in answers
    raw = get_client(stack_config["MONGO_URI"])[database_name(stack_config, "gateway")]
    stored = raw.api_keys.find_one({"key_id": key_id})
    assert type(stored["created_at"]) is datetime and type(stored["revoked_at"]) is datetime
    listed = {k["key_id"]: k for k in api.get("/api-keys", key=operator_key).json()["keys"]}
    assert listed[key_id]["created_at"] == iso(stored["created_at"])
    assert listed[key_id]["revoked_at"] == iso(stored["revoked_at"])
    assert ISO_Z.fullmatch(listed[key_id]["created_at"]) and ISO_Z.fullmatch(
        listed[key_id]["revoked_at"]
    )
    assert created["created_at"] == listed[key_id]["created_at"] and created["revoked_at"] is None


def test_malformed_authorization_headers(api):
    for header in ["", "Bearer", "Basic Z3Vlc3Q6Z3Vlc3Q=", "Bearer " + "a" * 5000]:
        answer = api.get("/api-keys", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["error"]["code"] in ("missing_api_key", "invalid_api_key")


def test_method_not_allowed_and_correlation_id(api, operator_key):
    answer = api.request("DELETE", "/venues")
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
    answer = api.post(
        "/venues", json=venue_payload(), key=operator_key, headers={"X-Correlation-Id": "abc-123"}
    )
    assert answer.status_code == 201


def test_health_names_the_service_that_is_down(runner_factory, stack_config):
    runner = runner_factory(stack_config, *all_service_classes())
    runner.start()
    get_container(runner, all_service_classes(["settlement"])[0]).stop()
    api = Api(f"http://{stack_config['WEB_SERVER_ADDRESS']}/api/v1")
    answer = api.get("/health")
    assert answer.status_code == 503
    assert answer.json()["down"] == ["settlement"]
    assert answer.json()["services"]["catalog"] == {"status": "ok"}


class JsonCapture(logging.Handler):
    """Formats each record as it is emitted (in the worker that logs it)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


def test_correlation_id_follows_the_request_into_the_service(api, operator_key):
    venue = api.post("/venues", json=venue_payload(), key=operator_key).json()
    capture = JsonCapture()
    logging.getLogger().addHandler(capture)
    try:
        answer = api.post(
            f"/venues/{venue['id']}/accreditation",
            json={"decision": "suspend", "reason": "pas encore accrédité"},
            key=operator_key,
            headers={"X-Correlation-Id": "corr-4242"},
        )
    finally:
        logging.getLogger().removeHandler(capture)
    assert answer.status_code == 409
    # the catalog worker's own log line (an expected refusal) carries the gateway's correlation id
    catalog_lines = [
        line
        for line in capture.lines
        if line["service"] == "catalog" and "decide_accreditation" in line["message"]
    ]
    assert catalog_lines and {line["correlation_id"] for line in catalog_lines} == {"corr-4242"}
