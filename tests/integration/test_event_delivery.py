"""Events are not lost to a failing handler: unexpected errors requeue, expected ones do not."""

import eventlet
import pytest
from nameko.standalone.events import event_dispatcher

from shared.entrypoints import event_handler
from shared.errors import InvalidInput

pytestmark = pytest.mark.integration


class Flaky:
    name = "flaky"
    calls = []

    @event_handler("source", "happened")
    def handle_happened(self, payload):
        Flaky.calls.append(payload["n"])
        if payload["n"] == 1 and Flaky.calls.count(1) == 1:
            raise ConnectionError("store unreachable")  # unexpected: try again
        if payload["n"] == 2:
            raise InvalidInput("malformed event")  # expected: final


def test_unexpected_failure_is_retried_and_expected_refusal_is_not(
    container_factory, rabbit_config
):
    Flaky.calls = []
    container_factory(Flaky, rabbit_config).start()
    dispatch = event_dispatcher(rabbit_config)
    dispatch("source", "happened", {"n": 1})
    dispatch("source", "happened", {"n": 2})
    with eventlet.Timeout(10):
        while Flaky.calls.count(1) < 2:
            eventlet.sleep(0.1)
    eventlet.sleep(1.5)
    assert Flaky.calls.count(1) == 2  # failed once, then handled
    assert Flaky.calls.count(2) == 1  # refused once, never again
