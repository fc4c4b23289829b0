"""The error contract (shared/contracts/registry.py) lists every expected error of the platform,
and the gateway knows it whole, whatever else it imports."""

import importlib
import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import NotAllowed
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, deserialize, serialize

import services
import shared
from services.gateway.errors import known_remote_error, status_and_body
from shared import errors
from shared.contracts import registry

ROOT = Path(__file__).resolve().parents[2]


def _every_module(package):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


def _subclasses(cls):
    found, stack = set(), [cls]
    while stack:
        current = stack.pop()
        found.add(current)
        stack.extend(current.__subclasses__())
    return found


def test_every_error_class_of_services_and_shared_is_in_the_contract():
    for package in (services, shared):
        _every_module(package)
    defined = {
        cls
        for cls in _subclasses(errors.AppError)
        if cls.__module__.split(".")[0] in ("services", "shared")
        # the AMQP client's classes for errors it received, named as the sender's
        and cls.__module__ != "shared.amqp_client"
    }
    missing = sorted(
        f"{cls.__module__}.{cls.__qualname__}" for cls in defined - set(registry.ALL_ERRORS)
    )
    assert not missing, f"add to shared/contracts (and its registry): {missing}"


def test_each_service_module_exports_its_errors_and_an_exceptions_py_reexports_them():
    """A service's errors are its module of shared/contracts; a service that still has an
    ``exceptions.py`` re-exports them all (catalog, ordering and issuance import the contract)."""
    for service, module in registry.MODULES.items():
        if service == "shared":
            continue
        classes = registry.ERRORS[service]
        assert classes and sorted(module.__all__) == sorted(cls.__name__ for cls in classes)
        if importlib.util.find_spec(f"services.{service}.exceptions") is None:
            continue
        exceptions = importlib.import_module(f"services.{service}.exceptions")
        assert sorted(exceptions.__all__) == sorted(module.__all__)
        for cls in classes:
            assert getattr(exceptions, cls.__name__) is cls


def test_one_code_means_one_http_status():
    statuses = {}
    for cls in registry.ALL_ERRORS:
        statuses.setdefault(cls.code, set()).add(status_and_body(cls())[0])
    assert {code: found for code, found in statuses.items() if len(found) > 1} == {}
    assert all(status != 500 for found in statuses.values() for status in found)


def test_a_gateway_alone_knows_every_services_errors():
    """In a fresh interpreter that imports nothing but the gateway service, every error of the
    contract comes back from the wire as its own class (and so with its own status)."""
    script = (
        "import warnings; warnings.filterwarnings('ignore')\n"
        "import services.gateway.service\n"
        "from nameko.exceptions import deserialize, serialize\n"
        "from shared.contracts.registry import ALL_ERRORS\n"
        "for cls in ALL_ERRORS:\n"
        "    back = deserialize(serialize(cls(details={'n': 1})))\n"
        "    assert type(back) is cls and back.details == {'n': 1}, (cls, back)\n"
        "print(len(ALL_ERRORS))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == len(registry.ALL_ERRORS)


def test_errors_sent_from_their_former_path_are_understood():
    """A service still running the previous version (classes in services/<name>/exceptions.py)."""
    from shared.contracts.errors_settlement import RunNotFound

    data = serialize(RunNotFound(details={"run_id": "SR-2026-01-31"}))
    data["exc_path"] = "services.settlement.exceptions.RunNotFound"
    back = deserialize(json.loads(json.dumps(data)))
    assert type(back) is RunNotFound and back.details == {"run_id": "SR-2026-01-31"}


@pytest.mark.parametrize(
    ("exc_type", "value", "status", "code"),
    [
        # a class the gateway lacks, with a code of the contract: the code's kind
        ("RunGone", "settlement_run_not_found: No settlement run with this id.", 404, None),
        # a class name of the contract with a code of its own: the class's kind
        ("RuleBroken", "rule_new_thing: not with this sponsor", 422, None),
        # nothing known: still a 500, never a stack trace
        ("SomethingNew", "something_new: surprise", 500, "internal_error"),
        ("KeyError", "'venue_id'", 500, "internal_error"),
        ("NotFound", "404 Not Found: The requested URL was not found", 500, "internal_error"),
    ],
)
def test_an_unknown_remote_error_keeps_its_kind_when_its_code_or_class_is_known(
    exc_type, value, status, code
):
    got_status, body = status_and_body(RemoteError(exc_type, value))
    assert got_status == status
    assert body["error"]["code"] == (code or value.partition(": ")[0])
    assert "Traceback" not in json.dumps(body)


def test_an_unknown_remote_error_keeps_its_details_when_the_reply_is_at_hand():
    data = {
        "exc_type": "RunGone",
        "exc_path": "somewhere.newer.RunGone",
        "exc_args": ["gone", json.dumps({"run_id": "SR-2026-01-31"}), "settlement_run_not_found"],
        "value": "settlement_run_not_found: gone",
    }
    remote = deserialize(data)
    assert isinstance(remote, RemoteError)
    known = known_remote_error(remote, data)
    assert isinstance(known, errors.NotFound)
    assert known.to_dict() == {
        "code": "settlement_run_not_found",
        "message": "gone",
        "details": {"run_id": "SR-2026-01-31"},
    }


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("[Errno 111] Connection refused"),
        AmqpConnectionError("Connection reset"),
        ConnectionRefusedError(111, "Connection refused"),
        NotAllowed("access to vhost refused"),
    ],
    ids=["kombu", "amqp", "socket", "login refused"],
)
def test_the_broker_out_of_reach_is_503_service_unavailable(exc):
    """What nameko's proxy raises while RabbitMQ is down or cut: an outage to wait out, not 500."""
    status, body = status_and_body(exc)
    assert (status, body["error"]["code"]) == (503, "service_unavailable")
    assert set(body["error"]) == {"code", "message", "details"}


def test_an_unexpected_error_stays_500():
    assert status_and_body(KeyError("x")) == (
        500,
        {"error": {"code": "internal_error", "message": "internal error", "details": {}}},
    )
