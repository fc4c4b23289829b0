"""`make run` as a newcomer uses it: the `aptic run` process, the first operator key from the
`aptic keys create` command, a curl-like call, and a clean stop on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.factories import venue_payload

pytestmark = pytest.mark.e2e

APTIC = str(Path(sys.executable).parent / "aptic")


@pytest.fixture
def platform(rabbit_config, mongo_config, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "MONGO_URI": "mongomock://",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [APTIC, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/health", timeout=5).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the platform did not answer: " + process.communicate()[0][-3000:])
    yield base, env, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_run_create_first_operator_key_use_it_and_stop(platform):
    base, env, process = platform
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
    assert future.returncode == 1 and "invalid_period" in future.stderr

    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    assert "http://127.0.0.1" in output and "keys create --role operator" in output
    assert "stopped." in output
