"""A reduced ``make chaos``: weather on both sandboxes, the worker and Temporal SIGKILLed mid-run.

The run is a subprocess with its own embedded stack (free ports, its own folder), in its own
session so that everything it started is killed even if it hangs. Its verdict is read from the
report it writes, which it reconciles from BNG's, M3's, Temporal's and the store's own tables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 300


def test_orders_under_weather_and_kills_are_exactly_once_and_never_fail(tmp_path: Path) -> None:
    var = tmp_path / "chaos"
    output = tmp_path / "chaos.log"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("M3BNG_") and k not in ("DATABASE_URL", "CI")
        },
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "starter.chaos",
        "--orders=35",
        "--order-rate=3",
        "--worker-kills=1",
        "--receiver-kills=0",
        "--temporal-kills=1",
        "--master-changes=4",
        "--settle-timeout=150",
        f"--var={var}",
    ]
    with output.open("wb") as out:
        run = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = run.wait(timeout=TIMEOUT_SECONDS)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGTERM)  # the run stops its stack on SIGTERM
                try:
                    run.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(run.pid, signal.SIGKILL)
                    run.wait()
    log = output.read_text(errors="replace")[-6000:]
    report_file = var / "report.json"
    assert report_file.exists(), f"no report; exit {code}:\n{log}"
    report = json.loads(report_file.read_text())
    figures = report["figures"]

    assert report["failures"] == {
        "duplicated": 0,
        "lost": 0,
        "orphan_batch_orders": 0,
        "double_payments": 0,
        "failed_workflows": 0,
        "parked_without_reason": 0,
        "unsettled": 0,
    }, log
    assert code == 0, log
    assert figures["orders_in_bng"] == figures["orders_placed"] == 35
    assert figures["orders_in_m3"] + len(figures["parked"]) >= 35, log
    for parked in figures["parked"]:
        assert parked["kind"] and parked["summary"], parked
    # The violence really happened, and the supervisor brought each child back.
    kills = {kill["target"]: kill for kill in report["kills"]}
    assert set(kills) == {"worker", "temporal"}
    assert all(kill["killed_at"] is not None and kill["back_after"] is not None for kill in kills.values())
    assert report["restarts"].get("worker", 0) >= 1 and report["restarts"].get("temporal", 0) >= 1
    # And the weather did hit: answers lost after M3 committed, webhooks delivered twice.
    assert figures["weather"]["m3_lost_answers"] > 0
    assert figures["weather"]["bng_webhook_deliveries"] > figures["weather"]["bng_webhook_messages"]
