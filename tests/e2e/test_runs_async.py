"""Runs asked over HTTP without waiting: ``Prefer: respond-async`` answers 202 at once with the
run's address (``Location``), which the client polls for its progress until it completes."""

import time
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.e2e

ASYNC = {"Prefer": "respond-async"}


def poll(api, location, key, seconds=60):
    path = location.removeprefix("/api/v1")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = api.get(path, key=key)
        assert answer.status_code == 200, answer.text  # the run exists once 202 is answered
        run = answer.json()
        if run["status"] == "completed":
            return run
        time.sleep(0.2)
    raise AssertionError(f"{location} never completed: {run}")


def test_a_settlement_run_and_an_expiry_run_answer_202_and_are_polled(api, operator_key):
    answer = api.post(
        "/settlement-runs", json={"period_end": "2026-10-31"}, key=operator_key, headers=ASYNC
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body == {
        "id": "SR-2026-10-31",
        "kind": "settlement",
        "location": "/api/v1/settlement-runs/SR-2026-10-31",
    }
    assert answer.headers["Location"] == body["location"]
    assert answer.headers["Preference-Applied"] == "respond-async"
    run = poll(api, body["location"], operator_key)
    assert run["totals"] == {"gross_cents": 0, "fee_cents": 0, "net_cents": 0}
    assert run["progress"]["phase"]
    again = api.post("/settlement-runs", json={"period_end": "2026-10-31"}, key=operator_key)
    assert again.status_code == 200 and again.json()["id"] == run["id"]  # the same run

    today = date.today() - timedelta(days=1)
    answer = api.post(
        "/expiry-runs", json={"as_of": today.isoformat()}, key=operator_key, headers=ASYNC
    )
    assert answer.status_code == 202, answer.text
    assert poll(api, answer.headers["Location"], operator_key)["as_of"] == today.isoformat()


def test_refusals_come_before_anything_is_accepted(api, operator_key):
    future = (date.today() + timedelta(days=40)).isoformat()
    answer = api.post(
        "/settlement-runs", json={"period_end": future}, key=operator_key, headers=ASYNC
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "period_not_over"
    answer = api.post("/expiry-runs", json={"as_of": "yesterday"}, key=operator_key, headers=ASYNC)
    assert answer.status_code == 400
    assert api.get("/settlement-runs", key=operator_key).json()["total"] == 0
