"""Bench scenario "Bulk": an initial load of N items that only M3 has, and of their balances,
then a steady-state reconciliation of the same linked items and balances; items/s and the
worker's peak memory for each run.

Both run the way ``m3bng sync product --full`` does: a ReconcileWorkflow started on the
product's task queue. The items are seeded straight into the M3 sandbox's tables (no BODs, so
no entity workflow hears of them). Memory is the worker process's resident size, sampled while
the run goes on, and its peak (VmHWM, reset before each run where the kernel allows it).

    flock /tmp/m3bng-stack.lock .venv/bin/python -m starter.bench_bulk 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from clients.bng.auth import ClientCredentialsAuth
from clients.temporal_connection import connect
from sandbox.bng.outbox import CONFIG_ENDPOINT_ID
from settings import Settings
from starter.stack import VAR, EmbeddedStack
from workflows.reconcile import ReconcileInput, ReconcileReport, ReconcileWorkflow

# The M3 sandbox seeds at most this many items per call.
SEED_CHUNK = 100_000
PAGE_SIZE = 500
SAMPLE_SECONDS = 0.25
TARGET_ITEMS_PER_SECOND = 2_000
# BNG's sandbox delivers ~100-300 webhooks/s here: a load of 100,000 items and balances leaves a
# backlog longer than a bench can wait for.
DRAIN_TIMEOUT_SECONDS = 120


def _status_kb(pid: int, field: str) -> int | None:
    """A ``/proc/<pid>/status`` memory figure (VmRSS, VmHWM) in kB; None where there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current size (Linux: write 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class MemoryWatch:
    """Samples a process's resident size while a run goes on: first, last and peak, in MB."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[int] = []
        self.peak_reset = _reset_peak(pid)
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            if (rss := _status_kb(self.pid, "VmRSS")) is not None:
                self.samples.append(rss)
            await asyncio.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> MemoryWatch:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def figures(self) -> dict[str, Any]:
        mb = 1024
        hwm = _status_kb(self.pid, "VmHWM")
        samples = self.samples or [0]
        return {
            "worker_rss_start_mb": round(samples[0] / mb, 1),
            "worker_rss_end_mb": round(samples[-1] / mb, 1),
            "worker_rss_peak_mb": round(max(samples) / mb, 1),
            # Since the reset if it worked, else since the worker started.
            "worker_vmhwm_mb": round(hwm / mb, 1) if hwm is not None else None,
            "vmhwm_since": "run start" if self.peak_reset else "worker start",
        }


async def _seed(m3_url: str, items: int) -> str:
    """N new items, only in M3, under a prefix of their own; returns the prefix."""
    prefix = f"BK{uuid.uuid4().hex[:4].upper()}"
    async with httpx.AsyncClient(base_url=m3_url, timeout=600) as http:
        for start in range(0, items, SEED_CHUNK):
            count = min(SEED_CHUNK, items - start)
            part = f"{prefix}{start // SEED_CHUNK}" if items > SEED_CHUNK else prefix
            response = await http.post(
                "/_sandbox/seed-items", json={"count": count, "prefix": part, "warehouse": "100"}
            )
            response.raise_for_status()
    return prefix


def _webhooks_pending(database: Path) -> int:
    """Webhooks the BNG sandbox has yet to deliver (read straight from its store, read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
        row = db.execute("SELECT count(*) FROM webhook_outbox WHERE NOT delivered AND NOT failed").fetchone()
    return int(row[0])


async def _drain_webhooks(stack: EmbeddedStack, timeout: float = DRAIN_TIMEOUT_SECONDS) -> tuple[float, int]:
    """Wait (at most ``timeout``) for BNG to deliver the load's webhooks, the echoes of what was
    created, so the steady state is measured without that backlog where it drains in time.
    Returns the seconds waited and the webhooks still undelivered then."""
    database = stack.var / "bng-sandbox.db"
    started = time.monotonic()
    while (pending := await asyncio.to_thread(_webhooks_pending, database)) and (
        time.monotonic() - started < timeout
    ):
        await asyncio.sleep(1)
    return round(time.monotonic() - started, 1), pending


async def _reconcile_run(
    settings: Settings, stack: EmbeddedStack, label: str, entity: str = "product"
) -> dict[str, Any]:
    client = await connect(settings)
    worker = stack.processes["worker"]
    with MemoryWatch(worker.pid) as memory:
        started = time.monotonic()
        report: ReconcileReport = await client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(entity=entity, page_size=PAGE_SIZE, trigger="bench"),
            id=f"reconcile-{entity}-bench-{label}-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        seconds = time.monotonic() - started
    # Pass 1 sees every M3 record once; pass 2 looks at the BNG side again for unlinked ones.
    items = report.counts.get("examined_in_m3", 0)
    return {
        "seconds": round(seconds, 2),
        "phase": report.phase,
        "error": report.error,
        "examined": items,
        "examined_in_both_passes": report.examined,
        "pages": report.pages,
        "examined_per_second": round(items / seconds, 1) if seconds else None,
        "counts": report.counts,
        **memory.figures(),
    }


async def bulk_scenario(settings: Settings, stack: EmbeddedStack, items: int) -> dict[str, Any]:
    """Seed N items only in M3, load them into BNG, then reconcile them again once linked."""
    seed_started = time.monotonic()
    prefix = await _seed(stack.m3_url, items)
    seeded_seconds = time.monotonic() - seed_started

    load = await _reconcile_run(settings, stack, "load")
    balances = await _reconcile_run(settings, stack, "load", "inventory")
    for run in (load, balances):
        # Created in BNG by the run: in bulk, and one by one through entity workflows (if any).
        run["created_in_bng"] = run["counts"].get("outcome_created", 0)
        run["bulk_created"] = run["counts"].get("bulk_created", 0)
        run["created_per_second"] = (
            round(run["created_in_bng"] / run["seconds"], 1) if run["seconds"] else None
        )
    backlog_seconds, backlog = await _drain_webhooks(stack)
    steady = await _reconcile_run(settings, stack, "steady")
    steady_balances = await _reconcile_run(settings, stack, "steady", "inventory")
    for run in (load, balances, steady, steady_balances):
        # Every record the run went through, created or found equal: on a fresh store, the N
        # seeded items; with earlier runs' items in the store, those are verified as well.
        run["items_per_second"] = run["examined_per_second"]
    return {
        "items": items,
        "prefix": prefix,
        "page_size": PAGE_SIZE,
        "seed_seconds": round(seeded_seconds, 2),
        # After the load: until BNG had delivered its webhooks (every created record's echo).
        "webhook_backlog_seconds": backlog_seconds,
        "webhooks_undelivered_at_steady_start": backlog,
        "initial_load": load,
        "balances_load": balances,
        "steady_state": steady,
        "balances_steady_state": steady_balances,
    }


def bulk_markdown(result: dict[str, Any]) -> list[str]:
    """The scenario as Markdown: one row per run, against the issue's target."""
    lines = [
        f"### Bulk: {result['items']:,} items only in M3, then reconciled again (pages of "
        f"{result['page_size']})",
        "",
        "| run | created in BNG | items (M3 records) | seconds | items/s | created/s | target | "
        "worker RSS start / end / peak (MB) | left differing |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    runs = (
        ("initial load: items", result["initial_load"]),
        ("initial load: balances", result["balances_load"]),
        ("steady state: items", result["steady_state"]),
        ("steady state: balances", result["balances_steady_state"]),
    )
    for name, run in runs:
        rate = run.get("items_per_second") or 0
        verdict = (
            "met" if rate >= TARGET_ITEMS_PER_SECOND else f"missed by {TARGET_ITEMS_PER_SECOND - rate:,.0f}/s"
        )
        counts = run.get("counts", {})
        created = run.get("created_in_bng", 0)
        # What the run found and could not settle (e.g. only in BNG, parked): what a second run finds.
        both = run.get("examined_in_both_passes", run["examined"])
        left = both - counts.get("in_sync", 0) - created - counts.get("linked", 0)
        lines.append(
            f"| {name} | {created:,} | {run['examined']:,} | {run['seconds']:,} | {rate:,.0f} | "
            f"{run.get('created_per_second') or 0:,.0f} | ≥ {TARGET_ITEMS_PER_SECOND:,} ({verdict}) | "
            f"{run['worker_rss_start_mb']} / {run['worker_rss_end_mb']} / {run['worker_rss_peak_mb']} | "
            f"{left:,} |"
        )
    lines += [
        "",
        "A run goes through every item in M3 and BNG: on a fresh store the load examines exactly "
        "the seeded items; with earlier runs' items in the store it verifies those too (examined "
        "> created). The steady state waits for BNG to deliver the load's webhooks "
        f"({_backlog(result)}). Worker peak (VmHWM): "
        f"{result['initial_load']['worker_vmhwm_mb']} MB in the load, "
        f"{result['steady_state']['worker_vmhwm_mb']} MB in the steady state "
        f"(since {result['steady_state']['vmhwm_since']}).",
        "",
    ]
    return lines


def _backlog(result: dict[str, Any]) -> str:
    if "webhook_backlog_seconds" not in result:
        return "not measured"
    seconds, left = result["webhook_backlog_seconds"], result.get("webhooks_undelivered_at_steady_start", 0)
    if left:
        return f"after {seconds:g} s it starts anyway, with {left:,} webhooks still to deliver"
    return f"{seconds:g} s after the load"


async def _unsubscribe_webhooks(settings: Settings, bng_url: str) -> None:
    """Diagnostic only: remove the receiver's webhook subscription, so the BNG sandbox delivers
    nothing (its delivery of every created record's webhook shares this machine's cores)."""
    auth = ClientCredentialsAuth(
        f"{bng_url}/oauth/token", settings.bng_client_id, settings.bng_client_secret.get_secret_value()
    )
    async with httpx.AsyncClient(base_url=bng_url, auth=auth) as http:
        response = await http.delete(f"/api/v1/webhooks/endpoints/{CONFIG_ENDPOINT_ID}")
        response.raise_for_status()
    await auth.aclose()


async def _main(items: int, *, without_webhooks: bool) -> None:
    from starter.bench import fresh_bench_settings  # the bench's own empty var, as make bench does

    var = VAR / "bench-bulk"
    settings = fresh_bench_settings(var)
    stack = EmbeddedStack(settings, var=var)
    await asyncio.to_thread(stack.start)
    try:
        if without_webhooks:
            await _unsubscribe_webhooks(settings, stack.bng_url)
        result = await bulk_scenario(settings, stack, items)
        result["webhooks"] = "unsubscribed (diagnostic)" if without_webhooks else "delivered to the receiver"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(stack.stop)
    print(json.dumps(result, indent=2))
    print("\n".join(bulk_markdown(result)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="bulk load and reconciliation bench (embedded stack)")
    parser.add_argument("items", type=int, nargs="?", default=10_000)
    parser.add_argument(
        "--without-webhooks",
        action="store_true",
        help="diagnostic: BNG delivers no webhooks, to see the load without its delivery side load",
    )
    args = parser.parse_args()
    asyncio.run(_main(args.items, without_webhooks=args.without_webhooks))
