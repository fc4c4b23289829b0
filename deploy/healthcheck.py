"""Healthcheck of one platform container: ``python /app/deploy/healthcheck.py SERVICE``.

Exits 0 when the service answers on the bus: its RPC queue ``rpc-<service>`` exists and has at
least one consumer. It asks RabbitMQ with a passive ``queue_declare``, which creates nothing and
changes nothing. For the gateway it also makes an HTTP GET on ``/api/v1/health``. The gateway is
healthy on a 200. It is also healthy on a 503 that the gateway itself sent, naming other services
as down. The containers of those services report them down through their own healthchecks, so a
stopped settlement does not make the API unhealthy too.

The configuration is read as the service reads it: ``services/<service>/config.yml``, filled
from the environment (``AMQP_URI``, ``WEB_SERVER_ADDRESS``).

Limit: the consumer count is the queue's, not this instance's. With several instances of a
service (``docker compose up --scale redemption=3``), one instance that has lost its broker
connection is not seen while another one consumes.
"""

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 5


class Unhealthy(Exception):
    """The service does not answer as it should."""


def service_config(service):
    from shared.config import load_config

    path = ROOT / "services" / service / "config.yml"
    if not path.is_file():
        raise Unhealthy(f"unknown service {service!r} (no {path})")
    return load_config(path)


def check_rpc_consumers(amqp_uri, service, timeout=TIMEOUT):
    """The number of consumers of ``rpc-<service>``; Unhealthy if none or no answer."""
    from kombu import Connection

    queue = f"rpc-{service}"
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as connection:
            channel = connection.channel()
            try:
                _, _, consumers = channel.queue_declare(queue=queue, passive=True)
            finally:
                channel.close()
    except Exception as exc:  # no broker, bad credentials, no such queue (404): all unhealthy
        raise Unhealthy(f"{queue}: {type(exc).__name__}: {exc}") from exc
    if consumers < 1:
        raise Unhealthy(f"{queue}: no consumer")
    return consumers


def gateway_health_url(config):
    host, _, port = str(config["WEB_SERVER_ADDRESS"]).rpartition(":")
    host = "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host
    return f"http://{host}:{port}/api/v1/health"


def check_http(url, timeout=TIMEOUT):
    """The answer of the gateway's health route, as a short text. Unhealthy unless the answer
    is a 200, or a 503 from the gateway itself (JSON ``status: degraded`` with the gateway up).
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"null")
        except ValueError:
            body = None
        if exc.code == 503 and isinstance(body, dict) and body.get("status") == "degraded":
            return f"{url}: 503, gateway up, down: {', '.join(body.get('down', []))}"
        raise Unhealthy(f"{url}: HTTP {exc.code}") from exc
    except OSError as exc:  # refused, timed out
        raise Unhealthy(f"{url}: {exc}") from exc


def check(service):
    config = service_config(service)
    consumers = check_rpc_consumers(config["AMQP_URI"], service)
    report = [f"rpc-{service}: {consumers} consumer(s)"]
    if service == "gateway":
        report.append(check_http(gateway_health_url(config)))
    return "; ".join(report)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: healthcheck.py SERVICE", file=sys.stderr)
        return 2
    try:
        print(check(argv[0]))
    except Exception as exc:  # the healthcheck's answer is its exit code and one line
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
