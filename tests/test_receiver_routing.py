"""Routing at the receiver: what it cannot place becomes a dead letter (202, no workflow), a
replay goes through the same routing, and a failed order can be started again."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from clients.bng.models import WebhookEventType
from starter import document_routing
from starter.cli import _parser
from starter.deadletter_cli import open_store, run_deadletter
from starter.routing import ACKNOWLEDGED_EVENTS, SUBSCRIBED_EVENTS
from storage.models import DeadLetter
from tests.conftest import Stack, bod_xml, ims_message, signed
from tests.test_order_to_cash import demo_order
from workflows.models import CancelOrder, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

NOW = "2026-11-24T10:00:00Z"


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "timestamp": NOW, "data": data}


def new_order_id() -> str:
    return f"BNG-DL-{uuid.uuid4().hex[:8]}"


def payment(order_id: str) -> dict[str, Any]:
    return event(
        "payment.captured",
        {
            "PaymentID": f"PAY-{uuid.uuid4().hex[:8]}",
            "OrderID": order_id,
            "Amount": "10.00",
            "Currency": "EUR",
            "CapturedAt": NOW,
            "Method": "card",
        },
    )


async def post_webhook(receiver: httpx.AsyncClient, body: dict[str, Any] | bytes) -> dict[str, Any]:
    content, headers = signed(body)
    response = await receiver.post("/webhooks/bng", content=content, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def dead_letter(stack: Stack, dead_letter_id: int) -> DeadLetter:
    with open_store(stack.settings)() as session:
        row = session.scalars(select(DeadLetter).where(DeadLetter.id == dead_letter_id)).one()
        session.expunge(row)
        return row


async def runs_of(stack: Stack, workflow_id: str) -> list[Any]:
    return [wf async for wf in stack.client.list_workflows(f'WorkflowId = "{workflow_id}"')]


async def park(stack: Stack, receiver: httpx.AsyncClient, order_id: str) -> None:
    """A running order that does nothing: its payload is invalid, so it waits for an operator."""
    ack = await post_webhook(
        receiver, event("order.created", {"OrderID": order_id, "OrderDate": "not a date"})
    )
    assert ack["outcome"] == "started", ack
    await stack.wait_for_stage(order_id, Stage.NEEDS_ATTENTION)


async def cli(stack: Stack, *argv: str) -> int:
    args: argparse.Namespace = _parser().parse_args(["deadletter", *argv])
    return await run_deadletter(args, stack.settings, open_store(stack.settings), stack.client)


# --- BNG webhooks ------------------------------------------------------------------------------


async def test_a_signed_body_that_is_no_event_is_dead_lettered_and_starts_nothing(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    raw = b'{"this is": "not an envelope"}'
    ack = await post_webhook(receiver, raw)
    assert ack["outcome"] == "dead-letter" and ack["dead_letter_id"], ack
    row = dead_letter(stack, ack["dead_letter_id"])
    assert row.source == "bng-webhook" and row.status == "open" and row.body == raw.decode()
    assert "webhook-id" in row.headers and "webhook-signature" not in row.headers
    assert [wf async for wf in stack.client.list_workflows('WorkflowId STARTS_WITH "order-unparsed-"')] == []


async def test_unknown_types_and_orders_without_a_usable_id_are_dead_lettered(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    for body in (
        event("refund.issued", {"OrderID": "BNG-1"}),
        event("order.created", {"Lines": []}),
        event("order.created", {"OrderID": "../../etc/passwd"}),
        event("customer.updated", {}),
    ):
        ack = await post_webhook(receiver, body)
        assert ack["outcome"] == "dead-letter", (body, ack)
        assert ack["workflow_id"] is None
    assert [wf async for wf in stack.client.list_workflows('WorkflowId STARTS_WITH "order-invalid-"')] == []


async def test_a_payment_before_its_order_is_dead_lettered_and_replayed_once_the_order_runs(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order_id = new_order_id()
    ack = await post_webhook(receiver, payment(order_id))
    assert ack["outcome"] == "dead-letter", ack
    dead_id = ack["dead_letter_id"]
    assert dead_letter(stack, dead_id).business_key == order_id

    # Replayed too early: dead again, still open, counted.
    assert await cli(stack, "replay", str(dead_id)) == 2
    row = dead_letter(stack, dead_id)
    assert (row.status, row.replay_count) == ("open", 1)
    assert row.last_replay_outcome and "no workflow" in row.last_replay_outcome

    await park(stack, receiver, order_id)
    assert await cli(stack, "replay", str(dead_id)) == 0
    row = dead_letter(stack, dead_id)
    assert (row.status, row.replay_count) == ("replayed", 2)
    assert await cli(stack, "replay", str(dead_id)) == 1  # closed now
    assert await cli(stack, "list", "--open") == 0
    assert await cli(stack, "show", str(dead_id)) == 0


async def test_discard_closes_a_dead_letter(stack: Stack, receiver: httpx.AsyncClient) -> None:
    ack = await post_webhook(receiver, event("refund.issued", {}))
    assert await cli(stack, "discard", str(ack["dead_letter_id"]), "--reason", "not ours") == 0
    row = dead_letter(stack, ack["dead_letter_id"])
    assert (row.status, row.discard_reason) == ("discarded", "not ours")


async def test_a_payment_for_a_closed_order_is_dead_lettered(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order_id = new_order_id()
    await park(stack, receiver, order_id)
    handle = stack.client.get_workflow_handle(order_workflow_id(order_id))
    await handle.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="test"))
    await handle.result()
    ack = await post_webhook(receiver, payment(order_id))
    assert ack["outcome"] == "dead-letter" and "completed" in ack["detail"], ack


async def test_a_redelivered_payment_of_a_paid_order_is_a_duplicate_not_a_dead_letter(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order = demo_order(33001)
    await stack.place_order(order)
    await stack.drive_to_paid(order["OrderID"])
    await stack.client.get_workflow_handle(order_workflow_id(order["OrderID"])).result()
    (taken,) = (await stack.bng.get(f"/api/v1/orders/{order['OrderID']}/payments")).json()["items"]

    again = event("payment.captured", {**taken, "OrderID": order["OrderID"]})
    ack = await post_webhook(receiver, again)
    assert ack["outcome"] == "duplicate", ack
    other = payment(order["OrderID"])  # a payment the order never took is kept for an operator
    assert (await post_webhook(receiver, other))["outcome"] == "dead-letter"


async def test_a_terminated_order_starts_again_and_a_completed_one_is_a_duplicate(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    terminated, completed = new_order_id(), new_order_id()
    for order_id in (terminated, completed):
        await park(stack, receiver, order_id)
    await stack.client.get_workflow_handle(order_workflow_id(terminated)).terminate(reason="test")
    done = stack.client.get_workflow_handle(order_workflow_id(completed))
    await done.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="test"))
    await done.result()

    again = event("order.created", {"OrderID": terminated, "OrderDate": "not a date"})
    assert (await post_webhook(receiver, again))["outcome"] == "started"
    # Visibility is eventually consistent: the new run may take a moment to be listed.
    wanted = sorted([WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.TERMINATED])
    for _ in range(50):
        runs = await runs_of(stack, order_workflow_id(terminated))
        if sorted(run.status for run in runs) == wanted:
            break
        await asyncio.sleep(0.1)
    assert sorted(run.status for run in runs) == wanted
    # A redelivery while the new run is running joins it: never two running.
    assert (await post_webhook(receiver, again))["outcome"] in ("started", "duplicate")
    assert len(await runs_of(stack, order_workflow_id(terminated))) == 2

    redelivered = event("order.created", {"OrderID": completed, "OrderDate": "not a date"})
    assert (await post_webhook(receiver, redelivered))["outcome"] == "duplicate"
    assert len(await runs_of(stack, order_workflow_id(completed))) == 1


# --- ION BODs ---------------------------------------------------------------------------------


async def post_bod(receiver: httpx.AsyncClient, xml: bytes) -> dict[str, Any]:
    body, headers = ims_message(xml)
    response = await receiver.post("/ims/v3/multipartMessage", content=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


async def test_bods_for_orders_m3bng_did_not_place_or_that_are_closed_are_dead_lettered(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    foreign = bod_xml(
        "SyncSalesOrder",
        **{"BNG-10001": new_order_id(), "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11": uuid.uuid4().hex},
    )
    ack = await post_bod(receiver, foreign)
    assert ack["outcome"] == "dead-letter", ack
    row = dead_letter(stack, ack["dead_letter_id"])
    assert (
        row.source == "ion-bod" and row.event_type == "SalesOrder" and b"<SyncSalesOrder" in row.body.encode()
    )
    assert "authorization" not in {name.lower() for name in row.headers}
    # ION redelivers the same BOD: the same dead letter.
    assert (await post_bod(receiver, foreign))["dead_letter_id"] == ack["dead_letter_id"]

    order_id = new_order_id()
    await park(stack, receiver, order_id)
    await stack.client.get_workflow_handle(order_workflow_id(order_id)).terminate(reason="test")
    closed = bod_xml(
        "SyncSalesOrder", **{"BNG-10001": order_id, "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11": uuid.uuid4().hex}
    )
    ack = await post_bod(receiver, closed)
    assert ack["outcome"] == "dead-letter" and "terminated" in ack["detail"], ack


async def test_status_bods_that_move_nothing_are_acknowledged_without_a_signal(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    """Confirmed (22) and invoiced (77) change nothing in the order's process: no workflow task."""
    order_id = new_order_id()
    await park(stack, receiver, order_id)

    def sales_order(status: str) -> bytes:
        return bod_xml(
            "SyncSalesOrder",
            **{
                "BNG-10001": order_id,
                "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11": uuid.uuid4().hex,
                ">33<": f">{status}<",
            },
        )

    for status in ("22", "77"):
        ack = await post_bod(receiver, sales_order(status))
        assert ack["outcome"] == "ignored" and f"status {status}" in ack["detail"], ack
    assert (await post_bod(receiver, sales_order("33")))["outcome"] == "signalled"
    history = await stack.client.get_workflow_handle(order_workflow_id(order_id)).fetch_history()
    signals = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(signals) == 1


async def test_status_bods_after_an_order_is_paid_are_stale_but_another_invoice_is_kept(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order = demo_order(33011)
    await stack.place_order(order)
    await stack.drive_to_paid(order["OrderID"])
    await stack.client.get_workflow_handle(order_workflow_id(order["OrderID"])).result()

    # ION keeps order per document only: a status BOD can come after the order is paid.
    late = bod_xml(
        "SyncSalesOrder",
        **{"BNG-10001": order["OrderID"], "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11": uuid.uuid4().hex},
    )
    ack = await post_bod(receiver, late)
    assert ack["outcome"] == "ignored" and "Paid" in ack["detail"], ack
    # An invoice for a finished order is news for an operator.
    invoice = bod_xml(
        "SyncInvoice",
        **{"BNG-10001": order["OrderID"], "1a7e3f42-6a0b-4e3c-b1d4-9f1f0e7b5c20": uuid.uuid4().hex},
    )
    assert (await post_bod(receiver, invoice))["outcome"] == "dead-letter"

    # A cancelled order's M3 order may still move: its BODs are kept for an operator.
    cancelled = new_order_id()
    await park(stack, receiver, cancelled)
    done = stack.client.get_workflow_handle(order_workflow_id(cancelled))
    await done.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="test"))
    await done.result()
    moving = bod_xml(
        "SyncSalesOrder", **{"BNG-10001": cancelled, "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11": uuid.uuid4().hex}
    )
    assert (await post_bod(receiver, moving))["outcome"] == "dead-letter"


async def test_a_payment_that_is_not_captured_is_dead_lettered(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    order_id = new_order_id()
    await park(stack, receiver, order_id)
    refunded = payment(order_id)
    refunded["data"]["Status"] = "Refunded"
    ack = await post_webhook(receiver, refunded)
    assert ack["outcome"] == "dead-letter" and "Refunded" in ack["detail"], ack
    assert (await stack.view(order_id)).timeline[-1].step != "Payment captured in BNG"


def test_the_endpoint_subscribes_to_what_m3bng_routes_and_not_to_echoes_of_its_writes() -> None:
    echoes = ACKNOWLEDGED_EVENTS | document_routing.ECHOES
    assert {"order.updated", "purchaseorder.status_changed"} <= echoes
    assert not echoes & set(SUBSCRIBED_EVENTS)
    assert {"order.created", "payment.captured", "inventory.updated", "payment.refunded"} <= set(
        SUBSCRIBED_EVENTS
    )
    assert set(SUBSCRIBED_EVENTS) | echoes == {event.value for event in WebhookEventType}
