"""The intake scenario of ``make bench``: signed ``order.created`` webhooks for *new* orders.

Concurrent senders post valid, signed BNG order webhooks (bodies from ``make_demo_orders``, each
with a fresh OrderID) straight at the receiver for a fixed time. Each ack's latency runs from the
moment its request is sent; a non-2xx answer or a transport error counts as an error. Afterwards
every acknowledged order must get its workflow in Temporal (described by id): the ack promises
that the order is durable, so ``missing`` must be 0. Under load the receiver acks from its intake
inbox and starts the workflows just after (``starter/intake.py``), so the check waits for the
inbox to drain, up to ``drain_timeout``, and reports the drain time of each order (its
workflow's start time minus its ack; 0 when it was started before the ack). Each level's orders
are then terminated: they are test data, and would otherwise load the next level and resume with
the next stack.

``python -m starter.bench_intake`` runs this scenario alone on the embedded stack (fixed ports:
run it under ``flock /tmp/m3bng-stack.lock``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import h11
import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.bng.webhooks import build_headers
from clients.logging import configure_logging
from clients.temporal_connection import connect
from sandbox.bng.demo_data import make_demo_orders
from settings import get_settings
from starter.secrets import with_demo_secrets
from starter.stack import EmbeddedStack
from workflows.models import order_workflow_id

# Distinct bodies to draw from; each request gets its own OrderID on one of them.
TEMPLATE_COUNT = 200
DESCRIBE_CONCURRENCY = 32
REQUEST_TIMEOUT_SECONDS = 30.0
CONTENT_TYPE = ("content-type", "application/json")
# The durability check waits this long at most for the receiver's inbox to drain.
DRAIN_TIMEOUT_SECONDS = 120.0
DRAIN_POLL_SECONDS = 1.0
DESCRIBE_CHUNK = 256
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
    acked_at: list[float] = field(default_factory=list)  # wall clock of each 2xx (unix seconds)
    latencies_ms: list[float] = field(default_factory=list)  # of the 2xx answers
    outcomes: Counter[str] = field(default_factory=Counter)  # started (direct), accepted (inbox)...
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    missing: int | None = None
    drain_ms: list[float] = field(default_factory=list)  # ack -> workflow started, per order
    drain_wait_seconds: float | None = None  # after the last ack, until every workflow was there

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
            "ack_outcomes": dict(self.outcomes),
            "acked_without_workflow": self.missing,
            "drain_ms": percentiles(self.drain_ms, digits=1),
            "drain_wait_seconds": self.drain_wait_seconds,
        }


def _templates() -> list[dict[str, Any]]:
    orders = make_demo_orders(TEMPLATE_COUNT, seed=7, start=datetime.now(UTC))
    return [order.model_dump(mode="json", exclude_none=True) for order in orders]


class _Sender:
    """One keep-alive HTTP/1.1 connection of the load generator, spoken with h11 straight over
    asyncio streams: httpx costs about 3 ms of CPU per request on this machine, h11 alone about
    0.2 ms, and the generator shares the two cores with the stack it measures."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.h11 = h11.Connection(h11.CLIENT)

    async def post(self, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        if self.stream is None:
            self.stream = await asyncio.open_connection(self.host, self.port)
            self.h11 = h11.Connection(h11.CLIENT)
        reader, writer = self.stream
        request = h11.Request(
            method="POST",
            target=target,
            headers=[("host", self.host), ("content-length", str(len(body))), *headers],
        )
        writer.write(
            self.h11.send(request) + self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        )
        status, content = 0, b""
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("the receiver closed the connection")
                self.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, content

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


async def run_intake(
    receiver_url: str, secret: str, *, senders: int, seconds: float, run_tag: str
) -> IntakeRun:
    """``senders`` concurrent senders (one connection each) post new-order webhooks for ``seconds``."""
    url = httpx.URL(f"{receiver_url}/webhooks/bng")
    templates = _templates()
    numbers = itertools.count(1)
    run = IntakeRun(senders=senders, seconds=seconds)

    async def send(deadline: float) -> None:
        connection = _Sender(url.host, url.port or 80)
        try:
            while time.monotonic() < deadline:
                number = next(numbers)
                order_id = f"{ID_PREFIX}{run_tag}-{senders}-{number}"
                data = {**templates[number % len(templates)], "OrderID": order_id}
                event = {"type": "order.created", "timestamp": datetime.now(UTC).isoformat(), "data": data}
                body = json.dumps(event, separators=(",", ":")).encode()
                headers = [*build_headers(secret, f"msg_{order_id}", body).items(), CONTENT_TYPE]
                sent = time.perf_counter()
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                        status, content = await connection.post(url.raw_path.decode(), headers, body)
                except (OSError, TimeoutError, h11.ProtocolError) as error:
                    connection.close()
                    _error(run, f"{type(error).__name__}: {error}")
                    continue
                took_ms = (time.perf_counter() - sent) * 1000
                if 200 <= status < 300:
                    run.acked.append(order_id)
                    run.acked_at.append(time.time())
                    run.latencies_ms.append(took_ms)
                    run.outcomes[json.loads(content).get("outcome", "?")] += 1
                else:
                    _error(run, f"{status}: {content[:120]!r}")
        finally:
            connection.close()

    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(send(deadline) for _ in range(senders)))
    run.elapsed = time.monotonic() - started
    return run


def _error(run: IntakeRun, sample: str) -> None:
    run.errors += 1
    if len(run.error_samples) < 5:
        run.error_samples.append(sample)


async def workflow_start_times(client: Client, order_ids: list[str]) -> dict[str, datetime | None]:
    """When each order's workflow started (described by id); None for one with no workflow."""
    gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

    async def start_time(order_id: str) -> datetime | None:
        async with gate:
            try:
                return (await client.get_workflow_handle(order_workflow_id(order_id)).describe()).start_time
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise

    found = await asyncio.gather(*(start_time(order_id) for order_id in order_ids))
    return dict(zip(order_ids, found, strict=True))


async def check_durability(client: Client, run: IntakeRun, *, timeout: float) -> None:
    """Wait (up to ``timeout``) until every acked order has its workflow; set ``run.missing``,
    ``run.drain_ms`` and ``run.drain_wait_seconds``."""
    waiting = dict(zip(run.acked, run.acked_at, strict=True))  # in ack order, as the inbox drains
    began = time.monotonic()
    while waiting:
        timed_out = time.monotonic() - began > timeout
        # Oldest first, a chunk at a time: describing thousands each pass would slow the drain.
        chunk = list(waiting) if timed_out else list(itertools.islice(waiting, DESCRIBE_CHUNK))
        found = 0
        for order_id, started in (await workflow_start_times(client, chunk)).items():
            if started is not None:
                run.drain_ms.append(max(0.0, (started.timestamp() - waiting.pop(order_id)) * 1000))
                found += 1
        if timed_out:
            break
        if found < len(chunk):
            await asyncio.sleep(DRAIN_POLL_SECONDS)
    run.missing = len(waiting)
    run.drain_wait_seconds = round(time.monotonic() - began, 2)


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
    client: Client,
    receiver_url: str,
    secret: str,
    *,
    levels: list[int],
    seconds: float,
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS,
) -> list[dict[str, Any]]:
    """One intake run per sender count, each followed by its durability check."""
    run_tag = str(int(time.time()))  # Temporal's history outlives a run: ids must be new each time
    results = []
    for senders in levels:
        run = await run_intake(receiver_url, secret, senders=senders, seconds=seconds, run_tag=run_tag)
        await check_durability(client, run, timeout=drain_timeout)
        results.append(run.summary())
        await terminate_orders(client, run.acked)
    return results


async def _main(levels: list[int], seconds: float) -> list[dict[str, Any]]:
    settings = with_demo_secrets(get_settings())
    stack = EmbeddedStack(settings)
    stack.start()
    try:
        client = await connect(settings)
        await terminate_leftovers(client)
        secret = settings.bng_webhook_secret.get_secret_value()
        return await intake_scenario(client, stack.receiver_url, secret, levels=levels, seconds=seconds)
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The intake scenario alone, on the embedded stack.")
    parser.add_argument("--senders", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    configure_logging("WARNING")
    print(json.dumps(asyncio.run(_main(args.senders, args.seconds)), indent=2))
