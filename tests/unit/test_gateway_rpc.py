"""The gateway (and the web pages) wait for a service as long as ``RPC_TIMEOUT`` says, then
answer 503; a service that never ran is 503 at once."""

from types import SimpleNamespace

import eventlet
import pytest
from nameko.exceptions import RemoteError, UnknownService

from services.gateway.rpc import call
from services.web.rpc import call as web_call
from shared.errors import NotFound, Unavailable
from shared.rpc import DEFAULT_RPC_TIMEOUT, configured_timeout


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


class StoppedMethod(SilentMethod):
    """A proxy method of a service that never ran: its queue does not exist."""

    def call_async(self, *args, **kwargs):
        raise UnknownService(self.service_name)


def test_a_service_that_never_ran_is_unavailable_at_once():
    for caller in (call, web_call):  # the gateway and the web pages alike (shared.rpc)
        with pytest.raises(Unavailable) as raised:
            caller(StoppedMethod({"RPC_TIMEOUT": 30}))
        assert raised.value.code == "service_unavailable"
        assert raised.value.details == {"service": "settlement"}
        assert "settlement service is not running" in raised.value.message


class NewerMethod(SilentMethod):
    """A proxy method of a newer service, raising an error class this gateway lacks."""

    ERROR = {
        "exc_type": "RunGone",
        "exc_path": "somewhere.newer.RunGone",
        "exc_args": ["gone", '{"run_id": "SR-2026-01-31"}', "settlement_run_not_found"],
        "value": "settlement_run_not_found: gone",
    }

    def call_async(self, *args, **kwargs):
        def result():
            raise RemoteError(self.ERROR["exc_type"], self.ERROR["value"])

        return SimpleNamespace(result=result, resp_body={"error": self.ERROR})


def test_an_error_class_the_gateway_lacks_is_raised_as_its_kind_with_its_details():
    with pytest.raises(NotFound) as raised:
        call(NewerMethod({}))
    assert raised.value.to_dict() == {
        "code": "settlement_run_not_found",
        "message": "gone",
        "details": {"run_id": "SR-2026-01-31"},
    }
    with pytest.raises(RemoteError):  # the web pages have no such mapping: a 500 page
        web_call(NewerMethod({}))
