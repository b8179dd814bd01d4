"""`m3bng demo` (what `make run` runs) as a user runs it: a child that dies comes back, and
Ctrl-C stops everything cleanly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from starter.stack import BNG_PORT, M3_PORT, TEMPORAL_PORT, TEMPORAL_UI_PORT

ROOT = Path(__file__).resolve().parent.parent
M3BNG = Path(sys.executable).parent / "m3bng"
RECEIVER_PORT = 8700


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> dict[int, str]:
    """The direct child processes of ``pid`` and their command lines."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def worker_pid(demo: subprocess.Popen[bytes]) -> int | None:
    return next((pid for pid, cmd in children(demo.pid).items() if "worker.py" in cmd), None)


def wait_for(path: Path, text: str, demo: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        assert demo.poll() is None, f"m3bng demo exited with {demo.returncode}:\n{path.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{path.read_text(errors='replace')[-3000:]}")


@pytest.mark.skipif(
    any(_busy(port) for port in (TEMPORAL_PORT, TEMPORAL_UI_PORT, M3_PORT, BNG_PORT, RECEIVER_PORT)),
    reason="an m3bng stack is running on this machine already (its ports are taken)",
)
def test_demo_restarts_a_dead_child_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("M3BNG_") and key != "CI"},
        "PYTHONPATH": str(ROOT),
        "M3BNG_LOG_LEVEL": "INFO",
    }
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # Its own folder: the stack keeps var/ (databases, logs, secrets) in the current directory.
        demo = subprocess.Popen(
            [str(M3BNG), "demo", "--orders", "1", "--timeout", "600"],
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
            # Its own process group: if the test fails, the whole stack goes with it.
            start_new_session=True,
        )
    try:
        wait_for(out, "Placed 1 orders", demo)
        # The stack does not wait for the worker to poll: kill it only once it has started.
        wait_for(tmp_path / "var" / "logs" / "worker.log", "worker started", demo)
        first = worker_pid(demo)
        assert first is not None, children(demo.pid)
        os.kill(first, signal.SIGKILL)

        wait_for(out, "worker exited unexpectedly with -9; restarting it", demo, timeout=30)
        deadline = time.monotonic() + 30
        while (second := worker_pid(demo)) in (None, first) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert second not in (None, first)
        assert _started_soon(tmp_path), "the restarted worker never started"

        demo.send_signal(signal.SIGINT)
        returncode = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    try:
        assert returncode in (0, 130)
        output = out.read_text(errors="replace") + err.read_text(errors="replace")
        assert "Traceback" not in output, output[-3000:]
        # Nothing left behind: every child was stopped with the stack.
        assert not any(_busy(port) for port in (TEMPORAL_PORT, M3_PORT, BNG_PORT, RECEIVER_PORT))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever a failed run left, so later runs find free ports


def _started_soon(tmp_path: Path, timeout: float = 30) -> bool:
    log = tmp_path / "var" / "logs" / "worker.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text().count("worker started") >= 2:
            return True
        time.sleep(0.2)
    return False
