"""The bench's capacity model: what one order costs each process, and what that means at scale.

Measured in the same run as the throughput figures: CPU seconds per order of every process of the
stack (``/proc/<pid>/stat`` before and after a scenario), and what Temporal persists per order
(history events, workflow tasks, signals: each workflow task completion, signal and start is one
update of the workflow's history shard). ``capacity_markdown`` turns them into the sizing for a
target load, with every assumption named.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

# 50,000 orders an hour, each with 5 status events (the sizing question).
TARGET_ORDERS_PER_HOUR = 50_000
STATUS_EVENTS_PER_ORDER = 5
# A Python worker runs Python on one core; plan it at 70 % busy to absorb bursts.
WORKER_CORE_BUDGET = 0.7
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a live process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" of the command: state is field 3 of stat(5); utime and stime are 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: seconds for name, pid in pids.items() if (seconds := cpu_seconds(pid)) is not None}


def cpu_per_order(before: dict[str, float], after: dict[str, float], orders: int) -> dict[str, float]:
    """Milliseconds of CPU per order, by process, between two snapshots."""
    if orders <= 0:
        return {}
    return {name: round(1000 * (after[name] - before[name]) / orders, 1) for name in before if name in after}


_COUNTED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_tasks",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_MARKER_RECORDED: "local_activities",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search_attribute_updates",
}


async def history_profile(client: Client, workflow_ids: list[str], sample: int = 20) -> dict[str, float]:
    """Per workflow (median over a sample): history events, workflow tasks, signals, local and
    regular activities, search-attribute updates, and shard updates (start + tasks + signals)."""
    rows: list[Counter[str]] = []
    for workflow_id in workflow_ids[:sample]:
        try:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
        except RPCError:
            continue
        counts: Counter[str] = Counter(events=len(history.events))
        for event in history.events:
            if (name := _COUNTED.get(event.event_type)) is not None:
                counts[name] += 1
        counts["shard_updates"] = 1 + counts["workflow_tasks"] + counts["signals"]
        rows.append(counts)
    if not rows:
        return {}
    names = ["events", *_COUNTED.values(), "shard_updates"]
    return {name: sorted(row[name] for row in rows)[len(rows) // 2] for name in names}


def capacity_markdown(model: dict[str, Any]) -> list[str]:
    """The capacity section. ``model``: ``cpu_ms_per_order`` (by process, to Paid, orders only),
    ``cpu_ms_per_order_with_master_data_bods`` (the same with M3's stock BODs; sizes the model
    when measured), ``history`` (history_profile of Paid orders)."""
    orders_only: dict[str, float] = model.get("cpu_ms_per_order") or {}
    with_bods: dict[str, float] = model.get("cpu_ms_per_order_with_master_data_bods") or {}
    history: dict[str, float] = model.get("history") or {}
    if not orders_only or not history:
        return ["## Capacity model", "", "Not measured in this run.", ""]
    cpu = with_bods or orders_only
    rate = TARGET_ORDERS_PER_HOUR / 3600
    worker_ms = sum(ms for name, ms in cpu.items() if name.startswith("worker"))
    lines = [
        "## Capacity model",
        "",
        "What one order costs, measured in the lifecycle run above (CPU of each process from "
        "`/proc`, divided by the orders paid; Temporal's persistence from the orders' histories), "
        f"and what {TARGET_ORDERS_PER_HOUR:,} orders an hour with {STATUS_EVENTS_PER_ORDER} status "
        "events each would take.",
        "",
        "| process | CPU per Paid order, orders only | with M3's master-data BODs |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {ms:g} ms | {_ms(with_bods.get(name))} |"
            for name, ms in sorted(orders_only.items(), key=lambda item: -item[1])
        ),
        f"| all | {sum(orders_only.values()):g} ms | {_ms(sum(with_bods.values()) if with_bods else None)} |",
        "",
        "The model below is sized on the second column where it was measured: a real M3 sends "
        "those BODs too.",
        "",
        "| per Paid order (median) | count |",
        "| --- | --- |",
        *(f"| {name.replace('_', ' ')} | {value:g} |" for name, value in history.items()),
        "",
    ]
    per_worker = WORKER_CORE_BUDGET * 1000 / worker_ms if worker_ms else 0.0
    workers = math.ceil(rate / per_worker) if per_worker else 0
    updates = history.get("shard_updates", 0.0) * rate
    events = history.get("events", 0.0) * rate
    temporal_ms = cpu.get("temporal", 0.0)
    lines += [
        f"- **Load**: {TARGET_ORDERS_PER_HOUR:,} orders/hour = {rate:.1f} orders/s; "
        f"{STATUS_EVENTS_PER_ORDER} status events each = {rate * STATUS_EVENTS_PER_ORDER:.0f} BOD "
        "signals/s (the lifecycle above has them).",
        f"- **Workers**: a worker process used {worker_ms:g} ms of CPU per Paid order; at "
        f"{WORKER_CORE_BUDGET:.0%} of one core it carries about {per_worker:.1f} orders/s, so "
        f"{rate:.1f} orders/s need **{workers} worker processes** (one core each), plus headroom "
        "for a lost worker. Workers share nothing but Temporal and the store: the two-worker run "
        "above shows the work spreading over processes.",
        f"- **Temporal**: {history.get('shard_updates', 0):g} history updates per order (start, "
        f"workflow tasks, signals; local activities ride inside a task) = {updates:.0f} updates/s "
        f"and {events:.0f} history events/s. Updates of one workflow's shard are serialised by "
        "the persistence store: at 5 ms per write (an assumption for PostgreSQL on SSD) a shard "
        f"takes about 200 updates/s, so the load needs at least {math.ceil(updates / 200)} shards' "
        "worth of parallelism; a cluster's shard count (fixed at creation) should be a large "
        "multiple of that. The dev server here used "
        f"{temporal_ms:g} ms of CPU per order on SQLite: {rate * temporal_ms / 1000:.1f} cores at "
        "this rate, an upper bound for a single node.",
        "- **M3**: the API gateway's quota, not m3bng, sets the ceiling once it is reached: "
        "throughput = quota / M3 requests per order (the quota run above shows m3bng sitting at "
        "it with no failed order). The requests per order are in the to-M3 table.",
        "",
    ]
    return lines


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:g} ms"
