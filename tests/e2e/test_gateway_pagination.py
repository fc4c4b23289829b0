"""The gateway's lists answer a page at a time: ``limit`` and ``offset`` in the query, ``total`` (how
many match in all), ``limit`` and ``offset`` in the answer; pages never overlap and together hold
every item; a page larger than the largest is a 400, never a silent cut."""

import pytest

from tests.factories import venue_payload

pytestmark = pytest.mark.e2e


def pages(api, path, key, name, size, **params):
    """Every page of a list, in order: ``(items, answers)``."""
    items, answers, offset = [], [], 0
    while True:
        answer = api.get(path, params={**params, "limit": size, "offset": offset}, key=key)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        answers.append(body)
        assert (body["limit"], body["offset"]) == (size, offset)
        items += body[name]
        offset += size
        if offset >= body["total"]:
            return items, answers


def test_api_keys_a_page_at_a_time(api, operator_key, make_key):
    for n in range(6):
        make_key("operator", label=f"desk {n}")
    everything = api.get("/api-keys", key=operator_key).json()
    assert (everything["total"], everything["limit"], everything["offset"]) == (7, 50, 0)
    items, answers = pages(api, "/api-keys", operator_key, "keys", 3)
    assert [len(a["keys"]) for a in answers] == [3, 3, 1] and {a["total"] for a in answers} == {7}
    assert [k["key_id"] for k in items] == [k["key_id"] for k in everything["keys"]]
    assert len({k["key_id"] for k in items}) == 7
    beyond = api.get("/api-keys", params={"offset": 7}, key=operator_key).json()
    assert beyond["keys"] == [] and beyond["total"] == 7
    for bad in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "x"}):
        answer = api.get("/api-keys", params=bad, key=operator_key)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "validation_error"


def test_venues_a_page_at_a_time(api, operator_key):
    made = []
    for place in ("bordeaux", "merignac", "pessac", "libourne", "arcachon"):
        venue = api.post("/venues", json=venue_payload(place), key=operator_key).json()
        decision = {"decision": "accredit", "reason": "label APTIC"}
        api.post(f"/venues/{venue['id']}/accreditation", json=decision, key=operator_key)
        made.append(venue["id"])
    items, answers = pages(api, "/venues", None, "venues", 2)
    assert [len(a["venues"]) for a in answers] == [2, 2, 1] and answers[0]["total"] == 5
    assert sorted(v["id"] for v in items) == sorted(made)
    near, _ = pages(api, "/venues", None, "venues", 2, near="44.8378,-0.5792", radius_km=100)
    assert near[0]["id"] == made[0]  # nearest first across pages
    assert [v["distance_km"] for v in near] == sorted(v["distance_km"] for v in near)
    assert api.get("/venues", params={"limit": 501}).status_code == 400


def test_redemptions_page_parameters_reach_the_service(api, make_key, operator_key):
    venue = api.post("/venues", json=venue_payload(), key=operator_key).json()
    key = make_key("venue", venue["id"])
    answer = api.get("/redemptions", params={"limit": 5, "offset": 10}, key=key).json()
    assert answer == {"total": 0, "limit": 5, "offset": 10, "redemptions": []}
    answer = api.get("/redemptions", params={"limit": 501}, key=key)
    assert answer.status_code == 400 and "limit" in answer.json()["error"]["details"]["fields"]


def test_settlement_runs_a_page_at_a_time(api, operator_key):
    cut_offs = ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    for day in cut_offs:
        answer = api.post("/settlement-runs", json={"period_end": day}, key=operator_key)
        assert answer.status_code == 201, answer.text
    items, answers = pages(api, "/settlement-runs", operator_key, "runs", 2)
    assert [len(a["runs"]) for a in answers] == [2, 2, 1] and answers[0]["total"] == 5
    assert [r["period_end"] for r in items] == cut_offs[::-1]  # newest first, none twice
    assert api.get("/settlement-runs", params={"limit": 501}, key=operator_key).status_code == 400


@pytest.mark.parametrize("path, name", [("/credit-notes", "credit_notes"), ("/orders", "orders")])
def test_other_lists_take_the_page_parameters(api, operator_key, path, name):
    answer = api.get(path, params={"limit": 5, "offset": 10}, key=operator_key).json()
    assert answer == {"total": 0, "limit": 5, "offset": 10, name: []}
    assert api.get(path, params={"offset": -1}, key=operator_key).status_code == 400


def test_redemption_locks_take_the_page_parameters(api, operator_key):
    answer = api.get("/redemption-locks", params={"limit": 5, "offset": 10}, key=operator_key)
    assert answer.json() == {"total": 0, "limit": 5, "offset": 10, "locks": []}
