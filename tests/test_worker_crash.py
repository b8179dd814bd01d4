"""A worker killed in the middle of an order: another worker finishes it, and M3 gets one order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from temporalio.client import WorkflowExecutionStatus

from clients.m3 import M3Client, load_ionapi
from sandbox.bng.demo_data import make_demo_orders
from tests.conftest import Stack
from workflows.models import OrderToCashInput, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

ROOT = Path(__file__).resolve().parent.parent
CRASH_QUEUE = "m3bng-crash-test"


def start_worker(stack: Stack) -> subprocess.Popen[bytes]:
    s = stack.settings
    env = {
        **os.environ,
        "M3BNG_TEMPORAL_ADDRESS": s.temporal_address,
        "M3BNG_TASK_QUEUE": CRASH_QUEUE,
        "M3BNG_M3_IONAPI": str(s.m3_ionapi),
        "M3BNG_BNG_BASE_URL": s.bng_base_url,
        "M3BNG_BNG_WEBHOOK_SECRET": s.bng_webhook_secret.get_secret_value(),
        "M3BNG_BNG_CLIENT_SECRET": s.bng_client_secret.get_secret_value(),
        "DATABASE_URL": s.database_url,
        "M3BNG_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env)


async def test_worker_killed_mid_order_completes_exactly_once(stack: Stack) -> None:
    order = make_demo_orders(1, seed=7, start_number=30081)[0]
    worker = start_worker(stack)
    try:
        # Slow M3 down so that the kill lands while an M3 call is in flight.
        await stack.m3.post("/_sandbox/knobs", json={"latency_ms": 1500})
        await stack.client.start_workflow(
            OrderToCashWorkflow.run,
            OrderToCashInput(
                bng_order_id=order.OrderID, payload=order.model_dump(mode="json"), calls="local"
            ),
            id=order_workflow_id(order.OrderID),
            task_queue=CRASH_QUEUE,
        )
        # BNG holds the order too; its own webhook joins the running workflow.
        await stack.place_order(order.model_dump(mode="json", exclude_none=True))

        for _ in range(800):  # customer creation with look-first reads takes a while at 1.5 s a call
            heads = [
                c
                for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
                if c["record"].get("CUOR") == order.OrderID
            ]
            if heads:
                break
            await asyncio.sleep(0.05)
        assert heads, f"the worker never reached M3: {await stack.view(order.OrderID)}"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        # No worker is left to answer queries; the server still holds the running order.
        described = await stack.client.get_workflow_handle(order_workflow_id(order.OrderID)).describe()
        assert described.status == WorkflowExecutionStatus.RUNNING

        await stack.m3.post("/_sandbox/knobs", json={"latency_ms": 0})
        worker = start_worker(stack)
        # Queries wait until the server gives up on the dead worker's sticky queue: allow for it.
        view = await stack.drive_to_paid(order.OrderID, timeout=120)
    finally:
        await stack.m3.post("/_sandbox/knobs", json={"latency_ms": 0})
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=15)

    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order.OrderID
    ]
    assert len([c for c in heads if c["outcome"] == "ok"]) == 1
    async with M3Client(load_ionapi(stack.settings.m3_ionapi), cono=stack.settings.m3_cono) as m3:
        rows = await m3.execute("OIS100MI", "LstHead", {"CUNO": view.m3_customer_number}, maxrecs=0)
    assert [row["ORNO"] for row in rows if row.get("CUOR") == order.OrderID] == [view.m3_order_number]
