"""Anonymous requests on public routes are rate limited per client address, counted in the
gateway's database (every gateway process shares the counts): 429 ``rate_limited`` with
``Retry-After``; a request with a key is not counted; ``/health`` never limited."""

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.limits import RateLimiter, parse_limit
from shared.errors import TooManyAttempts
from shared.mongo import database_name, get_client
from tests.conftest import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_config(service_config):
    return {
        **service_config,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "PUBLIC_RATE_LIMIT": "5/60",
    }


def test_anonymous_requests_on_public_routes_are_limited(api, operator_key, stack_config):
    statuses = []
    for _ in range(11):  # 5 a window: a window may end once in between, not twice
        answer = api.get("/venues")
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429, statuses
    error = answer.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["limit"] == 5 and error["details"]["window_seconds"] == 60
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert int(answer.headers["Retry-After"]) == error["details"]["retry_after"]

    # per client, not per route: the map, a venue, the document and the API page are counted too
    assert api.get("/map.geojson").status_code == 429
    assert api.get("/openapi.json").status_code == 429
    assert api.get("/docs").status_code == 429
    # with a key, not counted here; health never limited
    assert api.get("/venues", key=operator_key).status_code == 200
    assert api.get("/health").status_code == 200

    # the counts are in the gateway's database, where every gateway process reads them
    db = get_client(stack_config["MONGO_URI"])[database_name(stack_config, "gateway")]
    (window,) = list(db.rate_limits.find({}, {"_id": 0}))
    assert window["key"].startswith("127.0.0.1|60|") and window["count"] >= 9


def test_two_processes_share_one_count(mongo_config):
    db = get_client(mongo_config["MONGO_URI"])[mongo_config["MONGO_DB_PREFIX"] + "gateway"]
    first, second = RateLimiter(db, (3, 60)), RateLimiter(db, (3, 60))
    at = datetime(2026, 12, 2, 12, 0, 10, tzinfo=UTC)
    for limiter in (first, second, first):
        limiter.hit("203.0.113.7", at=at)
    with pytest.raises(TooManyAttempts) as refused:
        second.hit("203.0.113.7", at=at + timedelta(seconds=5))
    assert refused.value.details["retry_after"] == 45
    second.hit("198.51.100.1", at=at)  # another address: its own count
    first.hit("203.0.113.7", at=at + timedelta(seconds=50))  # the next window starts afresh
    assert parse_limit("0") is None and parse_limit(None) == (600, 60)
    with pytest.raises(ValueError):
        parse_limit("-1/60")


@pytest.mark.parametrize("proxies", [0, 1])
def test_behind_a_proxy_each_forwarded_client_has_its_own_count(
    runner_factory, service_config, proxies
):
    """TRUSTED_PROXIES=1 (an ingress): the client is the address the proxy appended; 0: the
    header is the client's own text and is ignored (it cannot buy a fresh count)."""
    from aptic.registry import all_service_classes
    from tests.conftest import Api

    config = {
        **service_config,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "PUBLIC_RATE_LIMIT": "3/60",
        "TRUSTED_PROXIES": str(proxies),
    }
    runner_factory(config, *all_service_classes()).start()
    api = Api(f"http://{config['WEB_SERVER_ADDRESS']}/api/v1")

    def get(client):  # the client forges a first entry; the proxy appends the real address
        headers = {"X-Forwarded-For": f"10.9.9.9, {client}"}
        return api.get("/venues", headers=headers).status_code

    first = [get("198.51.100.1") for _ in range(4)]
    assert first == [200, 200, 200, 429]
    other = get("198.51.100.2")
    assert other == (200 if proxies else 429)
