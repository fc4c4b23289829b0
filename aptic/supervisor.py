"""``aptic run``: one process per service, the gateway and the web pages alone, N redemption
processes, supervised.

Each child is ``aptic run --service NAME`` in a session of its own (a Ctrl-C reaches the
supervisor only, which then stops the children in order: the gateway and the web pages first, so
that no request starts while the services stop). A child that exits on its own is logged and
started again, after a pause that doubles while it keeps failing (1 s up to 30 s) and resets once it has run a minute.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger("aptic.supervisor")

FIRST_PAUSE, LONGEST_PAUSE, STABLE_AFTER = 1.0, 30.0, 60.0
FRONTS = ("gateway", "web")  # what people and machines reach over HTTP: started last, stopped first


@dataclass
class Child:
    """One supervised process: ``name`` for the logs (``redemption-2``), ``service`` it runs."""

    name: str
    service: str
    argv: list
    env: dict
    process: subprocess.Popen = None
    started_at: float = 0.0
    restarts: int = 0
    pause: float = FIRST_PAUSE
    restart_at: float = None
    exits: list = field(default_factory=list)

    def start(self):
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %s)", self.name, self.process.pid)

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None


def child_argv(config_path, service):
    command = [sys.executable, "-m", "aptic.cli"]
    if config_path:
        command += ["--config", str(config_path)]
    return command + ["run", "--service", service]


def plan(services, redemption_instances, config_path, env):
    """The children: every service once, redemption ``redemption_instances`` times, the
    gateway and the web pages last."""
    children = []
    for service in services:
        count = redemption_instances if service == "redemption" else 1
        for number in range(1, count + 1):
            name = f"{service}-{number}" if count > 1 else service
            child_env = {**env, "APTIC_INSTANCE": name}
            children.append(Child(name, service, child_argv(config_path, service), child_env))
    return sorted(children, key=lambda child: child.service in FRONTS)


class Supervisor:
    def __init__(self, children, sleep=time.sleep):
        self.children = children
        self.stopping = False
        self.sleep = sleep

    def start(self):
        for child in self.children:
            child.start()

    def check(self, now=None):
        """Restart whatever exited (once its pause is over); log each exit once."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if self.stopping or child.running:
                continue
            if child.restart_at is None:
                code = child.process.returncode
                ran = now - child.started_at
                child.pause = FIRST_PAUSE if ran >= STABLE_AFTER else child.pause
                child.restart_at = now + child.pause
                child.exits.append(code)
                log.warning(
                    "%s exited with code %s after %.0f s; restarting in %.0f s",
                    child.name,
                    code,
                    ran,
                    child.pause,
                )
                child.pause = min(child.pause * 2, LONGEST_PAUSE)
            elif now >= child.restart_at:
                child.restarts += 1
                child.start()

    def watch(self, interval=0.5):
        while not self.stopping:
            self.check()
            self.sleep(interval)

    def stop(self, timeout=20.0):
        """SIGTERM the gateway and the web pages, then every service; kill what is still there
        after ``timeout``."""
        self.stopping = True
        for group in (
            [c for c in self.children if c.service in FRONTS],
            [c for c in self.children if c.service not in FRONTS],
        ):
            for child in group:
                if child.running:
                    child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for child in group:
                if child.process is None:
                    continue
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.0f s: killed", child.name, timeout)
                    child.process.kill()
                    child.process.wait()
        log.info("every process stopped")


def redemption_instances(config):
    value = os.environ.get("REDEMPTION_INSTANCES", config.get("REDEMPTION_INSTANCES", 2))
    count = int(value)
    if count < 1:
        raise ValueError("REDEMPTION_INSTANCES must be at least 1")
    return count
