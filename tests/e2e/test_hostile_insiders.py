"""Insiders naming what does not exist: no API key is bound to a sponsor, distributor or venue the
owning service does not know, and a made-up sponsor has no dashboard nor alerts (issue 16).

The reproductions: ``aptic keys create --role venue --venue-id ven_made_up`` and ``POST /api-keys``
made keys for nobody; ``GET /sponsors/spo_<anything>/dashboard`` answered 200 with zeros."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.utils import get_container

from aptic.registry import all_service_classes
from shared.errors import NotFound
from tests.conftest import Api
from tests.factories import IBANS, venue_payload

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
APTIC = str(Path(sys.executable).with_name("aptic"))
MADE_UP = {
    "venue": ("ven_ffffffffffffffffffff", "venue_not_found"),
    "sponsor": ("spo_ffffffffffffffffffff", "sponsor_not_found"),
    "distributor": ("dis_ffffffffffffffffffff", "distributor_not_found"),
}


def error(answer):
    return answer.status_code, answer.json()["error"]["code"]


def real_subjects(api, operator_key):
    """A venue, a sponsor and one of its distributors, made through the API: ``{role: id}``."""
    venue = api.post("/venues", json=venue_payload(), key=operator_key)
    payload = {"name": "Département", "kind": "department", "territory": "33", "iban": IBANS[1]}
    sponsor = api.post("/sponsors", json=payload, key=operator_key)
    assert venue.status_code == sponsor.status_code == 201, (venue.text, sponsor.text)
    payload = {"name": "CCAS de Pessac", "sponsor_id": sponsor.json()["id"], "town_code": "33318"}
    distributor = api.post("/distributors", json=payload, key=operator_key)
    assert distributor.status_code == 201, distributor.text
    return {
        "venue": venue.json()["id"],
        "sponsor": sponsor.json()["id"],
        "distributor": distributor.json()["id"],
    }


def key_ids(api, operator_key):
    return {k["key_id"] for k in api.get("/api-keys", key=operator_key).json()["keys"]}


@pytest.mark.parametrize("role", sorted(MADE_UP))
def test_no_key_over_http_for_a_subject_that_does_not_exist(api, operator_key, role):
    before = key_ids(api, operator_key)
    made_up, code = MADE_UP[role]
    for subject_id in (made_up, "nobody", "x" * 64, "spo_" if role == "venue" else "ven_"):
        body = {"role": role, "subject_id": subject_id, "label": "made up"}
        answer = api.post("/api-keys", json=body, key=operator_key)
        assert error(answer) == (404, code), (subject_id, answer.text)
        assert answer.json()["error"]["details"] == {f"{role}_id": subject_id}
    assert key_ids(api, operator_key) == before  # nothing was made

    subject_id = real_subjects(api, operator_key)[role]
    answer = api.post("/api-keys", json={"role": role, "subject_id": subject_id}, key=operator_key)
    assert answer.status_code == 201, answer.text
    assert answer.json()["subject_id"] == subject_id
    assert api.get("/health", key=answer.json()["api_key"]).status_code == 200


def test_no_key_over_rpc_or_the_command_line_for_a_made_up_subject(
    api, operator_key, stack_config, make_key
):
    before = key_ids(api, operator_key)
    with ServiceRpcProxy("gateway", stack_config) as gateway:
        for role, (made_up, code) in MADE_UP.items():
            with pytest.raises(NotFound) as refused:
                gateway.create_api_key(role, made_up, "made up")
            assert refused.value.code == code
    assert key_ids(api, operator_key) == before

    env = {**os.environ, "AMQP_URI": stack_config["AMQP_URI"]}
    env.pop("APTIC_CONFIG", None)
    done = subprocess.run(
        [APTIC, "keys", "create", "--role", "venue", "--venue-id", MADE_UP["venue"][0]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "venue_not_found" in done.stderr, done.stderr[-2000:]
    assert "ak_" not in done.stdout
    assert key_ids(api, operator_key) == before

    subjects = real_subjects(api, operator_key)  # the same calls, for real ones, make keys
    for role, subject_id in subjects.items():
        assert make_key(role, subject_id, "real").startswith("ak_")


def test_a_made_up_sponsor_has_no_dashboard_nor_alerts(api, operator_key, make_key):
    sponsor_id = real_subjects(api, operator_key)["sponsor"]
    sponsor_key = make_key("sponsor", sponsor_id)
    for path in ("dashboard", "expiry-alerts"):
        for made_up in ("spo_ffffffffffffffffffff", "spo_%24ne", "nobody"):
            answer = api.get(f"/sponsors/{made_up}/{path}", key=operator_key)
            assert error(answer) == (404, "sponsor_not_found"), (made_up, answer.text)
            # a sponsor's key still reaches only its own: 403 first, whether the other exists
            assert error(api.get(f"/sponsors/{made_up}/{path}", key=sponsor_key)) == (
                403,
                "not_yours",
            )
        for key in (operator_key, sponsor_key):
            answer = api.get(f"/sponsors/{sponsor_id}/{path}", key=key)
            assert answer.status_code == 200, answer.text


def test_the_owning_service_stopped_is_503_and_no_key(runner_factory, stack_config):
    config = {**stack_config, "RPC_TIMEOUT": 2}
    runner = runner_factory(config, *all_service_classes())
    runner.start()
    api = Api(f"http://{config['WEB_SERVER_ADDRESS']}/api/v1")
    with ServiceRpcProxy("gateway", config) as gateway:
        operator_key = gateway.create_api_key("operator", None, "test operator")["api_key"]
    subjects = real_subjects(api, operator_key)
    before = key_ids(api, operator_key)

    get_container(runner, all_service_classes(["catalog"])[0]).stop()
    answer = api.post(
        "/api-keys", json={"role": "venue", "subject_id": subjects["venue"]}, key=operator_key
    )
    assert error(answer) == (503, "service_unavailable"), answer.text
    assert answer.json()["error"]["details"] == {"service": "catalog"}
    assert key_ids(api, operator_key) == before
    # the sponsor's owner still answers: its keys are still made
    answer = api.post(
        "/api-keys", json={"role": "sponsor", "subject_id": subjects["sponsor"]}, key=operator_key
    )
    assert answer.status_code == 201, answer.text

    get_container(runner, all_service_classes(["ordering"])[0]).stop()
    for role in ("sponsor", "distributor"):
        answer = api.post(
            "/api-keys", json={"role": role, "subject_id": subjects[role]}, key=operator_key
        )
        assert error(answer) == (503, "service_unavailable"), answer.text
    answer = api.get(f"/sponsors/{subjects['sponsor']}/dashboard", key=operator_key)
    assert error(answer) == (503, "service_unavailable"), answer.text
    assert len(key_ids(api, operator_key)) == len(before) + 1
