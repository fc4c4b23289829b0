"""docs/amqp.md and the pika client say what nameko and the platform's code do (no broker here;
tests/integration/test_amqp_wire.py checks the same on the real one)."""

import subprocess
import sys
from pathlib import Path

import pytest
from nameko.exceptions import serialize

from aptic import amqp_contract
from shared import amqp_client, errors
from shared.contracts import registry

ROOT = Path(__file__).resolve().parents[2]


def test_amqp_doc_is_current():
    written = amqp_contract.generated_part((ROOT / "docs/amqp.md").read_text())
    assert written == amqp_contract.render(), "run: .venv/bin/python -m aptic.amqp_contract"


def test_the_client_speaks_what_nameko_speaks():
    wire = amqp_contract.wire()
    assert amqp_client.RPC_EXCHANGE == wire["rpc_exchange"] == "nameko-rpc"
    assert (wire["rpc_exchange_type"], wire["rpc_exchange_durable"]) == ("topic", True)
    assert amqp_client.RPC_QUEUE == wire["rpc_queue"]
    assert amqp_client.REPLY_QUEUE == wire["reply_queue"]
    assert amqp_client.EVENT_EXCHANGE == wire["event_exchange"]
    assert (wire["event_exchange_type"], wire["event_exchange_durable"]) == ("topic", True)
    assert amqp_client.HEADER_PREFIX == wire["header_prefix"]
    assert amqp_client.CORRELATION_HEADER == wire["correlation_header"]
    assert amqp_client.CALL_ID_STACK_HEADER == wire["call_id_stack_header"]
    assert amqp_client.CONTENT_TYPE == wire["content_type"]
    assert amqp_client.PERSISTENT == wire["delivery_mode"]
    assert amqp_client.DEFAULT_HEARTBEAT == wire["heartbeat"]
    queues = [q for found in amqp_contract.event_handlers().values() for q in found]
    assert "evt-redemption-coupons_redeemed--settlement.handle_coupons_redeemed" in queues
    assert (
        amqp_client.EVENT_QUEUE.format(
            source="redemption",
            event_type="coupons_redeemed",
            consumer="settlement.handle_coupons_redeemed",
        )
        in queues
    )


def test_the_client_knows_every_code_of_the_contract_by_kind():
    assert amqp_client.ERROR_KINDS == amqp_contract.error_kinds(), (
        "run: .venv/bin/python -m aptic.amqp_contract"
    )
    source = (ROOT / "shared/amqp_client.py").read_text()
    assert amqp_contract.render_error_kinds() in source  # as written by the generator
    platform_kinds = {"AppError": errors.AppError, **{k.__name__: k for k in registry.KINDS}}
    assert amqp_client.KINDS == platform_kinds  # the same classes: raised and caught alike


@pytest.mark.parametrize("cls", registry.ALL_ERRORS, ids=lambda cls: f"{cls.__name__}")
def test_every_error_of_the_contract_comes_back_as_its_class_and_kind(cls):
    sent = cls("refused for a reason", details={"serial": "C1", "count": 2})
    envelope = serialize(sent)

    received = amqp_client.wire_error(envelope)
    assert type(received).__name__ == cls.__name__
    assert isinstance(received, amqp_client.KINDS[registry.kind_of(cls).__name__])
    assert isinstance(received, amqp_client.AppError)
    assert received.to_dict() == sent.to_dict()
    assert received.envelope == envelope
    assert type(amqp_client.wire_error(envelope)) is type(received)  # one class, cached

    platform = amqp_client.platform_error(envelope)
    assert type(platform) is cls and platform.to_dict() == sent.to_dict()


def test_kinds_with_codes_of_their_own_unknown_errors_and_bugs():
    key = amqp_client.wire_error(serialize(errors.NotFound("no such key", code="key_not_found")))
    assert type(key) is amqp_client.NotFound and key.code == "key_not_found"

    newer = {  # an error class this client's table does not know yet (a newer service)
        "exc_type": "BrandNew",
        "exc_path": "shared.contracts.errors_ordering.BrandNew",
        "exc_args": ["something new", "{}", "brand_new"],
        "value": "brand_new: something new",
    }
    received = amqp_client.wire_error(newer)
    assert type(received).__name__ == "BrandNew" and received.code == "brand_new"
    assert type(received).__mro__[1] is amqp_client.AppError

    bug = amqp_client.wire_error(serialize(KeyError("venue")))
    assert isinstance(bug, amqp_client.RemoteError) and bug.exc_type == "KeyError"
    assert not isinstance(bug, amqp_client.AppError)


@pytest.mark.parametrize(
    "uri, host, port, vhost",
    [
        ("pyamqp://guest:guest@localhost:5672/nameko_test_ab", "localhost", 5672, "nameko_test_ab"),
        ("pyamqp://guest:guest@127.0.0.1:5672/", "127.0.0.1", 5672, "/"),
        ("amqp://u:p@rabbit", "rabbit", 5672, "/"),
        ("amqp://u:p@rabbit:5673/%2F", "rabbit", 5673, "/"),
    ],
)
def test_connection_parameters_from_the_platforms_amqp_uri(uri, host, port, vhost):
    params = amqp_client.connection_parameters(uri, name="x")
    assert (params.host, params.port, params.virtual_host) == (host, port, vhost)
    assert params.heartbeat == amqp_client.DEFAULT_HEARTBEAT


def test_the_client_imports_neither_nameko_nor_eventlet():
    code = (
        "import sys, shared.amqp_client\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nameko', 'eventlet')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
