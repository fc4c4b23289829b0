"""``aptic run``'s supervisor: which processes, restarts with a growing pause, a clean stop.

The children here are real processes (small Python programs), so that exits, signals and waits
are the operating system's."""

import logging
import sys
import time

import pytest

from aptic.supervisor import Child, Supervisor, plan, redemption_instances

SERVICES = ["catalog", "ordering", "issuance", "redemption", "settlement", "gateway"]


def program(code):
    return [sys.executable, "-c", code]


def test_plan_one_process_per_service_n_redemptions_gateway_last():
    children = plan(SERVICES, 3, "deploy/config.yml", {"MONGO_URI": "mongodb://x/"})
    names = [child.name for child in children]
    assert names == [
        "catalog",
        "ordering",
        "issuance",
        "redemption-1",
        "redemption-2",
        "redemption-3",
        "settlement",
        "gateway",
    ]
    redemption = children[4]
    assert redemption.argv[1:5] == ["-m", "aptic.cli", "--config", "deploy/config.yml"]
    assert redemption.argv[-3:] == ["run", "--service", "redemption"]
    assert redemption.env == {"MONGO_URI": "mongodb://x/", "APTIC_INSTANCE": "redemption-2"}


def test_redemption_instances_from_environment_or_config(monkeypatch):
    monkeypatch.delenv("REDEMPTION_INSTANCES", raising=False)
    assert redemption_instances({}) == 2
    assert redemption_instances({"REDEMPTION_INSTANCES": 4}) == 4
    monkeypatch.setenv("REDEMPTION_INSTANCES", "1")
    assert redemption_instances({"REDEMPTION_INSTANCES": 4}) == 1
    monkeypatch.setenv("REDEMPTION_INSTANCES", "0")
    with pytest.raises(ValueError):
        redemption_instances({})


def test_a_dead_child_is_logged_and_restarted_after_a_pause_that_doubles(caplog):
    child = Child("redemption-1", "redemption", program("import sys; sys.exit(3)"), env=None)
    supervisor = Supervisor([child])
    supervisor.start()
    child.process.wait(10)
    with caplog.at_level(logging.WARNING, logger="aptic.supervisor"):
        now = time.monotonic()
        supervisor.check(now)  # the exit is seen and logged once
        supervisor.check(now + 0.5)  # still pausing: not restarted yet
        assert child.restarts == 0 and child.exits == [3]
        supervisor.check(now + 1.0)  # the pause (1 s) is over
        assert child.restarts == 1
        child.process.wait(10)
        supervisor.check(now + 1.1)  # it failed again at once: the pause doubles
        supervisor.check(now + 2.5)
        assert child.restarts == 1
        supervisor.check(now + 3.2)
        assert child.restarts == 2
    assert "redemption-1 exited with code 3" in caplog.text
    assert "restarting in 1 s" in caplog.text and "restarting in 2 s" in caplog.text
    supervisor.stop(timeout=5)


def test_stop_terminates_the_gateway_then_the_services_and_nothing_restarts():
    waiting = "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\ntime.sleep(60)"
    children = [
        Child("catalog", "catalog", program(waiting), env=None),
        Child("gateway", "gateway", program(waiting), env=None),
    ]
    supervisor = Supervisor(children)
    supervisor.start()
    time.sleep(0.5)
    started = time.monotonic()
    supervisor.stop(timeout=10)
    assert time.monotonic() - started < 10
    assert [child.process.returncode for child in children] == [0, 0]
    supervisor.check()
    assert all(child.restarts == 0 for child in children)


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout():
    stubborn = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    child = Child("settlement", "settlement", program(stubborn), env=None)
    supervisor = Supervisor([child])
    supervisor.start()
    time.sleep(0.5)
    supervisor.stop(timeout=1)
    assert child.process.returncode == -9
