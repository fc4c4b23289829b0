"""The gateway waits for a service as long as ``RPC_TIMEOUT`` says, then answers 503."""

from types import SimpleNamespace

import eventlet
import pytest

from services.gateway.rpc import DEFAULT_RPC_TIMEOUT, call, configured_timeout
from shared.errors import Unavailable


class SilentMethod:
    """A proxy method whose service never answers (as a stopped service's)."""

    service_name = "settlement"

    def __init__(self, config):
        self.worker_ctx = SimpleNamespace(config=config)

    def call_async(self, *args, **kwargs):
        return SimpleNamespace(result=lambda: eventlet.sleep(60), resp_body=None)


def test_timeout_comes_from_the_config_of_the_calling_worker():
    assert configured_timeout(SilentMethod({"RPC_TIMEOUT": "2.5"})) == 2.5
    assert configured_timeout(SilentMethod({})) == DEFAULT_RPC_TIMEOUT


def test_a_silent_service_is_unavailable_after_the_configured_time():
    started = eventlet.hubs.get_hub().clock()
    with pytest.raises(Unavailable) as raised:
        call(SilentMethod({"RPC_TIMEOUT": 0.3}))
    waited = eventlet.hubs.get_hub().clock() - started
    assert 0.3 <= waited < 5
    assert raised.value.details == {"service": "settlement"}
    assert "did not answer in 0.3 s" in raised.value.message
