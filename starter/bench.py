"""``make bench`` / ``make bench-quick``: throughput and latency on the embedded stack.

Every scenario drives load through the real entry points; latencies run from the moment BNG
emitted each order's ``order.created`` webhook (the sandbox's delivery log), not from the
workflow's first task:

- **Engine ceiling** (``starter/bench_ceiling.py``): a no-op workflow with as many activities as
  the product runs to the confirmed M3 order, regular and local, on the same server with the
  same worker settings in its own worker process. Every product figure is also shown against it.
- **To M3** (``starter/bench_to_m3.py``): N orders of 3 lines placed in BNG at once, webhook ->
  confirmed M3 order, with the M3 sandbox at latency 0 and 50 ms per call; under an M3 quota
  (429 above it); then with m3bng's processes restarted with ``M3BNG_ORDER_CALLS=activities``
  (the naive design), and with two worker processes.
- **Lifecycle**: N orders to Paid, with BODs, pushes, invoice and payment; Paid includes the M3
  sandbox's status clock and the payment round trip.
- **Intake** (``starter/bench_intake.py``): signed webhooks for new orders straight at the
  receiver from 8, 32 (and 128) concurrent senders; every ack must be durable.
- **Bulk** (``starter/bench_bulk.py``, when present): reconciliation and initial load of items.

The stack runs on an empty ``var/bench/`` each time (its logs stay there until the next run).
Results go to ``var/bench.json`` and, as Markdown with a summary against the targets of issue 10,
to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from temporalio.client import Client

import workflows.search_attributes as sa
from clients.bng.client import BngClient
from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import Settings
from starter.bench_bulk import bulk_markdown, bulk_scenario
from starter.bench_capacity import capacity_markdown, cpu_per_order, cpu_snapshot, history_profile
from starter.bench_ceiling import ceiling_scenario, ceiling_worker, warm_up
from starter.bench_intake import intake_scenario, percentiles
from starter.bench_profile import sampled, summary
from starter.bench_summary import ratio, summary_markdown
from starter.bench_to_m3 import (
    M3SandboxAdmin,
    WorkerMetrics,
    aware,
    history_lengths,
    step_at,
    to_m3_scenario,
    webhook_sent_at,
)
from starter.demo import FINAL, place_orders, view_of
from starter.secrets import with_demo_secrets
from starter.stack import VAR, EmbeddedStack
from workflows.models import Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

DOCS = Path("docs") / "benchmarks.md"
# py-spy's samples of the worker, per design (starter/bench_profile.py).
VAR_PROFILES = VAR / "bench-profiles"


def cpu_bound_markdown(result: dict[str, Any]) -> list[str]:
    """Why a throughput target is missed: what the whole stack's CPU per order allows on these
    cores, beside what was reached. py-spy's samples (below) say where the worker's share goes."""
    cores = result["machine"]["cores"] or 1
    runs = [
        (
            "webhook → confirmed M3 order, latency 0",
            result.get("to_m3", {}).get("latency_0", {}),
            "orders_per_second",
        ),
        (
            "lifecycle to Paid, orders only",
            {**result.get("capacity", {}), **result["order_to_cash"]},
            "orders_per_second_to_paid",
        ),
    ]
    lines = [
        "## What the cores allow",
        "",
        f"Every process of the stack shares the machine's {cores} cores, so the CPU one order costs "
        "all of them together bounds the throughput at about cores ÷ CPU per order, however the "
        "work is spread. The CPU is read from `/proc` over the whole run, the bench's own reads of "
        "the results included, so a rate reached can sit a little above its bound. The sandboxes "
        "stand in for M3 and BNG, which in production run on their own machines: the last column "
        "leaves them out.",
        "",
        "| run | CPU per order: worker / Temporal / sandboxes / receiver | all | bound on "
        f"{cores} cores | reached | bound without the sandboxes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    measured = False
    for title, run, rate in runs:
        cpu: dict[str, float] = run.get("cpu_ms_per_order") or {}
        if not cpu:
            continue
        measured = True
        worker = sum(ms for name, ms in cpu.items() if name.startswith("worker"))
        sandboxes = sum(ms for name, ms in cpu.items() if name.endswith("sandbox"))
        total = sum(cpu.values())
        lines.append(
            f"| {title} | {worker:.0f} / {cpu.get('temporal', 0):.0f} / {sandboxes:.0f} / "
            f"{cpu.get('receiver', 0):.0f} ms | {total:.0f} ms | {ratio(cores * 1000, total)} orders/s | "
            f"{run.get(rate)} orders/s | {ratio(cores * 1000, total - sandboxes)} orders/s |"
        )
    return [*lines, ""] if measured else []


def profile_markdown(profile: dict[str, list[tuple[str, float]]]) -> list[str]:
    """Where the worker's CPU went in the to-M3 runs, before (naive) and after (product)."""
    if not any(profile.values()):
        return []
    lines = [
        "## Profile: where the worker's CPU went, to M3 at latency 0",
        "",
        "py-spy samples of the worker process during the naive run (every call a regular "
        "activity: before) and the product run (local calls: after), charged to the innermost "
        "frame's package or our file; raw samples in `var/bench-profiles/`.",
        "",
    ]
    for name, title in (("naive", "naive design (before)"), ("product", "product (after)")):
        places = profile.get(name) or []
        lines += [f"**{title}**: " + ", ".join(f"{place} {share:g} %" for place, share in places), ""]
    return lines


def _stage_query(*stages: Stage) -> str:
    listed = ", ".join(f"'{stage.value}'" for stage in stages)
    return f"WorkflowType = '{OrderToCashWorkflow.__name__}' AND {sa.ORDER_STAGE.name} IN ({listed})"


async def _orders_at(client: Client, *stages: Stage) -> set[str]:
    found = set()
    async for execution in client.list_workflows(_stage_query(*stages)):
        if order_id := execution.typed_search_attributes.get(sa.BNG_ORDER_ID):
            found.add(order_id)
    return found


async def pay_as_invoiced(client: Client, bng: BngClient, order_ids: set[str], *, deadline: float) -> None:
    """Play the customer of many orders: pay each once m3bng has invoiced it, until every order
    is final. Visibility names the invoiced and the final orders (two list calls a pass), and an
    invoiced order's workflow is queried once, for its invoice. (The demo's loop queries every
    open order on every pass: with 200 orders that was the bench's own load on the worker and
    Temporal, and it was charged to the orders.)"""
    loop = asyncio.get_running_loop()
    paid: set[str] = set()
    while loop.time() < deadline:
        if order_ids <= await _orders_at(client, *FINAL):
            return
        for order_id in (await _orders_at(client, Stage.INVOICED) & order_ids) - paid:
            view = await view_of(client, order_id)
            if view and view.stage == Stage.INVOICED and view.invoice:
                await bng.capture_payment(
                    order_id, amount=view.invoice.total_amount, currency=view.invoice.currency
                )
                paid.add(order_id)
        await asyncio.sleep(0.5)


async def order_to_cash(
    client: Client, bng: BngClient, bng_url: str, orders: int, timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    order_ids = await place_orders(bng, orders)
    placed = loop.time() - started
    await pay_as_invoiced(client, bng, set(order_ids), deadline=started + timeout)
    elapsed = loop.time() - started
    views = {order_id: await view_of(client, order_id) for order_id in order_ids}
    sent = await webhook_sent_at(bng_url)
    paid = {oid: v for oid, v in views.items() if v is not None and v.stage == Stage.PAID}
    to_m3: list[float] = []
    to_paid: list[float] = []
    delivery: list[float] = []
    for order_id, view in paid.items():
        # From BNG's emit of the webhook; without the log, from the workflow's first step.
        origin = sent[order_id][0] if order_id in sent else aware(view.timeline[0].at)
        if (at := step_at(view, Stage.ORDER_CREATED.value)) is not None:
            to_m3.append((at - origin).total_seconds())
        if (at := step_at(view, Stage.PAID.value)) is not None:
            to_paid.append((at - origin).total_seconds())
        if order_id in sent and (delivered := sent[order_id][1]) is not None:
            delivery.append((delivered - sent[order_id][0]).total_seconds() * 1000)
    return {
        "orders": orders,
        "paid": len(paid),
        "not_paid": orders - len(paid),
        "latency_origin": "bng webhook emitted" if sent else "workflow first step (no delivery log)",
        "placing_seconds": round(placed, 2),
        "total_seconds": round(elapsed, 2),
        "orders_per_second_to_paid": round(len(paid) / elapsed, 2),
        "webhook_to_m3_order_seconds": percentiles(to_m3),
        "webhook_to_paid_seconds": percentiles(to_paid),
        "webhook_delivery_ms": percentiles(delivery, digits=1),
        "history_events_per_paid_order": percentiles(await history_lengths(client, list(paid)), digits=0),
        "history_profile": await history_profile(client, [order_workflow_id(order_id) for order_id in paid]),
    }


@dataclass
class Plan:
    """How much load each scenario gets (``--quick`` makes it small)."""

    lifecycle_orders: int = 200
    # A second lifecycle run with M3's master-data BODs on (the side load of stock changes).
    master_data_bods_run: bool = True
    to_m3_orders: int = 300
    quota_orders: int = 100
    quota_per_second: float = 10.0
    ceiling_workflows: int = 300
    m3_latency_ms: int = 50
    warm_up_orders: int = 10
    step_seconds: float = 0.5
    timeout: float = 600
    senders: list[int] = field(default_factory=lambda: [8, 32, 128])
    # Per sender count. Every acked order must then get its workflow (the drain check): at about
    # 2,000 acks/s, 10 s per level made the intake alone take 10 minutes.
    intake_seconds: float = 3
    bulk_items: int = 100_000


class Timer:
    """Wall-clock seconds per scenario, for the report (and for keeping bench-quick short)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    async def run(self, name: str, scenario: Callable[[], Awaitable[Any]]) -> Any:
        began = time.monotonic()
        try:
            return await scenario()
        finally:
            self.seconds[name] = round(time.monotonic() - began, 1)
            print(f"bench: {name} took {self.seconds[name]} s", flush=True)


# The bench's own stack state, new on every run: what earlier runs left (a bulk load's webhook
# backlog in the BNG sandbox, thousands of orders in M3) must not weigh on the figures.
BENCH_VAR = VAR / "bench"


def fresh_bench_settings(var: Path = BENCH_VAR) -> Settings:
    """Settings for a stack on an empty ``var`` (as ``starter.chaos`` does), exported to the
    environment for its child processes; the demo's secrets (var/secrets.env) as usual."""
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    database_url = f"sqlite:///{var / 'm3bng.db'}"
    os.environ.update(
        {
            "M3BNG_M3_IONAPI": str(var / "m3.ionapi"),
            # Both names: DATABASE_URL wins over M3BNG_DATABASE_URL when set.
            "DATABASE_URL": database_url,
            "M3BNG_DATABASE_URL": database_url,
        }
    )
    return with_demo_secrets(Settings())


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, plan: Plan, timer: Timer, var: Path = BENCH_VAR
) -> AsyncIterator[tuple[EmbeddedStack, Client, BngClient]]:
    """The embedded stack on ``var``, a Temporal client and a BNG client."""
    stack = EmbeddedStack(settings, lifecycle_seconds=plan.step_seconds, var=var)
    await timer.run("stack start", lambda: asyncio.to_thread(stack.start))
    try:
        client = await connect(settings)
        async with BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=settings.bng_client_secret.get_secret_value(),
        ) as bng:
            yield stack, client, bng
    finally:
        await timer.run("stack stop", lambda: asyncio.to_thread(stack.stop))


NAIVE_ENV = {"M3BNG_ORDER_CALLS": "activities"}


async def bench(plan: Plan) -> dict[str, Any]:
    began = time.monotonic()
    settings = fresh_bench_settings()
    timer = Timer()
    result: dict[str, Any] = {
        "machine": _machine(),
        "plan": asdict(plan),
        "m3_status_step_seconds": plan.step_seconds,
        "to_m3": {},
    }
    to_m3: dict[str, Any] = result["to_m3"]
    async with running_stack(settings, plan, timer) as (stack, client, bng):
        m3 = M3SandboxAdmin(stack.m3_url)
        metrics = WorkerMetrics(
            f"http://{settings.worker_metrics_host}:{stack.metrics_port}/metrics",
            settings.metrics_token.get_secret_value(),
        )

        async def run_to_m3(name: str, orders: int, *, single_worker: bool = True) -> dict[str, Any]:
            run: dict[str, Any] = await timer.run(
                name,
                lambda: to_m3_scenario(
                    client,
                    bng,
                    settings,
                    m3_url=stack.m3_url,
                    bng_url=stack.bng_url,
                    orders=orders,
                    timeout=plan.timeout,
                    label=name,
                    metrics=metrics if single_worker else None,
                ),
            )
            return run

        # The ceiling first: it also warms Temporal up. Each worker process gets a few orders
        # before it is measured, so that no design pays for a cold start.
        result["ceiling"] = await timer.run("engine ceiling", lambda: _ceiling(client, stack, plan))
        await run_to_m3("warm-up", plan.warm_up_orders)
        profiles = VAR_PROFILES
        pids = {name: process.pid for name, process in stack.processes.items()}
        cpu_before = cpu_snapshot(pids)
        with sampled(stack.processes["worker"].pid, profiles / "worker-product.txt"):
            to_m3["latency_0"] = await run_to_m3("to M3, latency 0", plan.to_m3_orders)
        to_m3["latency_0"]["cpu_ms_per_order"] = cpu_per_order(
            cpu_before, cpu_snapshot(pids), to_m3["latency_0"]["confirmed"]
        )
        await m3.knobs(latency_ms=plan.m3_latency_ms)
        try:
            to_m3["latency_50"] = await run_to_m3(
                f"to M3, latency {plan.m3_latency_ms} ms", plan.to_m3_orders
            )
        finally:
            await m3.knobs(latency_ms=None)
        await m3.knobs(rate_limit_per_second=plan.quota_per_second)
        try:
            quota = await run_to_m3(f"to M3, quota {plan.quota_per_second:g}/s", plan.quota_orders)
        finally:
            await m3.knobs(rate_limit_per_second=None)
        result["quota"] = quota_figures(quota, plan.quota_per_second)
        # The naive design and the scale-out: the same stack with other worker processes.
        await asyncio.to_thread(stack.restart_product, 1, NAIVE_ENV)
        await run_to_m3("warm-up, naive design", plan.warm_up_orders)
        with sampled(stack.processes["worker"].pid, profiles / "worker-naive.txt"):
            to_m3["naive"] = await run_to_m3("to M3, naive design", plan.to_m3_orders)
        to_m3["naive"]["env"] = NAIVE_ENV
        await asyncio.to_thread(stack.restart_product, 2, {})
        await run_to_m3("warm-up, two workers", plan.warm_up_orders, single_worker=False)
        to_m3["two_workers"] = await run_to_m3("to M3, two workers", plan.to_m3_orders, single_worker=False)
        await asyncio.to_thread(stack.restart_product, 1, {})
        await m3.status_clock(plan.step_seconds)
        pids = {name: process.pid for name, process in stack.processes.items()}

        async def lifecycle(name: str) -> tuple[dict[str, Any], dict[str, float]]:
            cpu_before = cpu_snapshot(pids)
            run: dict[str, Any] = await timer.run(
                name,
                lambda: order_to_cash(client, bng, stack.bng_url, plan.lifecycle_orders, plan.timeout),
            )
            return run, cpu_per_order(cpu_before, cpu_snapshot(pids), run["paid"])

        # The orders' own figure: M3 sends no master-data BODs meanwhile. Otherwise every
        # allocation and delivery sends a stock BOD per line, each syncing a balance to BNG: that
        # side load is measured apart, in a second run.
        await m3.knobs(master_data_bods=False)
        try:
            result["order_to_cash"], cpu = await lifecycle("lifecycle")
        finally:
            await m3.knobs(master_data_bods=None)
        history = result["order_to_cash"].pop("history_profile")
        result["capacity"] = {"cpu_ms_per_order": cpu, "history": history}
        if plan.master_data_bods_run:
            with_bods, cpu = await lifecycle("lifecycle with master-data BODs")
            with_bods.pop("history_profile")
            result["order_to_cash_with_master_data_bods"] = with_bods
            result["capacity"]["cpu_ms_per_order_with_master_data_bods"] = cpu
        # The intake's thousands of orders would otherwise go through M3's lifecycle, BODs and
        # all, while the bulk scenario is measured.
        await m3.status_clock(None)
        result["profile"] = {name: summary(profiles / f"worker-{name}.txt") for name in ("naive", "product")}
        result["intake"] = await timer.run(
            "intake",
            lambda: intake_scenario(
                client,
                stack.receiver_url,
                settings.bng_webhook_secret.get_secret_value(),
                levels=plan.senders,
                seconds=plan.intake_seconds,
            ),
        )
        if plan.bulk_items:
            result["bulk"] = await timer.run("bulk", lambda: bulk_scenario(settings, stack, plan.bulk_items))
    result["scenario_seconds"] = timer.seconds
    result["total_seconds"] = round(time.monotonic() - began, 1)
    return result


async def _ceiling(client: Client, stack: EmbeddedStack, plan: Plan) -> dict[str, Any]:
    with ceiling_worker(stack.log_path("bench-ceiling")):
        await warm_up(client)
        return {
            kind: await ceiling_scenario(
                client, workflows=plan.ceiling_workflows, local=kind == "local", timeout=plan.timeout
            )
            for kind in ("regular", "local")
        }


def quota_figures(run: dict[str, Any], quota_per_second: float) -> dict[str, Any]:
    """The quota run with what the quota allows: quota / M3 calls per order, and the share of it
    that the product reached."""
    # The gateway counts HTTP requests (a bulk request is one); the call log counts transactions.
    per_order = run.get("m3_requests_per_order") or run["m3_calls_per_order"]
    bound = ratio(quota_per_second, per_order)
    return {
        **run,
        "quota_per_second": quota_per_second,
        "quota_bound_orders_per_second": bound,
        "share_of_quota_bound": ratio(run["orders_per_second"], bound),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _machine() -> dict[str, Any]:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "temporalio": version("temporalio"),
        "git_commit": commit,
    }


def _pcts(values: dict[str, float], unit: str) -> str:
    if not values:
        return "n/a"
    unit = f" {unit}" if unit else ""
    return " / ".join(f"{values[k]:g}" for k in ("p50", "p95", "p99")) + f"{unit} (max {values['max']:g})"


def _share(measured: float | None, ceiling: float | None) -> str:
    share = ratio(measured, ceiling)
    return "—" if share is None else f"{share:g}"


def ceiling_markdown(ceiling: dict[str, Any]) -> list[str]:
    lines = [
        "## Engine ceiling: a no-op workflow, same server, same worker settings",
        "",
        f"`starter/bench_ceiling.py`: {ceiling['regular']['steps']} no-op activities in a row (as many "
        "as the product runs from the webhook to the confirmed M3 order: map, customer, items, batch "
        "head, batch lines, confirm, status push), in a separate worker process with "
        "`worker.TUNING`. All workflows are started at once through the client; latency runs from "
        "each start call to Temporal's close time.",
        "",
        "| activities | workflows | completed | workflows/s | latency p50 / p95 / p99 | client starts/s "
        "| start call p50 / p95 / p99 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in ceiling.values():
        lines.append(
            f"| {run['activities']} | {run['workflows']} | {run['completed']} | "
            f"{run['workflows_per_second']} | {_pcts(run['latency_seconds'], 's')} | "
            f"{run['starts_per_second']} | {_pcts(run['start_call_ms'], 'ms')} |"
        )
    return [*lines, ""]


TO_M3_RUNS = {
    "latency_0": ("product, M3 latency 0", "local"),
    "latency_50": ("product, M3 latency 50 ms per call", "local"),
    "naive": ("naive design (`M3BNG_ORDER_CALLS=activities`), latency 0", "regular"),
    "two_workers": ("product, two worker processes, latency 0", "local"),
}


def to_m3_markdown(result: dict[str, Any]) -> list[str]:
    runs, ceiling = result.get("to_m3", {}), result.get("ceiling", {})
    quota = result.get("quota")
    lines = [
        "## Webhook → confirmed M3 order",
        "",
        "Orders of 3 lines placed in the BNG sandbox at once; latency from BNG's emit of each "
        "`order.created` webhook to the `OrderCreated` step of its timeline; orders/s over the span "
        "from the first emit to the last confirmation. The M3 sandbox's status clock is off meanwhile "
        "(the orders stay at OrderCreated) and the orders are terminated and deleted from M3 "
        "afterwards. *Share of ceiling*: orders/s over the matching no-op ceiling's workflows/s "
        "(local activities for the product, regular ones for the naive design). M3 calls per order "
        "come from the M3 sandbox's call log (MI transactions of every caller, side load included); "
        "M3 requests per order from the worker's `m3bng_m3_calls` (HTTP requests, a bulk request "
        "counts once, as a gateway quota does; not measured with two workers).",
        "",
        "| run | orders | confirmed / parked | orders/s | share of ceiling | latency p50 / p95 / p99 "
        "| p99 / ceiling's p99 | history events p50 | M3 calls per order | M3 requests per order | 429s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = [(key, *TO_M3_RUNS[key], run) for key, run in runs.items() if key in TO_M3_RUNS]
    if quota is not None:
        rows.append(("quota", f"product, M3 quota {quota['quota_per_second']:g} calls/s", "local", quota))
    for _, title, kind, run in rows:
        matching = ceiling.get(kind, {})
        p99 = run["webhook_to_m3_order_seconds"].get("p99")
        lines.append(
            f"| {title} | {run['orders']} | {run['confirmed']} / {run['parked']} | "
            f"{run['orders_per_second']} | "
            f"{_share(run['orders_per_second'], matching.get('workflows_per_second'))} | "
            f"{_pcts(run['webhook_to_m3_order_seconds'], 's')} | "
            f"{_share(p99, matching.get('latency_seconds', {}).get('p99'))} | "
            f"{run['history_events_per_order'].get('p50', 'n/a')} | {run['m3_calls_per_order']} | "
            f"{run.get('m3_requests_per_order') or 'n/a'} | {run['m3_throttled_429']} |"
        )
    product = runs.get("latency_0", {}).get("orders_per_second")
    lines.append("")
    if "naive" in runs:
        lines.append(
            f"- product / naive design: {ratio(product, runs['naive']['orders_per_second'])}x (target ≥ 2x)"
        )
    if "two_workers" in runs:
        lines.append(
            f"- two worker processes / one: {ratio(runs['two_workers']['orders_per_second'], product)}x "
            "(both on the same 2 cores as everything else)"
        )
    if quota is not None:
        lines.append(
            f"- quota {quota['quota_per_second']:g} requests/s ÷ "
            f"{quota.get('m3_requests_per_order') or quota['m3_calls_per_order']} M3 requests "
            f"per order = {quota['quota_bound_orders_per_second']} orders/s at most; reached "
            f"{quota['orders_per_second']} orders/s ({quota['share_of_quota_bound']} of it), "
            f"{quota['m3_throttled_429']} calls answered 429, {quota['parked']} parked, "
            f"{quota['not_confirmed']} not confirmed"
        )
    return [*lines, ""]


LIFECYCLE_FIGURES = [
    "orders placed / paid / not paid (errors)",
    "placing the orders through BNG's API",
    "first order placed → last order paid",
    "webhook → confirmed M3 order, p50 / p95 / p99",
    "webhook → Paid, p50 / p95 / p99",
    "webhook delivery (emitted → acked by the receiver), p50 / p95 / p99",
    "history events per Paid order, p50 / p95 / p99",
]


def _lifecycle_cells(run: dict[str, Any]) -> list[str]:
    return [
        f"{run['orders']} / {run['paid']} / {run['not_paid']}",
        f"{run['placing_seconds']} s",
        f"{run['total_seconds']} s ({run['orders_per_second_to_paid']} orders/s)",
        _pcts(run["webhook_to_m3_order_seconds"], "s"),
        _pcts(run["webhook_to_paid_seconds"], "s"),
        _pcts(run["webhook_delivery_ms"], "ms"),
        _pcts(run["history_events_per_paid_order"], ""),
    ]


def lifecycle_markdown(result: dict[str, Any]) -> list[str]:
    runs = {"orders only (M3 sends no master-data BODs)": result["order_to_cash"]}
    if with_bods := result.get("order_to_cash_with_master_data_bods"):
        runs["with M3's master-data BODs (a stock BOD per line at allocation and delivery)"] = with_bods
    main = result["order_to_cash"]
    return [
        f"## Order to cash: {main['orders']} orders placed in the BNG sandbox at once",
        "",
        "Latencies run from the moment the sandbox emitted each order's `order.created` webhook "
        f"(origin: {main['latency_origin']}). Paid includes the M3 sandbox's status clock (4 steps "
        f"of {result['m3_status_step_seconds']} s) and the payment: the bench plays the customer, "
        "paying each order once m3bng shows it invoiced (found through visibility). The orders' "
        "own figure comes from a run in which M3 sends no master-data BODs; with them, every "
        "allocation and delivery also syncs the stock of each line to BNG (an entity workflow per "
        "balance), measured apart.",
        "",
        "| figure | " + " | ".join(runs) + " |",
        "| --- |" + " --- |" * len(runs),
        *(
            f"| {title} | " + " | ".join(cells) + " |"
            for title, *cells in zip(LIFECYCLE_FIGURES, *map(_lifecycle_cells, runs.values()), strict=True)
        ),
        "",
    ]


def markdown(result: dict[str, Any], command: str) -> str:
    machine = result["machine"]
    starts = max((run["starts_per_second"] for run in result.get("ceiling", {}).values()), default=None)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` (`starter/bench.py`); the raw figures are in `var/bench.json`.",
        "",
        f"- date: {machine['date']}",
        f"- machine: {machine['cores']} cores; the whole embedded stack (Temporal dev server on "
        "SQLite WAL, both sandboxes, the worker(s), the receiver) and the load generator share them",
        f"- temporalio {machine['temporalio']}, git commit {machine['git_commit']}",
        f"- M3 sandbox status clock: one step every {result['m3_status_step_seconds']} s",
        "- every run starts the stack on an empty `var/bench/` (Temporal, sandboxes, m3bng's "
        "store), so nothing of an earlier run weighs on it; figures are indicative: other work "
        "on the machine shares the cores",
        "",
        "## Summary against the targets of issue 10",
        "",
        *summary_markdown(result),
        "",
    ]
    if "ceiling" in result:
        lines += ceiling_markdown(result["ceiling"])
    if result.get("to_m3"):
        lines += to_m3_markdown(result)
    lines += [
        "## Intake: signed `order.created` webhooks for new orders, straight at the receiver",
        "",
        "Each ack's latency runs from the moment its request was sent. Errors are non-2xx answers "
        "and transport errors. *Acked without workflow* counts acknowledged orders whose workflow "
        "Temporal does not know afterwards (described by id); it must be 0. The worker starts "
        "working on the accepted orders meanwhile, on the same cores, as it would in production. "
        "*Share of ceiling*: acks/s over the client's start rate in the ceiling run.",
        "",
        "*Ack → workflow started*: how long an acknowledged order waited in the receiver's intake "
        "inbox before its workflow started.",
        "",
        "| senders | seconds | acked | acks/s | share of ceiling | ack latency p50 / p95 / p99 | errors "
        "| acked without workflow | ack → workflow started p50 / p95 / p99 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["intake"]:
        lines.append(
            f"| {run['senders']} | {run['elapsed_seconds']} | {run['acked']} | "
            f"{run['acks_per_second']} | {_share(run['acks_per_second'], starts)} | "
            f"{_pcts(run['ack_latency_ms'], 'ms')} | {run['errors']} | "
            f"{run['acked_without_workflow']} | {_pcts(run.get('drain_ms', {}), 'ms')} |"
        )
    lines += ["", *lifecycle_markdown(result)]
    if "bulk" in result:
        lines += [*bulk_markdown(result["bulk"]), ""]
    lines += capacity_markdown(result.get("capacity", {}))
    lines += cpu_bound_markdown(result)
    lines += profile_markdown(result.get("profile", {}))
    if seconds := result.get("scenario_seconds"):
        lines += [
            "## Wall clock per scenario",
            "",
            ", ".join(f"{name} {took:g} s" for name, took in seconds.items())
            + f"; {result.get('total_seconds', 'n/a')} s in all",
            "",
        ]
    return "\n".join(lines)


# Under 2 minutes of wall clock for the whole run, three stack starts included.
QUICK = Plan(
    lifecycle_orders=10,
    master_data_bods_run=False,
    to_m3_orders=60,
    quota_orders=10,
    ceiling_workflows=100,
    warm_up_orders=3,
    timeout=60,
    senders=[32],  # the level the target is for
    intake_seconds=0.5,
    bulk_items=1000,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small loads, under 2 minutes in all")
    parser.add_argument("--orders", type=int, help="orders to Paid (lifecycle)")
    parser.add_argument("--to-m3-orders", type=int, help="orders per to-M3 run")
    parser.add_argument("--quota-orders", type=int, help="orders of the quota run")
    parser.add_argument("--quota-per-second", type=float, help="M3 sandbox quota, MI calls per second")
    parser.add_argument("--ceiling-workflows", type=int, help="no-op workflows per ceiling run")
    parser.add_argument("--m3-step-seconds", type=float, help="M3 status clock of the lifecycle")
    parser.add_argument("--timeout", type=float, help="per scenario")
    parser.add_argument("--intake-seconds", type=float, help="per sender count")
    parser.add_argument("--senders", type=int, nargs="+", help="intake sender counts")
    parser.add_argument("--bulk-items", type=int, help="items of the bulk scenario (0: no bulk run)")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    chosen = {
        "lifecycle_orders": args.orders,
        "to_m3_orders": args.to_m3_orders,
        "quota_orders": args.quota_orders,
        "quota_per_second": args.quota_per_second,
        "ceiling_workflows": args.ceiling_workflows,
        "step_seconds": args.m3_step_seconds,
        "timeout": args.timeout,
        "intake_seconds": args.intake_seconds,
        "senders": args.senders,
        "bulk_items": args.bulk_items,
    }
    plan = replace(plan, **{name: value for name, value in chosen.items() if value is not None})
    configure_logging("WARNING")
    result = asyncio.run(bench(plan))
    VAR.mkdir(exist_ok=True)
    (VAR / "bench.json").write_text(json.dumps(result, indent=2))
    command = "make bench-quick" if args.quick else "make bench"
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(markdown(result, command))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
