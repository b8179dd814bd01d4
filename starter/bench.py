"""``make bench`` / ``make bench-quick``: throughput and latency on the embedded stack.

Two scenarios, both through the real entry points:

- **Order to cash**: N orders placed in the BNG sandbox at once; latencies to the confirmed M3
  order and to Paid run from the moment BNG emitted each order's ``order.created`` webhook (the
  sandbox's delivery log), not from the workflow's first task. Paid includes the M3 sandbox's
  status clock and the payment round trip.
- **Intake** (``starter/bench_intake.py``): signed webhooks for new orders straight at the
  receiver from 8 and 32 (and, with ``--senders-128``, 128) concurrent senders; acks/s, ack
  latency from the send, errors, and how many acked orders have no workflow (must be 0).

Results go to ``var/bench.json`` and, as a Markdown table, to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from clients.bng.client import BngClient
from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import get_settings
from starter.bench_intake import intake_scenario, percentiles, terminate_leftovers
from starter.demo import all_final, observe_and_pay, place_orders
from starter.secrets import with_demo_secrets
from starter.stack import VAR, EmbeddedStack
from workflows.models import OrderView, Stage, order_workflow_id

DOCS = Path("docs") / "benchmarks.md"


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _step_at(view: OrderView, step: str) -> datetime | None:
    return next((_aware(e.at) for e in view.timeline if e.step == step), None)


async def _webhook_sent_at(bng_url: str) -> dict[str, tuple[datetime, datetime | None]]:
    """Per BNG order id: when the sandbox emitted its order.created webhook, and when it was
    delivered (acknowledged by the receiver); empty if the log cannot be read."""
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(f"{bng_url}/_sandbox/webhooks", params={"type": "order.created"})
            response.raise_for_status()
    except httpx.HTTPError:
        return {}
    sent: dict[str, tuple[datetime, datetime | None]] = {}
    for entry in response.json():
        order_id = entry["payload"].get("data", {}).get("OrderID")
        if isinstance(order_id, str) and order_id not in sent:
            delivered = entry.get("delivered_at")
            sent[order_id] = (
                _aware(datetime.fromisoformat(entry["created_at"])),
                _aware(datetime.fromisoformat(delivered)) if delivered else None,
            )
    return sent


async def _history_lengths(client: Client, order_ids: list[str]) -> list[float]:
    lengths = []
    for order_id in order_ids:
        try:
            described = await client.get_workflow_handle(order_workflow_id(order_id)).describe()
        except RPCError:
            continue
        lengths.append(float(described.raw_description.workflow_execution_info.history_length))
    return lengths


async def order_to_cash(
    client: Client, bng: BngClient, bng_url: str, orders: int, timeout: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    order_ids = await place_orders(bng, orders)
    placed = loop.time() - started
    views: dict[str, OrderView | None] = dict.fromkeys(order_ids)
    paying: set[str] = set()
    while loop.time() - started < timeout and not all_final(views):
        await observe_and_pay(client, bng, views, paying)
        await asyncio.sleep(0.25)
    elapsed = loop.time() - started
    sent = await _webhook_sent_at(bng_url)
    paid = {oid: v for oid, v in views.items() if v is not None and v.stage == Stage.PAID}
    to_m3: list[float] = []
    to_paid: list[float] = []
    delivery: list[float] = []
    for order_id, view in paid.items():
        # From BNG's emit of the webhook; without the log, from the workflow's first step.
        origin = sent[order_id][0] if order_id in sent else _aware(view.timeline[0].at)
        if (at := _step_at(view, Stage.ORDER_CREATED.value)) is not None:
            to_m3.append((at - origin).total_seconds())
        if (at := _step_at(view, Stage.PAID.value)) is not None:
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
        "history_events_per_paid_order": percentiles(await _history_lengths(client, list(paid)), digits=0),
    }


async def bench(
    orders: int, step_seconds: float, timeout: float, levels: list[int], intake_seconds: float
) -> dict[str, Any]:
    settings = with_demo_secrets(get_settings())  # var/secrets.env, for every process of the stack
    stack = EmbeddedStack(settings, lifecycle_seconds=step_seconds)
    stack.start()
    try:
        client = await connect(settings)
        await terminate_leftovers(client)  # Temporal's history in var/ outlives an interrupted run
        async with BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=settings.bng_client_secret.get_secret_value(),
        ) as bng:
            main = await order_to_cash(client, bng, stack.bng_url, orders, timeout)
        intake = await intake_scenario(
            client,
            stack.receiver_url,
            settings.bng_webhook_secret.get_secret_value(),
            levels=levels,
            seconds=intake_seconds,
        )
    finally:
        stack.stop()
    return {
        "machine": _machine(),
        "m3_status_step_seconds": step_seconds,
        "order_to_cash": main,
        "intake": intake,
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


def markdown(result: dict[str, Any], command: str) -> str:
    machine, main = result["machine"], result["order_to_cash"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` (`starter/bench.py`); the raw figures are in `var/bench.json`.",
        "",
        f"- date: {machine['date']}",
        f"- machine: {machine['cores']} cores; the whole embedded stack (Temporal dev server on "
        "SQLite WAL, both sandboxes, one worker, the receiver) and the load generator share them",
        f"- temporalio {machine['temporalio']}, git commit {machine['git_commit']}",
        f"- M3 sandbox status clock: one step every {result['m3_status_step_seconds']} s",
        "",
        "## Intake: signed `order.created` webhooks for new orders, straight at the receiver",
        "",
        "Each ack's latency runs from the moment its request was sent. Errors are non-2xx answers "
        "and transport errors. *Acked without workflow* counts acknowledged orders whose workflow "
        "Temporal does not know afterwards (described by id); it must be 0. The worker starts "
        "working on the accepted orders meanwhile, on the same cores, as it would in production.",
        "",
        "| senders | seconds | acked | acks/s | ack latency p50 / p95 / p99 | errors "
        "| acked without workflow |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["intake"]:
        lines.append(
            f"| {run['senders']} | {run['elapsed_seconds']} | {run['acked']} | "
            f"{run['acks_per_second']} | {_pcts(run['ack_latency_ms'], 'ms')} | {run['errors']} | "
            f"{run['acked_without_workflow']} |"
        )
    lines += [
        "",
        f"## Order to cash: {main['orders']} orders placed in the BNG sandbox at once",
        "",
        f"Latencies run from the moment the sandbox emitted each order's `order.created` webhook "
        f"(origin: {main['latency_origin']}). Paid includes the M3 sandbox's status clock (4 "
        "steps) and the payment round trip.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| orders placed / paid / not paid (errors) | {main['orders']} / {main['paid']} / "
        f"{main['not_paid']} |",
        f"| placing the orders through BNG's API | {main['placing_seconds']} s |",
        f"| first order placed → last order paid | {main['total_seconds']} s "
        f"({main['orders_per_second_to_paid']} orders/s) |",
        f"| webhook → confirmed M3 order, p50 / p95 / p99 | "
        f"{_pcts(main['webhook_to_m3_order_seconds'], 's')} |",
        f"| webhook → Paid, p50 / p95 / p99 | {_pcts(main['webhook_to_paid_seconds'], 's')} |",
        f"| webhook delivery (emitted → acked by the receiver), p50 / p95 / p99 | "
        f"{_pcts(main['webhook_delivery_ms'], 'ms')} |",
        f"| history events per Paid order, p50 / p95 / p99 | "
        f"{_pcts(main['history_events_per_paid_order'], '')} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--m3-step-seconds", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--intake-seconds", type=float, default=10, help="per sender count")
    parser.add_argument("--senders-128", action="store_true", help="also run intake at 128 senders")
    parser.add_argument("--quick", action="store_true", help="40 orders, intake 5 s per sender count")
    args = parser.parse_args()
    if args.quick:
        args.orders, args.intake_seconds, args.timeout = 40, 5, 60
    levels = [8, 32, 128] if args.senders_128 else [8, 32]
    configure_logging("WARNING")
    result = asyncio.run(bench(args.orders, args.m3_step_seconds, args.timeout, levels, args.intake_seconds))
    VAR.mkdir(exist_ok=True)
    (VAR / "bench.json").write_text(json.dumps(result, indent=2))
    command = "make bench-quick" if args.quick else "make bench"
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(markdown(result, command))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
