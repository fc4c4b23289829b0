"""Test policy (three tiers, see docs/testing.md):

* ``tests/unit``: domain code and templates, no broker; stores on the in-process engine.
* ``tests/integration``: one service at a time on the real RabbitMQ (a fresh vhost per test),
  calling its RPC methods and dispatching/receiving real events; only what is outside the service
  (other services) is replaced, by real containers or event dispatches, never by mocks of the service.
* ``tests/e2e``: every service and the gateway, over HTTP, as a client would.

``MONGO_URI`` selects the storage (default: the in-process engine); every test gets its own
database names, so the suite runs unchanged against a real MongoDB.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first thing: nameko's pytest plugin no longer does it

import os  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

from shared.mongo import get_client  # noqa: E402

TEST_SECRETS = {
    "OPERATOR_SECRET": "test-operator-secret-0123456789abcdef",
    "CODE_DIGEST_KEY": "test-code-digest-key-0123456789abcdef",
}


@pytest.fixture
def mongo_config():
    """Storage settings of one test: its own database prefix, dropped afterwards."""
    uri = os.environ.get("MONGO_URI", "mongomock://")
    prefix = f"t{secrets.token_hex(4)}_"
    yield {"MONGO_URI": uri, "MONGO_DB_PREFIX": prefix}
    client = get_client(uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


@pytest.fixture
def service_config(rabbit_config, mongo_config):
    """Configuration of services under test: a fresh vhost on the real RabbitMQ and fresh databases."""
    return {**rabbit_config, **mongo_config, **TEST_SECRETS, "RPC_TIMEOUT": 10}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    """A small HTTP client for the gateway: ``api.post("/venues", json=..., key=KEY)``."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method, path, key=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)
