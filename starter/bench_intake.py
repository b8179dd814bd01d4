"""The intake scenario of ``make bench``: signed ``order.created`` webhooks for *new* orders.

Concurrent senders post valid, signed BNG order webhooks (bodies from ``make_demo_orders``, each
with a fresh OrderID) straight at the receiver for a fixed time. Each ack's latency runs from the
moment its request is sent; a non-2xx answer or a transport error counts as an error. Afterwards
every acknowledged order must have its workflow in Temporal (described by id): the ack promises
that the order is durable, so ``missing`` must be 0. Once every level has run, the bench's
orders are terminated: they are test data and would otherwise resume with the next stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.bng.webhooks import build_headers
from sandbox.bng.demo_data import make_demo_orders
from workflows.models import order_workflow_id

# Distinct bodies to draw from; each request gets its own OrderID on one of them.
TEMPLATE_COUNT = 200
DESCRIBE_CONCURRENCY = 32
ID_PREFIX = "BENCH-"


def percentiles(values: list[float], digits: int = 3) -> dict[str, float]:
    """p50/p95/p99/max/mean of ``values`` (nearest rank), rounded; empty for no values."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": round(pick(0.50), digits),
        "p95": round(pick(0.95), digits),
        "p99": round(pick(0.99), digits),
        "max": round(ordered[-1], digits),
        "mean": round(sum(ordered) / len(ordered), digits),
    }


@dataclass
class IntakeRun:
    senders: int
    seconds: float
    acked: list[str] = field(default_factory=list)  # order ids answered with 2xx
    latencies_ms: list[float] = field(default_factory=list)  # of the 2xx answers
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    missing: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "senders": self.senders,
            "seconds_requested": self.seconds,
            "elapsed_seconds": round(self.elapsed, 2),
            "acked": len(self.acked),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "acks_per_second": round(len(self.acked) / self.elapsed, 1) if self.elapsed else 0.0,
            "ack_latency_ms": percentiles(self.latencies_ms, digits=1),
            "acked_without_workflow": self.missing,
        }


def _templates() -> list[dict[str, Any]]:
    orders = make_demo_orders(TEMPLATE_COUNT, seed=7, start=datetime.now(UTC))
    return [order.model_dump(mode="json", exclude_none=True) for order in orders]


async def run_intake(
    receiver_url: str, secret: str, *, senders: int, seconds: float, run_tag: str
) -> IntakeRun:
    """``senders`` concurrent senders post new-order webhooks for ``seconds``."""
    url = f"{receiver_url}/webhooks/bng"
    templates = _templates()
    numbers = itertools.count(1)
    run = IntakeRun(senders=senders, seconds=seconds)
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)

    async def sender(http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            number = next(numbers)
            order_id = f"{ID_PREFIX}{run_tag}-{senders}-{number}"
            data = {**templates[number % len(templates)], "OrderID": order_id}
            event = {"type": "order.created", "timestamp": datetime.now(UTC).isoformat(), "data": data}
            body = json.dumps(event, separators=(",", ":")).encode()
            headers = {
                **build_headers(secret, f"msg_{order_id}", body),
                "content-type": "application/json",
            }
            sent = time.perf_counter()
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as error:
                _error(run, f"{type(error).__name__}: {error}")
                continue
            took_ms = (time.perf_counter() - sent) * 1000
            if 200 <= response.status_code < 300:
                run.acked.append(order_id)
                run.latencies_ms.append(took_ms)
            else:
                _error(run, f"{response.status_code}: {response.text[:120]}")

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(sender(http, deadline) for _ in range(senders)))
        run.elapsed = time.monotonic() - started
    return run


def _error(run: IntakeRun, sample: str) -> None:
    run.errors += 1
    if len(run.error_samples) < 5:
        run.error_samples.append(sample)


async def count_missing_workflows(client: Client, order_ids: list[str]) -> int:
    """How many of ``order_ids`` have no order workflow in Temporal (described by id)."""
    gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def missing(order_id: str) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(order_workflow_id(order_id)).describe()
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return True
                raise
            return False

    return sum(await asyncio.gather(*(missing(order_id) for order_id in order_ids)))


async def terminate_orders(client: Client, order_ids: list[str]) -> None:
    """End the bench's own order workflows, so they do not resume with the next stack on var/."""
    gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def terminate(order_id: str) -> None:
        async with gate:
            with contextlib.suppress(RPCError):  # gone or already closed
                await client.get_workflow_handle(order_workflow_id(order_id)).terminate("bench intake run")

    await asyncio.gather(*(terminate(order_id) for order_id in order_ids))


async def terminate_leftovers(client: Client) -> None:
    """Terminate bench orders still running from an interrupted run, so they add no load."""
    query = f'WorkflowId STARTS_WITH "{order_workflow_id(ID_PREFIX)}" AND ExecutionStatus = "Running"'
    with contextlib.suppress(RPCError):
        async for execution in client.list_workflows(query):
            with contextlib.suppress(RPCError):
                await client.get_workflow_handle(execution.id).terminate("bench leftover")


async def intake_scenario(
    client: Client, receiver_url: str, secret: str, *, levels: list[int], seconds: float
) -> list[dict[str, Any]]:
    """One intake run per sender count, each followed by its durability check."""
    run_tag = str(int(time.time()))  # Temporal's history outlives a run: ids must be new each time
    results = []
    acked: list[list[str]] = []
    for senders in levels:
        run = await run_intake(receiver_url, secret, senders=senders, seconds=seconds, run_tag=run_tag)
        run.missing = await count_missing_workflows(client, run.acked)
        acked.append(run.acked)
        results.append(run.summary())
    for run_orders in acked:
        await terminate_orders(client, run_orders)
    return results
