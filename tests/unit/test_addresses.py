"""The client's address behind trusted proxies (shared/addresses.py)."""

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from shared.addresses import client_address, trusted_proxies


def request(forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    environ = EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    return Request(environ.get_environ())


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address(request("203.0.113.9")) == "10.0.0.5"
    assert client_address(request("203.0.113.9"), 0) == "10.0.0.5"


def test_each_trusted_proxy_is_one_entry_from_the_end():
    forged = "1.2.3.4, 203.0.113.9"  # the client wrote 1.2.3.4; the ingress appended the rest
    assert client_address(request(forged), 1) == "203.0.113.9"
    assert client_address(request(f"{forged}, 10.0.0.7"), 2) == "203.0.113.9"
    assert client_address(request("203.0.113.9"), 2) == "10.0.0.5"  # fewer hops than proxies
    assert client_address(request(), 1) == "10.0.0.5"
    assert client_address(request("x" * 5000), 1) == "10.0.0.5"  # not read


def test_the_setting_is_a_count():
    assert trusted_proxies({}) == 0 and trusted_proxies({"TRUSTED_PROXIES": "1"}) == 1
    assert trusted_proxies({"TRUSTED_PROXIES": "many"}) == 0
    assert trusted_proxies({"TRUSTED_PROXIES": "-3"}) == 0
