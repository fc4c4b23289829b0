"""`make run` as a newcomer uses it: the `aptic run` process, the first operator key from the
`aptic keys create` command, a curl-like call, and a clean stop on Ctrl-C."""

import os
import signal
import subprocess
from datetime import UTC, datetime

import pytest
import requests

from tests.conftest import free_port
from tests.e2e.platform_support import APTIC, Platform, port_is_open
from tests.factories import venue_payload

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform(rabbit_config, mongo_config, tmp_path):
    """``aptic run`` on the test session's server (so it starts none), with databases of its own."""
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "MONGO_URI": mongo_config["MONGO_URI"],
        "MONGO_DB_PREFIX": mongo_config["MONGO_DB_PREFIX"],
        "LOG_LEVEL": "WARNING",
        "SCHEDULED_RUNS": "false",  # runs asked by the test only
    }
    env.pop("APTIC_CONFIG", None)
    running = Platform(env, tmp_path / "aptic-run.log")
    try:
        running.start()
        yield running.base, env, running
    finally:
        running.cleanup()


def test_run_create_first_operator_key_use_it_and_stop(platform):
    base, env, running = platform
    shell = f"KEY=$({APTIC} keys create --role operator --label newcomer | tail -1); echo $KEY"
    key = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True, timeout=60)
    key = key.stdout.strip()
    assert key.startswith("ak_"), key

    answer = requests.post(
        base + "/venues",
        json=venue_payload(),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text

    listing = subprocess.run(
        [APTIC, "keys", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "operator" in listing.stdout and key not in listing.stdout

    # the month's settlement and an expiry run from the command line, with a progress bar
    today = datetime.now(UTC).date().isoformat()
    settle = subprocess.run(
        [APTIC, "settle", "--period-end", today],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert settle.returncode == 0, settle.stderr[-2000:]
    assert f"SR-{today} completed: 0 payouts" in settle.stdout and "SYN-" in settle.stdout
    assert f"SR-{today}" in settle.stderr  # the bar
    expire = subprocess.run(
        [APTIC, "expire", "--as-of", today], env=env, capture_output=True, text=True, timeout=120
    )
    assert expire.returncode == 0 and f"EXP-{today} completed: 0 coupons" in expire.stdout
    future = subprocess.run(
        [APTIC, "settle", "--period-end", "2999-01-01"], env=env, capture_output=True, text=True
    )
    assert future.returncode == 1 and "period_not_over" in future.stderr

    assert running.stop(signal.SIGINT, timeout=60) == 0, running.tail()
    output = running.output()
    assert "http://127.0.0.1" in output and "keys create --role operator" in output
    assert "stopped." in output
    assert not running.leftovers(), running.leftovers()
    assert not port_is_open(running.port)
