"""``make bench``: order-to-cash throughput and latency on the embedded stack.

Places N orders in the BNG sandbox at once and measures, from each workflow's own timeline:
webhook → order confirmed in M3, and webhook → Paid (which includes the M3 sandbox's status
clock and the payment round trip), plus the overall rate. Results go to stdout and var/bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

from clients.bng.client import BngClient
from clients.bng.webhooks import build_headers
from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import Settings, get_settings
from starter.demo import all_final, observe_and_pay, place_orders
from starter.secrets import with_demo_secrets
from starter.stack import VAR, EmbeddedStack
from workflows.models import OrderView, Stage


def _seconds(view: OrderView, step: str) -> float | None:
    start = view.timeline[0].at
    return next(((e.at - start).total_seconds() for e in view.timeline if e.step == step), None)


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    if not values:
        return {}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {
        "p50": round(pick(0.50), 3),
        "p95": round(pick(0.95), 3),
        "max": round(values[-1], 3),
        "mean": round(statistics.fmean(values), 3),
    }


async def bench(orders: int, step_seconds: float, timeout: float) -> dict[str, object]:
    settings = with_demo_secrets(get_settings())  # var/secrets.env, for every process of the stack
    stack = EmbeddedStack(settings, lifecycle_seconds=step_seconds)
    stack.start()
    try:
        client = await connect(settings)
        async with BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=settings.bng_client_secret.get_secret_value(),
        ) as bng:
            started = time.monotonic()
            order_ids = await place_orders(bng, orders)
            placed = time.monotonic() - started
            views: dict[str, OrderView | None] = dict.fromkeys(order_ids)
            paying: set[str] = set()
            while time.monotonic() - started < timeout and not all_final(views):
                await observe_and_pay(client, bng, views, paying)
                await asyncio.sleep(0.25)
            elapsed = time.monotonic() - started
            ack_ms = await receiver_ack_latency(settings, order_ids)
    finally:
        stack.stop()
    paid = [v for v in views.values() if v is not None and v.stage == Stage.PAID]
    created = [s for v in paid if (s := _seconds(v, Stage.ORDER_CREATED.value)) is not None]
    to_paid = [s for v in paid if (s := _seconds(v, Stage.PAID.value)) is not None]
    return {
        "orders": orders,
        "paid": len(paid),
        "m3_status_step_seconds": step_seconds,
        "placing_seconds": round(placed, 2),
        "total_seconds": round(elapsed, 2),
        "orders_per_minute": round(len(paid) / elapsed * 60, 1),
        "webhook_to_m3_order_seconds": _percentiles(created),
        "webhook_to_paid_seconds": _percentiles(to_paid),
        "receiver_ack_milliseconds": _percentiles(ack_ms),
    }


async def receiver_ack_latency(settings: Settings, order_ids: list[str], count: int = 200) -> list[float]:
    """How fast the receiver answers a signed order webhook, timed sequentially.

    Re-sends signed order.created events for the finished orders: each goes through signature
    verification, envelope parsing and the Temporal start call, which refuses it as a duplicate.
    """
    secret = settings.bng_webhook_secret.get_secret_value()
    url = f"http://{settings.receiver_host}:{settings.receiver_port}/webhooks/bng"
    timings = []
    async with httpx.AsyncClient() as http:
        for i in range(count):
            event = {
                "type": "order.created",
                "timestamp": "2026-11-24T00:00:00Z",
                "data": {"OrderID": order_ids[i % len(order_ids)]},
            }
            body = json.dumps(event).encode()
            headers = {**build_headers(secret, f"msg_bench_{i}", body), "content-type": "application/json"}
            sent = time.perf_counter()
            response = await http.post(url, content=body, headers=headers)
            timings.append((time.perf_counter() - sent) * 1000)
            response.raise_for_status()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--m3-step-seconds", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    configure_logging("WARNING")
    result = asyncio.run(bench(args.orders, args.m3_step_seconds, args.timeout))
    Path(VAR / "bench.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
