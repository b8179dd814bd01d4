"""The engine ceiling of ``make bench``: a trivial workflow, measured on the same server in the same run.

``CeilingWorkflow`` runs as many no-op activities, one after the other, as the product runs from
the webhook to the confirmed M3 order (``CEILING_STEPS``), either as regular or as local
activities. Its worker is a separate process, like the product's, with the product's worker
settings (``worker.TUNING``)::

    python -m starter.bench_ceiling worker --task-queue bench-ceiling

The bench starts that process, starts N workflows at once through the client and times each one
from its start call to its close (Temporal's close time). Bench-only: the product's worker does
not register any of this.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.worker import Worker

    from starter.bench_intake import percentiles

# What the product does from the webhook to the confirmed M3 order, one activity each.
CEILING_STEPS = ("map", "customer", "items", "batch_head", "batch_lines", "confirm", "status_push")
TASK_QUEUE = "bench-ceiling"
ID_PREFIX = "bench-ceiling-"
STEP_TIMEOUT = timedelta(minutes=2)
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# Waiting for the worker's first workflow: its process starts and connects first.
WARM_UP_SECONDS = 60
POLL_SECONDS = 0.2


class CeilingInput(BaseModel):
    local: bool
    steps: list[str] = list(CEILING_STEPS)


@activity.defn
async def noop_step(step: str) -> str:
    return step


@workflow.defn
class CeilingWorkflow:
    @workflow.run
    async def run(self, data: CeilingInput) -> int:
        for step in data.steps:
            if data.local:
                await workflow.execute_local_activity(
                    noop_step, step, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
                )
            else:
                await workflow.execute_activity(
                    noop_step, step, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
                )
        return len(data.steps)


async def run_worker(task_queue: str) -> None:
    """The ceiling's worker process: the product's worker settings, no-op work; until SIGTERM."""
    from clients.temporal_connection import connect
    from settings import get_settings
    from worker import TUNING

    client = await connect(get_settings())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client, task_queue=task_queue, workflows=[CeilingWorkflow], activities=[noop_step], **TUNING
    ):
        await stop.wait()


@contextlib.contextmanager
def ceiling_worker(log_file: Path, task_queue: str = TASK_QUEUE) -> Iterator[subprocess.Popen[bytes]]:
    """The ceiling's worker as a child process (environment as the stack's), stopped on exit."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "starter.bench_ceiling", "worker", "--task-queue", task_queue],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


async def warm_up(client: Client, task_queue: str = TASK_QUEUE) -> None:
    """One workflow of each kind to completion: the worker is up and polling, nothing is cold."""
    tag = time.time_ns()
    for local in (False, True):
        await asyncio.wait_for(
            client.execute_workflow(
                CeilingWorkflow.run,
                CeilingInput(local=local),
                id=f"{ID_PREFIX}warm-up-{local}-{tag}",
                task_queue=task_queue,
            ),
            WARM_UP_SECONDS,
        )


async def ceiling_scenario(
    client: Client, *, workflows: int, local: bool, timeout: float, task_queue: str = TASK_QUEUE
) -> dict[str, Any]:
    """``workflows`` ceiling workflows started at once; workflows/s and latency from the start call
    to Temporal's close time, plus the start calls' own rate and latency."""
    kind = "local" if local else "regular"
    prefix = f"{ID_PREFIX}{kind}-{time.time_ns()}-"
    sent_at: dict[str, datetime] = {}
    start_ms: list[float] = []

    async def start(number: int) -> None:
        workflow_id = f"{prefix}{number}"
        sent_at[workflow_id] = datetime.now(UTC)
        began = time.perf_counter()
        await client.start_workflow(
            CeilingWorkflow.run, CeilingInput(local=local), id=workflow_id, task_queue=task_queue
        )
        start_ms.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(start(number) for number in range(workflows)))
    starting = time.perf_counter() - began
    query = f'WorkflowId STARTS_WITH "{prefix}"'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Counting the closed ones: a start may not be visible yet, a close always is once done.
        if (await client.count_workflows(f'{query} AND ExecutionStatus != "Running"')).count >= workflows:
            break
        await asyncio.sleep(POLL_SECONDS)
    closed: dict[str, datetime] = {}
    async for execution in client.list_workflows(f'{query} AND ExecutionStatus = "Completed"'):
        if execution.close_time is not None:
            closed[execution.id] = execution.close_time
    latencies = [(closed[wid] - sent_at[wid]).total_seconds() for wid in closed]
    first_sent = min(sent_at.values())
    span = (max(closed.values()) - first_sent).total_seconds() if closed else 0.0
    return {
        "activities": kind,
        "steps": len(CEILING_STEPS),
        "workflows": workflows,
        "completed": len(closed),
        "errors": workflows - len(closed),
        "seconds": round(span, 2),
        "workflows_per_second": round(len(closed) / span, 2) if span else 0.0,
        "latency_seconds": percentiles(latencies),
        "starts_per_second": round(workflows / starting, 1) if starting else 0.0,
        "start_call_ms": percentiles(start_ms, digits=1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run the ceiling's worker until SIGTERM")
    worker.add_argument("--task-queue", default=TASK_QUEUE)
    args = parser.parse_args()
    from clients.logging import configure_logging

    # The module by its name, not as __main__: the workflow sandbox re-imports it by that name.
    from starter.bench_ceiling import run_worker as run_named_worker

    configure_logging("WARNING")
    asyncio.run(run_named_worker(args.task_queue))


if __name__ == "__main__":
    main()
