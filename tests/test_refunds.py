"""BNG refunds (payment.refunded) booked in M3 as a GL entry through GLS840MI, end to end over HTTP.

M3 has no MI transaction for an AR refund: the refund becomes a voucher debiting refunds and
crediting card clearing, listed with its order (BngOrderId) and noted on the order's timeline.
Also the GL side of payments (setting payment_gl): M3's own, or a clearing journal.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from activities.journal_check import batch_key
from activities.m3_journals import PAYMENT_PREFIX
from tests.conftest import Stack
from tests.test_exactly_once import lose_answers, lost_answers
from tests.test_journals import start_document, vouchers, wait_for
from tests.test_order_to_cash import demo_order
from workflows.documents import DocumentResult, DocumentStage, DocumentType, document_workflow_id
from workflows.models import Stage
from workflows.refund import RefundWorkflow


async def book_refund(stack: Stack, refund: dict[str, Any]) -> WorkflowHandle[Any, DocumentResult]:
    await start_document(stack, RefundWorkflow, DocumentType.REFUND, refund["RefundID"], refund)
    return stack.client.get_workflow_handle(
        document_workflow_id(DocumentType.REFUND, refund["RefundID"]), result_type=DocumentResult
    )


def voucher_amounts(voucher: dict[str, Any]) -> list[tuple[str, Decimal]]:
    return sorted((row["AIT1"], Decimal(str(row["CUAM"]))) for row in voucher["lines"])


async def test_a_refund_is_posted_as_a_gl_entry_and_shows_on_the_running_order(stack: Stack) -> None:
    order = demo_order(38001)
    await stack.place_order(order)
    await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    # The customer paid in BNG (the order waits for its invoice) and is given part of it back.
    paid = await stack.bng.post(
        f"/api/v1/orders/{order['OrderID']}/payments", json={"Amount": "30.00", "Currency": "EUR"}
    )
    assert paid.status_code in (200, 201), paid.text
    payment_id = paid.json()["PaymentID"]
    refunded = await stack.bng.post(
        f"/api/v1/orders/{order['OrderID']}/payments/{payment_id}/refunds",
        json={
            "RefundID": f"RF-{uuid.uuid4().hex[:8].upper()}",
            "Amount": "12.50",
            "Currency": "EUR",
            "Reason": "damaged",
        },
    )
    assert refunded.status_code == 201, refunded.text
    refund = refunded.json()

    handle = await book_refund(stack, refund)
    view = await wait_for(handle, DocumentStage.POSTED)

    assert view.m3_number and view.m3_number.startswith("R")
    [voucher] = await vouchers(stack, view.m3_number)
    assert voucher_amounts(voucher) == [("1930", Decimal("-12.50")), ("3090", Decimal("12.50"))]
    await handle.result()
    order_view = await stack.view(order["OrderID"])
    notes = [entry for entry in order_view.timeline if entry.step == "Refund"]
    assert (
        len(notes) == 1 and refund["RefundID"] in notes[0].detail and str(voucher["VONO"]) in notes[0].detail
    )
    final = await handle.query(RefundWorkflow.status)
    assert "Order told" in [entry.step for entry in final.timeline]
    # Listed with its order: the refund carries the order's id as BngOrderId.
    listed: list[str] = []
    for _ in range(50):
        listed = [w.id async for w in stack.client.list_workflows(f'BngOrderId="{order["OrderID"]}"')]
        if handle.id in listed:
            break
        await asyncio.sleep(0.2)
    assert handle.id in listed and f"order-{order['OrderID']}" in listed


async def test_a_lost_answer_on_the_update_books_the_refund_once(stack: Stack) -> None:
    await lose_answers(stack, "GLS840MI", "UpdBatch")
    refund = {
        "RefundID": f"RF-{uuid.uuid4().hex[:8].upper()}",
        "PaymentID": f"PAY-{uuid.uuid4().hex[:8]}",
        "OrderID": f"ORD-GONE-{uuid.uuid4().hex[:6]}",
        "Amount": "40.00",
        "Currency": "EUR",
        "Reason": "returned",
        "RefundedAt": datetime(2026, 3, 20, 10, 0, tzinfo=UTC).isoformat(),
    }

    handle = await book_refund(stack, refund)
    view = await wait_for(handle, DocumentStage.POSTED, timeout=60)

    assert view.m3_number
    assert [
        c
        for c in await lost_answers(stack, "GLS840MI", "UpdBatch")
        if c["record"].get("KEY1") == view.m3_number
    ]
    [voucher] = await vouchers(stack, view.m3_number)
    assert voucher_amounts(voucher) == [("1930", Decimal("-40.00")), ("3090", Decimal("40.00"))]
    # No order workflow to tell: the refund's own timeline says so, and it is posted all the same.
    assert (await handle.result()).stage == DocumentStage.POSTED
    final = await handle.query(RefundWorkflow.status)
    assert "Order not told" in [entry.step for entry in final.timeline]


async def test_with_payment_gl_journal_the_payment_also_posts_a_clearing_journal(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's activities read the setting (the workflow never does): switch it for this test.
    monkeypatch.setattr(stack.settings, "payment_gl", "gl_journal")
    order = demo_order(38011)
    await stack.place_order(order)

    view = await stack.drive_to_paid(order["OrderID"], timeout=60)

    [entry] = [entry for entry in view.timeline if entry.step == "Payment GL"]
    assert view.payment_id
    key1 = batch_key(PAYMENT_PREFIX, view.payment_id)
    assert key1 in entry.detail
    [voucher] = await vouchers(stack, key1)
    assert view.invoice is not None
    total = view.invoice.total_amount
    assert voucher_amounts(voucher) == [("1910", total), ("1930", -total)]


async def test_by_default_the_payment_gl_is_m3s_own(stack: Stack) -> None:
    order = demo_order(38021)
    await stack.place_order(order)

    view = await stack.drive_to_paid(order["OrderID"])

    [entry] = [entry for entry in view.timeline if entry.step == "Payment GL"]
    assert "ARS040MI batch accounting" in entry.detail
