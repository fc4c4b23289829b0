"""The gateway in a process of its own, as docker compose runs it: one ``aptic run --service X``
process per service. It knows every service's errors from the error contract
(``shared/contracts/registry.py``), not from the service modules it happens to import, so each
service's errors reach HTTP clients with their own status and code (not a 500)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy

from tests.conftest import TEST_SECRETS, free_port

pytestmark = pytest.mark.e2e

APTIC = str(Path(sys.executable).parent / "aptic")
SERVICES = ("catalog", "ordering", "issuance", "redemption", "settlement")
START_TIMEOUT = 60


def _log_tail(path, size=3000):
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


@pytest.fixture
def separate_processes(rabbit_config, mongo_config, tmp_path):
    """The gateway and each service, each alone in its own ``aptic run --service`` process."""
    port = free_port()
    env = {
        **os.environ,
        **TEST_SECRETS,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "MONGO_URI": mongo_config["MONGO_URI"],
        "MONGO_DB_PREFIX": mongo_config["MONGO_DB_PREFIX"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "RPC_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
        "SCHEDULED_RUNS": "false",  # runs asked by the test only
    }
    env.pop("APTIC_CONFIG", None)
    processes = {}
    logs = {}
    for name in ("gateway", *SERVICES):
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("w") as out:
            processes[name] = subprocess.Popen(
                [APTIC, "run", "--service", name], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def report():
        return "\n".join(f"--- {name}:\n{_log_tail(path)}" for name, path in logs.items())

    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            dead = [name for name, process in processes.items() if process.poll() is not None]
            if dead:
                pytest.fail(f"{', '.join(dead)} stopped at start:\n{report()}")
            try:
                if requests.get(base + "/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the platform did not answer in {START_TIMEOUT} s:\n{report()}")
            time.sleep(0.3)
        yield base, {"AMQP_URI": rabbit_config["AMQP_URI"]}, report
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_each_services_errors_reach_clients_through_a_gateway_alone(separate_processes):
    base, amqp_config, report = separate_processes
    with ServiceRpcProxy("gateway", amqp_config) as gateway:
        key = gateway.create_api_key("operator", None, "gateway alone")["api_key"]
    headers = {"Authorization": f"Bearer {key}"}

    expected = [
        ("/settlement-runs/SR-2026-01-31", 404, "settlement_run_not_found"),
        ("/venues/ven_unknown", 404, "venue_not_found"),
        ("/orders/ord_unknown", 404, "order_not_found"),
        ("/booklets/not-a-serial", 400, "invalid_serial"),
        ("/redemptions/red_unknown", 404, "redemption_not_found"),
    ]
    for path, status, code in expected:
        answer = requests.get(base + path, headers=headers, timeout=30)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (
            f"GET {path}: {answer.status_code} {answer.text}\n{report()}"
        )
        error = answer.json()["error"]
        assert error["message"] and isinstance(error["details"], dict)
