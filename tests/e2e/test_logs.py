"""What the logs say of hostile or junk traffic: a refusal is one INFO line without a traceback,
a real failure stays an ERROR, and no IBAN is ever written whole."""

import json
import logging
import sys

import pytest

from shared.logs import ExpectedRefusals, JsonFormatter, mask_ibans

pytestmark = pytest.mark.e2e


@pytest.fixture
def platform_logs(caplog):
    """Records as the platform's own logging setup leaves them (the filter on nameko's logger)."""
    containers = logging.getLogger("nameko.containers")
    refusals = ExpectedRefusals()
    containers.addFilter(refusals)
    caplog.set_level(logging.INFO)
    yield caplog
    containers.removeFilter(refusals)


def test_an_anonymous_401_is_one_info_line_without_traceback(api, platform_logs):
    for _ in range(3):
        assert api.get("/orders").status_code == 401
        assert api.get("/orders", headers={"Authorization": "Bearer ak_junk"}).status_code == 401
    gateway = [r for r in platform_logs.records if "list_orders]" in r.getMessage()]
    assert len(gateway) == 6
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in gateway)
    assert not [r for r in platform_logs.records if r.levelno >= logging.ERROR]


def test_a_refused_request_deep_in_a_service_is_info_too(api, operator_key, platform_logs):
    assert api.get("/settlement-runs/SR-2026-01-31", key=operator_key).status_code == 404
    refusals = [r for r in platform_logs.records if "(expected)" in r.getMessage()]
    assert {r.levelno for r in refusals} == {logging.INFO}
    assert not [r for r in platform_logs.records if r.levelno >= logging.WARNING]


def test_ibans_are_masked_in_messages_and_tracebacks():
    assert mask_ibans("to FR7630006000011234567890189.") == "to FR76…0189."
    assert mask_ibans("FR76 3000 6000 0112 3456 7890 189") == "FR76…0189"
    assert mask_ibans("serial 00030027521, order ord_0123456789abcdef0123") == (
        "serial 00030027521, order ord_0123456789abcdef0123"
    )
    try:
        raise ValueError("bad account FR7630006000011234567890189")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "paying %s", ("FR7630006000011234567890189",), None
        )
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "paying FR76…0189"
    assert "FR76…0189" in entry["exception"] and "1234567890" not in json.dumps(entry)
