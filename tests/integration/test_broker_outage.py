"""A service whose reply cannot be sent (the broker out of reach longer than nameko's publish
retries) keeps running: nameko 2.14 would let the error kill the whole container. The request is
delivered again once the broker is back, and answered."""

import eventlet
import pytest
import requests

from shared.amqp_client import AmqpClient
from shared.entrypoints import rpc

pytestmark = pytest.mark.integration


class Slow:
    name = "slow"
    calls = []
    release = None

    @rpc
    def work(self, n):
        Slow.calls.append(n)
        if len(Slow.calls) == 1:
            Slow.release.wait()
        return n * 2


def cut_connections(rabbit_manager, vhost):
    for connection in rabbit_manager._get("vhosts", vhost, "connections") or []:
        try:
            rabbit_manager.delete_connection(connection["name"])
        except requests.HTTPError:
            pass


def test_a_reply_the_broker_cannot_take_does_not_kill_the_service(
    container_factory, rabbit_config, rabbit_manager
):
    Slow.calls, Slow.release = [], eventlet.event.Event()
    container = container_factory(Slow, rabbit_config)
    container.start()
    vhost, uri = rabbit_config["vhost"], rabbit_config["AMQP_URI"]
    with AmqpClient(uri, timeout=60, name="outage_test") as client:
        client.request("slow", "work", (21,))
        with eventlet.Timeout(10):
            while not Slow.calls:
                eventlet.sleep(0.05)

        # the broker out of reach (no connection allowed on the vhost) while the reply is due
        rabbit_manager._put("vhost-limits", vhost, "max-connections", json={"value": 0})
        try:
            with eventlet.Timeout(15):
                while rabbit_manager._get("vhosts", vhost, "connections"):
                    cut_connections(rabbit_manager, vhost)
                    eventlet.sleep(0.5)
            Slow.release.send()
            eventlet.sleep(12)  # longer than nameko's publish retries (2 + 3 + 4 s)
            assert not container._died.ready(), "the container died"
        finally:
            rabbit_manager._delete("vhost-limits", vhost, "max-connections")

    # back: the request was put back, done again, and the service answers new calls
    with eventlet.Timeout(60):
        while Slow.calls.count(21) < 2:
            eventlet.sleep(0.2)
    with AmqpClient(uri, timeout=30, name="outage_test_after") as client:
        assert client.call("slow", "work", 4) == 8
    assert not container._died.ready()
