"""Test policy (the tiers, see docs/testing.md):

* ``tests/unit``: domain code and templates, no broker, no storage (seconds).
* ``tests/store``: the services' stores and APIs on the real storage server, no broker.
* ``tests/checks``: the repository against itself (docs current, deploy files, contracts).
* ``tests/documents``, ``tests/property``: the PDF files read back; hypothesis state machines.
* ``tests/integration``: one service at a time on the real RabbitMQ (a fresh vhost per test),
  calling its RPC methods and dispatching/receiving real events; only what is outside the service
  (other services) is replaced, by real containers or event dispatches, never by mocks of the service.
* ``tests/e2e``: every service and the gateway, over HTTP, as a client would.
* ``tests/browser``: every service and the web pages, in Chromium.

Storage is a real MongoDB-wire server: the embedded SecantusDB server, started once per test run
(data in a temporary folder), or the MongoDB that ``MONGO_URI`` names. Every test gets its own
database names, so the suite runs unchanged against either.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first thing: nameko's pytest plugin no longer does it

import os  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402

from aptic.dbserver import EmbeddedServer  # noqa: E402
from shared.mongo import get_client  # noqa: E402

TEST_SECRETS = {
    "OPERATOR_SECRET": "test-operator-secret-0123456789abcdef",
    "CODE_DIGEST_KEY": "test-code-digest-key-0123456789abcdef",
}


@pytest.fixture(scope="session", autouse=True)
def mongo_uri(tmp_path_factory):
    """The server of this test run: ``MONGO_URI`` if set, else an embedded server of our own.

    The URI is put in the environment too, for the processes tests start."""
    uri = os.environ.get("MONGO_URI")
    if uri:
        yield uri
        return
    folder = tmp_path_factory.mktemp("secantus")
    server = EmbeddedServer(folder / "db", port=free_port(), log_path=folder / "secantusd.log")
    with server:
        _EMBEDDED_URIS.add(server.uri)
        os.environ["MONGO_URI"] = server.uri
        try:
            yield server.uri
        finally:
            del os.environ["MONGO_URI"]


_EMBEDDED_URIS = set()  # the servers this run started: thrown away with their folder


@pytest.fixture
def mongo_config(mongo_uri):
    """Storage settings of one test: its own database prefix; on a MongoDB named by
    ``MONGO_URI``, its databases are dropped afterwards.

    On the embedded server they are left: its folder goes at the end of the run. A container
    stopped by a test's teardown can leave a transaction open on the server; SecantusDB does not
    abort it for a ``dropDatabase`` (MongoDB does) and the drop waited forever on its records,
    holding the whole server."""
    uri = mongo_uri
    prefix = f"t{secrets.token_hex(4)}_"
    yield {"MONGO_URI": uri, "MONGO_DB_PREFIX": prefix}
    if uri in _EMBEDDED_URIS:
        return
    client = get_client(uri)
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


@pytest.fixture
def service_config(rabbit_config, mongo_config):
    """Configuration of services under test: a fresh vhost on the real RabbitMQ and fresh databases."""
    return {**rabbit_config, **mongo_config, **TEST_SECRETS, "RPC_TIMEOUT": 10}


_handed_out = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
            low, high = (int(part) for part in ranges.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port free now, for a server a test starts a moment later.

    Chosen below the kernel's ephemeral range: a port from ``bind(0)`` can be taken by an outgoing
    connection (to the broker, to storage) between this call and the server's bind, and that
    race made "Address already in use" on a loaded machine. Ports below the range are never given
    to outgoing connections; each is handed out once per test run."""
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


class Api:
    """A small HTTP client for the gateway: ``api.post("/venues", json=..., key=KEY)``."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method, path, key=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if "data" in kwargs and not any(h.lower() == "content-type" for h in headers):
            headers["Content-Type"] = "application/json"  # a JSON API's client; override it to test
        if key:
            headers["Authorization"] = f"Bearer {key}"
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)
