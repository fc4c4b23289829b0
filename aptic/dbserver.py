"""The embedded storage server: SecantusDB, a single-node MongoDB-wire server over WiredTiger.

It is GPL-2.0 software, so the platform never imports it: it runs in its own virtualenv
(``.venv-db``, made by ``make``) as its own process, ``secantusd-py``, and the services reach it
with pymongo like any MongoDB. ``aptic run`` starts it when ``MONGO_URI`` names no MongoDB; the
tests start one per test run. Production runs MongoDB 7 or 8 as a replica set instead.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = ROOT / ".venv-db" / "bin" / "secantusd-py"
CONFIG_FILE = ROOT / "deploy" / "secantusd.toml"
DEFAULT_DATA_DIR = ROOT / ".data" / "db"
DEFAULT_PORT = 27017


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies (Linux)


def _stop_with_parent():
    """In the server's process, before it runs: SIGTERM when the process that started it dies, so
    that a test run or an ``aptic run`` killed hard (SIGKILL, a timeout) leaves no server behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def terminate(process, timeout=30):
    """Stop a child process cleanly (SIGTERM), or kill it after ``timeout`` seconds; nothing if
    it was never started or has ended."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerError(RuntimeError):
    """The embedded server could not be started (missing, or it did not answer)."""


def binary():
    path = Path(os.environ.get("SECANTUSD") or DEFAULT_BINARY)
    if not path.exists():
        raise ServerError(f"{path} is missing: run `make db-deps` (or set SECANTUSD)")
    return path


def port_is_free(port, host="127.0.0.1"):
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port_from(start=DEFAULT_PORT, tries=100):
    """``start`` if free, else the next free port after it."""
    for port in range(start, start + tries):
        if port_is_free(port):
            return port
    raise ServerError(f"no free port in {start}..{start + tries - 1}")


class EmbeddedServer:
    """One ``secantusd-py`` process on 127.0.0.1, its data in ``data_dir`` (kept across runs).

    ``with EmbeddedServer(path) as server: server.uri`` starts it, waits until it answers, and
    stops it cleanly (SIGTERM, so that WiredTiger checkpoints) when the block ends.
    """

    def __init__(self, data_dir=DEFAULT_DATA_DIR, port=None, log_path=None):
        self.data_dir = Path(data_dir)
        self.port = port
        self.log_path = Path(log_path) if log_path else self.data_dir.parent / "secantusd.log"
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout=60):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port_from(DEFAULT_PORT)
        command = [
            str(binary()),
            "--config",
            str(CONFIG_FILE),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir),
        ]
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child holds it)
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_stop_with_parent,  # noqa: PLW1509 (no thread runs yet in the child)
        )
        log.close()
        self._wait_until_ready(timeout)
        return self

    def _wait_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"secantusd-py exited with {self.process.returncode}: see {self.log_path}"
                )
            try:
                with pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500) as client:
                    client.admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                time.sleep(0.2)
        self.stop()
        raise ServerError(f"secantusd-py did not answer on {self.uri} within {timeout} s")

    def stop(self, timeout=30):
        """Stop cleanly (SIGTERM), or kill it after ``timeout`` seconds."""
        terminate(self.process, timeout)

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        self.stop()
