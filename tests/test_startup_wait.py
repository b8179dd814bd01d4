"""Processes started before Temporal or the database wait for them, saying so, instead of exiting."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from temporalio.testing import WorkflowEnvironment

from clients.temporal_connection import connect
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.ionapi import write_ionapi
from sandbox.serve import free_port
from settings import Settings
from storage.db import current_revision, make_engine, upgrade_schema
from tests.conftest import TEMPORAL_BIN

ROOT = Path(__file__).resolve().parent.parent


async def wait_for_text(path: Path, text: str, *, count: int = 1, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = path.read_text() if path.exists() else ""
        if log.count(text) >= count:
            return log
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} not seen {count}x in {path}:\n{path.read_text()}")


async def test_connect_gives_up_only_when_asked_to(tmp_path: Path) -> None:
    settings = Settings(temporal_address=f"127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="Failed client connect"):
        await connect(settings, wait_seconds=1.0)
    assert 1.0 <= time.monotonic() - started < 5.0


async def test_worker_started_before_temporal_waits_and_then_runs(tmp_path: Path) -> None:
    port = free_port()
    ionapi = tmp_path / "m3.ionapi"
    write_ionapi(ionapi, M3SandboxConfig(), "http://127.0.0.1:9")
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "M3BNG_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "M3BNG_TASK_QUEUE": "m3bng-startup-test",
        "M3BNG_M3_IONAPI": str(ionapi),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm3bng.db'}",
        "M3BNG_BNG_API_KEY": "startup-test-key",
        "M3BNG_LOG_LEVEL": "INFO",
    }
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    env_started: WorkflowEnvironment | None = None
    try:
        await wait_for_text(log_path, f"waiting for Temporal at 127.0.0.1:{port}: ", count=3)
        assert worker.poll() is None, "the worker exited instead of waiting"
        env_started = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_BIN), port=port
        )
        await wait_for_text(log_path, "worker started")
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        returncode = worker.wait(timeout=30)
        if env_started is not None:
            await env_started.shutdown()
    assert returncode == 0
    assert "Traceback" not in log_path.read_text()


async def test_worker_waiting_for_temporal_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "M3BNG_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "M3BNG_BNG_API_KEY": "startup-test-key",
        "M3BNG_LOG_LEVEL": "INFO",
    }
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    await wait_for_text(log_path, "waiting for Temporal at")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) in (0, 130)
    assert "Traceback" not in log_path.read_text()


def test_upgrade_schema_waits_for_the_database(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    engine = make_engine(f"sqlite:///{folder / 'm3bng.db'}")
    shutil.rmtree(folder)  # SQLite cannot open a file in a missing folder: "unable to open database file"
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            upgrade_schema(engine)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=upgrade)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive(), f"upgrade_schema did not wait: {errors}"
    folder.mkdir()  # the database comes up
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    assert current_revision(engine) is not None
    engine.dispose()


def test_upgrade_schema_gives_up_only_when_asked_to(tmp_path: Path) -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=1")
    started = time.monotonic()
    with pytest.raises(OperationalError):
        upgrade_schema(engine, wait_seconds=1.0)
    assert 1.0 <= time.monotonic() - started < 8.0
