"""The embedded storage server does not outlive what started it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STARTER = """
import sys
from pathlib import Path
from aptic.dbserver import EmbeddedServer
server = EmbeddedServer(Path(sys.argv[1]), log_path=Path(sys.argv[1]) / "server.log").start()
print(server.process.pid, flush=True)
sys.stdin.read()  # until killed
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purpose
        return stat.read().split()[2] != "Z"


def test_the_server_stops_when_its_starter_is_killed_hard(tmp_path):
    """A test run or an ``aptic run`` killed with SIGKILL (or by a timeout) leaves no server."""
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server_pid = int(starter.stdout.readline())
        assert _alive(server_pid)
        starter.send_signal(signal.SIGKILL)
        starter.wait(10)
        deadline = time.monotonic() + 120  # a loaded machine (two tiers at once) stops it slowly
        while _alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(server_pid), "the server outlived the process that started it"
    finally:
        starter.kill()
