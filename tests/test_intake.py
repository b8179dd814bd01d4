"""Durable intake (starter/intake.py): an order.created acked from the inbox gets its workflow,
a quiet receiver still starts it before the ack, and an ack survives a receiver killed right after
it (the restarted receiver starts what the inbox still holds)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select

from sandbox.serve import free_port
from starter.bench_intake import workflow_start_times
from starter.deadletter_cli import open_store
from starter.receiver import create_receiver_app
from storage.models import DeadLetter, InboxEntry
from tests.conftest import Stack, signed
from tests.test_receiver_routing import event, park, runs_of
from workflows.models import CancelOrder, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def new_order_id() -> str:
    return f"BNG-IN-{uuid.uuid4().hex[:8]}"


def parking_order(order_id: str) -> dict[str, Any]:
    """An order.created whose workflow parks at once (invalid date): no M3 or BNG work."""
    return event("order.created", {"OrderID": order_id, "OrderDate": "not a date"})


@asynccontextmanager
async def receiver_with(stack: Stack, **intake: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A receiver app in this process with other intake settings, started (lifespan) and stopped."""
    app = create_receiver_app(stack.settings.model_copy(update=intake))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver") as client,
    ):
        yield client


async def post(receiver: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    content, headers = signed(body)
    response = await receiver.post("/webhooks/bng", content=content, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def wait_for_workflows(stack: Stack, order_ids: list[str], timeout: float = 60) -> None:
    missing = list(order_ids)
    deadline = asyncio.get_running_loop().time() + timeout
    while missing and asyncio.get_running_loop().time() < deadline:
        started = await workflow_start_times(stack.client, missing)
        missing = [order_id for order_id, at in started.items() if at is None]
        await asyncio.sleep(0.2)
    assert missing == [], f"acked orders without a workflow: {missing}"


def inbox_rows(stack: Stack, order_ids: list[str]) -> int:
    with open_store(stack.settings)() as session:
        query = select(InboxEntry.id).where(InboxEntry.business_key.in_(order_ids))
        return len(session.scalars(query).all())


async def wait_for_empty_inbox(stack: Stack, order_ids: list[str], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while inbox_rows(stack, order_ids) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert inbox_rows(stack, order_ids) == 0


async def terminate(stack: Stack, order_ids: list[str]) -> None:
    for order_id in order_ids:
        await stack.client.get_workflow_handle(order_workflow_id(order_id)).terminate("intake test")


async def test_under_load_an_order_is_acked_from_the_inbox_and_started_just_after(stack: Stack) -> None:
    order_ids = [new_order_id() for _ in range(5)]
    async with receiver_with(stack, intake_direct_starts=0) as receiver:
        acks = [await post(receiver, parking_order(order_id)) for order_id in order_ids]
        assert [ack["outcome"] for ack in acks] == ["accepted"] * 5, acks
        assert [ack["workflow_id"] for ack in acks] == [order_workflow_id(order_id) for order_id in order_ids]
        await wait_for_workflows(stack, order_ids)
        await wait_for_empty_inbox(stack, order_ids)
    await terminate(stack, order_ids)


async def test_a_quiet_receiver_starts_directly_and_a_busy_one_queues(stack: Stack) -> None:
    order_ids = [new_order_id() for _ in range(12)]
    async with receiver_with(stack, intake_direct_starts=1) as receiver:
        acks = await asyncio.gather(*(post(receiver, parking_order(order_id)) for order_id in order_ids))
        outcomes = {ack["outcome"] for ack in acks}
        # One start in flight at a time: the others, sent meanwhile, go through the inbox.
        assert outcomes == {"started", "accepted"}, acks
        await wait_for_workflows(stack, order_ids)
        await wait_for_empty_inbox(stack, order_ids)
        # Quiet again: the next order is started before its ack.
        late = new_order_id()
        assert (await post(receiver, parking_order(late)))["outcome"] == "started"
    await terminate(stack, [*order_ids, late])


async def test_a_redelivery_of_a_completed_order_through_the_inbox_starts_nothing(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order_id = new_order_id()
    await park(stack, receiver, order_id)
    handle = stack.client.get_workflow_handle(order_workflow_id(order_id))
    await handle.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="test"))
    await handle.result()

    async with receiver_with(stack, intake_direct_starts=0) as busy:
        assert (await post(busy, parking_order(order_id)))["outcome"] == "accepted"
        await wait_for_empty_inbox(stack, [order_id])
    assert len(await runs_of(stack, order_workflow_id(order_id))) == 1
    with open_store(stack.settings)() as session:  # a duplicate, not a dead letter
        assert session.scalars(select(DeadLetter).where(DeadLetter.business_key == order_id)).all() == []


def receiver_process(stack: Stack, port: int, **intake: str) -> subprocess.Popen[bytes]:
    settings = stack.settings
    env = {
        **os.environ,
        "M3BNG_TEMPORAL_ADDRESS": settings.temporal_address,
        "M3BNG_TASK_QUEUE": settings.task_queue,
        "DATABASE_URL": settings.database_url,
        "M3BNG_RECEIVER_PORT": str(port),
        "M3BNG_BNG_WEBHOOK_SECRET": settings.bng_webhook_secret.get_secret_value(),
        "M3BNG_IMS_SHARED_SECRET": settings.ims_shared_secret.get_secret_value(),
        "M3BNG_METRICS_TOKEN": settings.metrics_token.get_secret_value(),
        "M3BNG_LOG_LEVEL": "WARNING",
        **{f"M3BNG_{name.upper()}": value for name, value in intake.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "starter.receiver"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as http:
        while asyncio.get_running_loop().time() < deadline:
            assert process.poll() is None, "the receiver exited"
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"no receiver at {url}")


async def test_every_ack_survives_a_receiver_killed_right_after_it(stack: Stack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    intake = {"intake_direct_starts": "0", "intake_lease_seconds": "1"}
    order_ids = [new_order_id() for _ in range(100)]

    # A receiver that only acks (no forwarders), so that every ack is still in the inbox when it dies.
    first = receiver_process(stack, port, **intake, intake_forwarders="0")
    try:
        await wait_until_up(url, first)
        gate = asyncio.Semaphore(32)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def send(order_id: str) -> str:
                content, headers = signed(parking_order(order_id))
                async with gate:
                    response = await http.post("/webhooks/bng", content=content, headers=headers)
                assert response.status_code == 202, response.text
                return str(response.json()["outcome"])

            outcomes = await asyncio.gather(*(send(order_id) for order_id in order_ids))
        first.send_signal(signal.SIGKILL)  # no shutdown: what was acked must be in the store
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert set(outcomes) == {"accepted"}
    assert inbox_rows(stack, order_ids) == len(order_ids)
    assert await workflow_start_times(stack.client, order_ids[:3]) == dict.fromkeys(order_ids[:3])

    second = receiver_process(stack, port, **intake, intake_forwarders="2")
    try:
        await wait_until_up(url, second)
        await wait_for_workflows(stack, order_ids)
        await wait_for_empty_inbox(stack, order_ids)
    finally:
        second.terminate()
        second.wait()
    await terminate(stack, order_ids)
