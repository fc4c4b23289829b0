"""``aptic run`` as a subprocess for end-to-end tests: start it, wait until it answers, read its
banner and logs, find its children, stop it (and, whatever happens, leave no process behind)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

APTIC = str(Path(sys.executable).parent / "aptic")
BANNER_STORAGE = re.compile(r"storage: embedded server (mongodb://[0-9.]+:(\d+)/)")


def platform_env(rabbit_config, port, **extra):
    """The environment of an ``aptic run`` that starts its own embedded server: the session's
    ``MONGO_URI`` removed; ``APTIC_DATA_DIR`` (the server's data) belongs in ``extra``."""
    env = {
        **os.environ,
        "AMQP_URI": rabbit_config["AMQP_URI"],
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        **{key: str(value) for key, value in extra.items()},
    }
    env.pop("MONGO_URI", None)
    env.pop("APTIC_CONFIG", None)
    if "SCHEDULED_RUNS" not in extra:
        env["SCHEDULED_RUNS"] = "false"  # runs by hand only, unless the test says otherwise
    if "REDEMPTION_INSTANCES" not in extra:
        env.pop("REDEMPTION_INSTANCES", None)  # the default
    return env


def port_is_open(port, host="127.0.0.1"):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _ppid_and_cmdline(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None, ""
    return int(stat.rsplit(")", 1)[1].split()[1]), cmdline


def alive(pid):
    """Running (a zombie, dead but not yet reaped by its parent, does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


class Platform:
    """One ``aptic run`` process, its output (stdout and stderr) in ``log_path``."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = Path(log_path)
        self.port = int(env["WEB_SERVER_ADDRESS"].rpartition(":")[2])
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.process = None
        self.seen = {}  # pid -> command line, of every child ever seen (for the clean-up)

    # -- starting --------------------------------------------------------------------------
    def start(self, timeout=120):
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [APTIC, "run"], env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.children()
            if self.process.poll() is not None:
                raise AssertionError(
                    f"aptic run exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                if requests.get(self.base + "/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        else:
            self.cleanup()
            raise AssertionError(f"the platform did not answer within {timeout} s:\n{self.tail()}")
        self.wait_for_banner(deadline - time.monotonic())
        self.children()
        return self

    def wait_for_banner(self, timeout):
        deadline = time.monotonic() + max(timeout, 5)
        while "APTIC platform running" not in self.output():
            assert time.monotonic() < deadline, "no banner:\n" + self.tail()
            time.sleep(0.2)

    # -- reading -----------------------------------------------------------------------------
    def output(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, size=4000):
        return self.output()[-size:]

    def storage(self):
        """``(uri, port)`` of the embedded server, from the last banner."""
        found = BANNER_STORAGE.findall(self.output())
        assert found, "no embedded server in the banner:\n" + self.tail()
        uri, port = found[-1]
        return uri, int(port)

    def children(self):
        """``{pid: command line}`` of the running children of ``aptic run`` (the services and the
        embedded server), remembered for the clean-up."""
        found = {}
        if self.process is None:
            return found
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            ppid, cmdline = _ppid_and_cmdline(int(entry.name))
            if ppid == self.process.pid and alive(int(entry.name)):
                found[int(entry.name)] = cmdline
        self.seen.update(found)
        return found

    def service_pids(self, service):
        return sorted(
            pid
            for pid, cmdline in self.children().items()
            if cmdline.rstrip().endswith(f"run --service {service}")
        )

    # -- stopping ----------------------------------------------------------------------------
    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Signal ``aptic run`` and wait for it; its exit code."""
        self.children()
        self.process.send_signal(sig)
        self.process.wait(timeout)
        return self.process.returncode

    def leftovers(self):
        """Children seen that still run (same pid, same command line)."""
        return {
            pid: cmdline
            for pid, cmdline in self.seen.items()
            if alive(pid) and _ppid_and_cmdline(pid)[1] == cmdline
        }

    def cleanup(self):
        """Whatever state the test left: stop ``aptic run``, kill what is left of its children."""
        if self.process is None:
            return
        self.children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
