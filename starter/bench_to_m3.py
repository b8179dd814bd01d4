"""The to-M3 scenario of ``make bench``: webhook -> confirmed M3 order, for N orders placed at once.

N orders of three lines each are placed in the BNG sandbox at once (concurrent API calls); each
one's latency runs from the moment BNG emitted its ``order.created`` webhook (the sandbox's
delivery log) to its ``OrderCreated`` step on the timeline. The M3 sandbox's status clock is
switched off meanwhile, so the orders stop at OrderCreated instead of moving on through the
lifecycle; afterwards the bench terminates their workflows and deletes their M3 orders
(``OIS100MI/DelHead``, allowed below status 33), so nothing of them comes back with the clock.
The M3 sandbox's call log gives the MI calls per order (and the 429s under a quota).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.service import RPCError

from clients.bng.client import BngClient
from clients.bng.models import Order
from clients.m3 import M3Client, M3Error, M3Transaction
from sandbox.bng.demo_data import make_demo_orders
from settings import Settings
from starter.bench_intake import percentiles, terminate_orders
from workflows.models import OrderView, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

LINES_PER_ORDER = 3
PLACE_CONCURRENCY = 32
QUERY_CONCURRENCY = 16
POLL_SECONDS = 1.0
DONE_STAGES = (Stage.ORDER_CREATED.value, Stage.NEEDS_ATTENTION.value)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def step_at(view: OrderView, step: str) -> datetime | None:
    return next((aware(e.at) for e in view.timeline if e.step == step), None)


async def webhook_sent_at(bng_url: str) -> dict[str, tuple[datetime, datetime | None]]:
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
                aware(datetime.fromisoformat(entry["created_at"])),
                aware(datetime.fromisoformat(delivered)) if delivered else None,
            )
    return sent


async def history_lengths(client: Client, order_ids: list[str]) -> list[float]:
    lengths = []
    for order_id in order_ids:
        try:
            described = await client.get_workflow_handle(order_workflow_id(order_id)).describe()
        except RPCError:
            continue
        lengths.append(float(described.raw_description.workflow_execution_info.history_length))
    return lengths


class WorkerMetrics:
    """The worker's ``/metrics``: its M3 HTTP requests (``m3bng_m3_calls``, one per attempt), which
    is what a gateway quota counts (a bulk request of three transactions is one request)."""

    def __init__(self, url: str, token: str) -> None:
        self._url, self._token = url, token

    async def m3_requests(self) -> Counter[str]:
        """Requests so far by outcome (ok, mi_error, rate_limited...); empty if unreadable."""
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.get(self._url, headers={"Authorization": f"Bearer {self._token}"})
                response.raise_for_status()
        except httpx.HTTPError:
            return Counter()
        requests: Counter[str] = Counter()
        for family in text_string_to_metric_families(response.text):
            if family.name == "m3bng_m3_calls":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        requests[sample.labels["outcome"]] += int(sample.value)
        return requests


class M3SandboxAdmin:
    """The M3 sandbox's ``/_sandbox`` knobs, config and call log, as the bench uses them."""

    def __init__(self, m3_url: str) -> None:
        self._url = f"{m3_url}/_sandbox"

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{self._url}/{path}", json=body)
            response.raise_for_status()
            return response.json()

    async def knobs(self, **changes: Any) -> Any:
        """Partial update; None puts a knob back to its default (off)."""
        return await self._post("knobs", changes)

    async def status_clock(self, seconds: float | None) -> None:
        """One lifecycle step per ``seconds`` for every open order; None stops the clock."""
        await self._post("config", {"lifecycle_interval_seconds": seconds})

    async def calls(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.get(f"{self._url}/calls")
            response.raise_for_status()
            calls: list[dict[str, Any]] = response.json()
            return calls

    async def last_call(self) -> int:
        return max((call["seq"] for call in await self.calls()), default=0)


def bench_orders(count: int, start_number: int) -> list[Order]:
    """``count`` demo orders of ``LINES_PER_ORDER`` lines, numbered BNG-<start_number>... in a row
    (BNG ids stay contiguous, as ``place_orders`` counts on): drawn from a larger demo set."""
    seed = int(time.time())
    chosen: list[Order] = []
    while len(chosen) < count:
        pool = make_demo_orders(4 * count, seed=seed, start_number=start_number)
        chosen += [order for order in pool if len(order.Lines) == LINES_PER_ORDER]
        seed += 1
    return [
        order.model_copy(update={"OrderID": f"BNG-{start_number + index}"})
        for index, order in enumerate(chosen[:count])
    ]


async def place_at_once(bng: BngClient, count: int) -> list[str]:
    existing = 0
    async for _ in bng.iter_orders():
        existing += 1
    orders = bench_orders(count, start_number=10001 + existing)
    gate = asyncio.Semaphore(PLACE_CONCURRENCY)

    async def place(order: Order) -> None:
        async with gate:
            await bng.create_order(order, idempotency_key=f"bench-{order.OrderID}")

    await asyncio.gather(*(place(order) for order in orders))
    return [order.OrderID for order in orders]


async def wait_until_done(client: Client, since: datetime, count: int, timeout: float) -> None:
    """Until ``count`` orders started since ``since`` stand at OrderCreated or NeedsAttention
    (their OrderStage search attribute), or ``timeout``; one cheap visibility count per poll."""
    stages = ", ".join(f'"{stage}"' for stage in DONE_STAGES)
    query = (
        f'WorkflowType = "OrderToCashWorkflow" AND StartTime >= "{since.isoformat()}" '
        f"AND OrderStage IN ({stages})"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(RPCError):
            if (await client.count_workflows(query)).count >= count:
                return
        await asyncio.sleep(POLL_SECONDS)


async def read_views(client: Client, order_ids: list[str]) -> dict[str, OrderView | None]:
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)

    async def view(order_id: str) -> OrderView | None:
        async with gate:
            try:
                handle = client.get_workflow_handle(order_workflow_id(order_id))
                return await handle.query(OrderToCashWorkflow.status)
            except RPCError:
                return None

    views = await asyncio.gather(*(view(order_id) for order_id in order_ids))
    return dict(zip(order_ids, views, strict=True))


async def remove_orders(client: Client, settings: Settings, views: dict[str, OrderView | None]) -> int:
    """Terminate the bench's order workflows and delete their (status 22) M3 orders; how many
    M3 orders were deleted. Test data only: a second attempt on a deleted order just fails."""
    await terminate_orders(client, list(views))
    ornos = [view.m3_order_number for view in views.values() if view and view.m3_order_number]
    if not ornos:
        return 0
    try:
        async with M3Client.from_ionapi_file(
            settings.m3_ionapi, cono=settings.m3_cono, divi=settings.m3_divi
        ) as m3:
            results = await m3.bulk(
                "OIS100MI", [M3Transaction("DelHead", {"ORNO": orno}) for orno in ornos], write=True
            )
    except M3Error:
        return 0
    return sum(result.ok for result in results)


def order_figures(
    views: dict[str, OrderView | None], sent: dict[str, tuple[datetime, datetime | None]], stage: str
) -> tuple[list[float], float]:
    """Seconds from each order's webhook emit (or, without the log, its first step) to ``stage``,
    and the span from the first emit to the last arrival at ``stage``."""
    latencies: list[float] = []
    origins: list[datetime] = []
    arrivals: list[datetime] = []
    for order_id, view in views.items():
        if view is None or (at := step_at(view, stage)) is None:
            continue
        origin = sent[order_id][0] if order_id in sent else aware(view.timeline[0].at)
        latencies.append((at - origin).total_seconds())
        origins.append(origin)
        arrivals.append(at)
    span = (max(arrivals) - min(origins)).total_seconds() if arrivals else 0.0
    return latencies, span


def call_figures(calls: list[dict[str, Any]], orders: int) -> dict[str, Any]:
    """MI calls per order (M3 answered: ok/nok) and the gateway's refusals (429 and other faults)."""
    outcomes = Counter(call["outcome"] for call in calls)
    answered = outcomes["ok"] + outcomes["nok"] + outcomes["lost_answer"]
    throttled = sum(1 for call in calls if call["outcome"] == "fault" and call.get("status") == 429)
    return {
        "m3_calls": answered,
        "m3_calls_per_order": round(answered / orders, 2) if orders else 0.0,
        "m3_calls_by_transaction": dict(
            Counter(f"{c['program']}/{c['transaction']}" for c in calls if c["outcome"] != "fault")
        ),
        "m3_throttled_429": throttled,
        "m3_other_faults": outcomes["fault"] - throttled,
    }


def request_figures(requests: Counter[str] | None, orders: int) -> dict[str, Any]:
    """The worker's M3 HTTP requests per order, those the gateway let through (not 429)."""
    if requests is None:
        return {"m3_requests_per_order": None}
    admitted = sum(count for outcome, count in requests.items() if outcome != "rate_limited")
    return {
        "m3_requests": dict(requests),
        "m3_requests_per_order": round(admitted / orders, 2) if orders else None,
    }


async def to_m3_scenario(
    client: Client,
    bng: BngClient,
    settings: Settings,
    *,
    m3_url: str,
    bng_url: str,
    orders: int,
    timeout: float,
    label: str,
    metrics: WorkerMetrics | None = None,
) -> dict[str, Any]:
    """``orders`` orders placed at once; the figures from webhook emit to the confirmed M3 order.
    ``metrics``: the only worker's endpoint, for the M3 requests per order (None with several)."""
    m3 = M3SandboxAdmin(m3_url)
    await m3.status_clock(None)
    first_call = await m3.last_call()
    requests_before = await metrics.m3_requests() if metrics else Counter()
    since = datetime.now(UTC)
    began = time.monotonic()
    order_ids = await place_at_once(bng, orders)
    placing = time.monotonic() - began
    await wait_until_done(client, since, orders, timeout)
    views = await read_views(client, order_ids)
    calls = [call for call in await m3.calls() if call["seq"] > first_call]
    requests = (await metrics.m3_requests() - requests_before) if metrics else None
    sent = await webhook_sent_at(bng_url)
    latencies, span = order_figures(views, sent, Stage.ORDER_CREATED.value)
    confirmed = [oid for oid, view in views.items() if view and step_at(view, Stage.ORDER_CREATED.value)]
    parked = sum(1 for view in views.values() if view and view.stage == Stage.NEEDS_ATTENTION)
    result = {
        "label": label,
        "orders": orders,
        "confirmed": len(confirmed),
        "parked": parked,
        "not_confirmed": orders - len(confirmed),
        "latency_origin": "bng webhook emitted" if sent else "workflow first step (no delivery log)",
        "placing_seconds": round(placing, 2),
        "seconds": round(span, 2),
        "orders_per_second": round(len(confirmed) / span, 2) if span else 0.0,
        "webhook_to_m3_order_seconds": percentiles(latencies),
        "history_events_per_order": percentiles(await history_lengths(client, confirmed), digits=0),
        **call_figures(calls, len(confirmed)),
        **request_figures(requests, len(confirmed)),
    }
    began = time.monotonic()
    result["m3_orders_deleted"] = await remove_orders(client, settings, views)
    result["cleanup_seconds"] = round(time.monotonic() - began, 2)
    return result
