"""The whole platform (every service and the gateway) on the real RabbitMQ, reached over HTTP."""

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from aptic.registry import all_service_classes
from tests.conftest import Api, free_port


@pytest.fixture
def stack_config(service_config):
    return {**service_config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}


@pytest.fixture
def stack(runner_factory, stack_config):
    runner = runner_factory(stack_config, *all_service_classes())
    runner.start()
    return runner


@pytest.fixture
def api(stack, stack_config):
    return Api(f"http://{stack_config['WEB_SERVER_ADDRESS']}/api/v1")


@pytest.fixture
def make_key(stack, stack_config):
    """Create an API key as ``aptic keys create`` does (RPC to the gateway); returns the key."""

    def make(role, subject_id=None, label=None):
        with ServiceRpcProxy("gateway", stack_config) as gateway:
            return gateway.create_api_key(role, subject_id, label)["api_key"]

    return make


@pytest.fixture
def operator_key(make_key):
    return make_key("operator", label="test operator")
