"""Browser tests: the whole platform (every service and the web pages) on the real RabbitMQ, in
this process; each scenario's browser steps run in a process of their own
(``tests/browser/scenarios.py``, see ``tests/browser/browser.py``), given what the test made."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from aptic.registry import all_service_classes
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
WEB_SECRET = "test-web-secret-0123456789abcdef"
SCENARIO_SECONDS = 150


@pytest.fixture
def stack_config(service_config):
    port = free_port()
    return {
        **service_config,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "WEB_PAGES_ADDRESS": f"127.0.0.1:{port}",
        "PUBLIC_WEB_URL": f"http://127.0.0.1:{port}",
        "WEB_SECRET": WEB_SECRET,
    }


@pytest.fixture
def stack(runner_factory, stack_config):
    runner = runner_factory(stack_config, *all_service_classes())
    runner.start()
    return runner


@pytest.fixture
def site(stack, stack_config):
    return stack_config["PUBLIC_WEB_URL"]


@pytest.fixture
def rpc(stack, stack_config):
    """``rpc(service)``: a standalone proxy (closed at the end of the test)."""
    proxies = []

    def make(service):
        proxy = ServiceRpcProxy(service, stack_config)
        proxies.append(proxy)
        return proxy.start()

    yield make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def browse(site, request):
    """``browse(scenario, **data)``: run a scenario of ``tests/browser/scenarios.py`` in Chromium,
    against this test's platform; what it returns (JSON), or the test fails with its output."""

    def run(scenario, **data):
        done = subprocess.run(
            [sys.executable, "-m", "tests.browser.scenarios", scenario],
            input=json.dumps({"site": site, "test": request.node.name, **data}),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=SCENARIO_SECONDS,
        )
        assert done.returncode == 0, f"{scenario} failed:\n{done.stdout}\n{done.stderr[-6000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
