"""Metrics' settings: METRICS_ADDRESS read, and `aptic run` giving each process its own port."""

from aptic.cli import _metrics_ports
from aptic.supervisor import plan
from shared.metrics import metrics_address, run_kind

SERVICES = ["catalog", "ordering", "issuance", "redemption", "settlement", "gateway", "web"]


def test_metrics_address_from_config_else_environment(monkeypatch):
    monkeypatch.delenv("METRICS_ADDRESS", raising=False)
    assert metrics_address({}) is None
    assert metrics_address({"METRICS_ADDRESS": ""}) is None
    assert metrics_address({"METRICS_ADDRESS": "127.0.0.1:9100"}) == ("127.0.0.1", 9100)
    assert metrics_address({"METRICS_ADDRESS": 9100}) == ("0.0.0.0", 9100)  # YAML reads an int
    assert metrics_address({"METRICS_ADDRESS": "127.0.0.1:9100"}, 3) == ("127.0.0.1", 9103)
    assert metrics_address({"METRICS_ADDRESS": "127.0.0.1:0"}, 3) == ("127.0.0.1", 0)
    monkeypatch.setenv("METRICS_ADDRESS", "0.0.0.0:9200")
    assert metrics_address({}) == ("0.0.0.0", 9200)
    assert metrics_address({"METRICS_ADDRESS": "127.0.0.1:9100"}) == ("127.0.0.1", 9100)


def test_each_supervised_process_gets_the_next_port(monkeypatch, capsys):
    monkeypatch.delenv("METRICS_ADDRESS", raising=False)
    children = plan(SERVICES, 2, None, {})
    _metrics_ports({}, children)
    assert not any("APTIC_METRICS_OFFSET" in child.env for child in children)

    _metrics_ports({"METRICS_ADDRESS": "127.0.0.1:9100"}, children)
    ports = {
        child.name: metrics_address(
            {"METRICS_ADDRESS": "127.0.0.1:9100"}, int(child.env["APTIC_METRICS_OFFSET"])
        )[1]
        for child in children
    }
    assert ports == {
        "catalog": 9100,
        "ordering": 9101,
        "issuance": 9102,
        "redemption-1": 9103,
        "redemption-2": 9104,
        "settlement": 9105,
        "gateway": 9106,
        "web": 9107,
    }
    assert "metrics of redemption-2: http://127.0.0.1:9104/metrics" in capsys.readouterr().err


def test_run_kind_from_the_run_id():
    assert run_kind("SR-2026-03-31") == "settlement"
    assert run_kind("EXP-2026-04-01") == "expiry"
