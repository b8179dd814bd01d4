"""Nothing fails an order: whatever retrying cannot fix parks it with its class, step and data.

Operators retry, retry with corrected data, skip the step (with a reason) or cancel; an outage
longer than the retry window parks too. Money never moves on a BOD or payment that does not fit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from tests.conftest import Stack
from tests.test_master_data import eventually, m3_call
from tests.test_order_to_cash import demo_order
from workflows.models import (
    CancelOrder,
    FixPayload,
    M3OrderEvent,
    OrderToCashInput,
    OrderToCashResult,
    OrderView,
    PaymentCaptured,
    Resume,
    SkipStep,
    Stage,
    order_workflow_id,
)
from workflows.order_to_cash import OrderToCashWorkflow


def handle(stack: Stack, order_id: str) -> WorkflowHandle[Any, OrderToCashResult]:
    return stack.client.get_workflow_handle(order_workflow_id(order_id), result_type=OrderToCashResult)


async def place_with(stack: Stack, order: dict[str, Any], **process: Any) -> None:
    """Start the order's workflow with its own process settings, then place the order in BNG
    (whose webhook then finds the workflow running). Calls are local, as the receiver starts them."""
    await stack.client.start_workflow(
        OrderToCashWorkflow.run,
        OrderToCashInput(bng_order_id=order["OrderID"], payload=order, **{"calls": "local", **process}),
        id=order_workflow_id(order["OrderID"]),
        task_queue=stack.settings.task_queue,
    )
    await stack.place_order(order)


async def invoiced(stack: Stack, order_id: str) -> OrderView:
    view = await stack.wait_for_stage(order_id, Stage.ORDER_CREATED, Stage.ALLOCATED)
    assert view.m3_order_number
    await stack.advance_m3(view.m3_order_number, steps=4)
    view = await stack.wait_for_stage(order_id, Stage.INVOICED)
    assert view.invoice is not None
    return view


def payment(amount: Decimal, currency: str) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=f"PAY-{uuid.uuid4().hex[:10]}",
        amount=amount,
        currency=currency,
        captured_at=datetime.now(UTC),
    )


async def bng_order_in(stack: Stack, order_id: str, status: str) -> dict[str, Any] | None:
    bng_order: dict[str, Any] = (await stack.bng.get(f"/api/v1/orders/{order_id}")).json()
    return bng_order if bng_order["OrderStatus"] == status else None


async def open_amount(stack: Stack, view: OrderView) -> Decimal:
    return Decimal((await stack.m3_open_item(view))["OPAM"])


async def test_an_m3_outage_longer_than_the_retry_window_parks_the_payment_then_resumes(stack: Stack) -> None:
    order = demo_order(32001)
    await place_with(stack, order, retry_window=timedelta(seconds=4))
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    await stack.m3.post("/_sandbox/faults", json={"program": "ARS040MI", "status": 500, "count": 10_000})
    try:
        await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
        parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=60)
    finally:
        await stack.m3.delete("/_sandbox/faults")

    assert parked.attention is not None
    assert (parked.attention.kind, parked.attention.step) == ("outage", "post payment")
    assert parked.attention.data and parked.attention.data["amount"] == str(view.invoice.total_amount)
    # No fix at this step: the batch may exist already, and only the payment checks shape it.
    assert set(parked.attention.actions) == {"retry", "skip", "cancel"}
    description = await handle(stack, order["OrderID"]).describe()
    assert description.status is not None and description.status.name == "RUNNING"

    await handle(stack, order["OrderID"]).execute_update(OrderToCashWorkflow.resume, Resume(reason="M3 back"))
    paid = await stack.wait_for_stage(order["OrderID"], Stage.PAID, timeout=60)
    assert await open_amount(stack, paid) == 0


async def test_an_invoice_bod_without_a_total_parks_and_moves_no_money(stack: Stack) -> None:
    order = demo_order(32011)
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    bod = M3OrderEvent(
        bod_id=f"bod-{uuid.uuid4().hex}",
        noun="Invoice",
        order_number=view.m3_order_number,
        invoice_number="90000001",
        invoice_year=2026,
        currency="EUR",
    )
    await handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.m3_order_event, bod)

    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "invalid_bod"
    assert "no total amount" in parked.attention.summary
    assert parked.invoice is None
    bng_order = await eventually(
        lambda: bng_order_in(stack, order["OrderID"], "OnHold"), what="OnHold in BNG"
    )
    assert bng_order.get("Invoice") is None

    with pytest.raises(WorkflowUpdateFailedError):  # the fix must still make a valid BOD
        await handle(stack, order["OrderID"]).execute_update(
            OrderToCashWorkflow.fix_payload, FixPayload(payload={"total_amount": "not a number"})
        )
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.fix_payload,
        FixPayload(payload={"total_amount": "12.50"}, reason="from M3 OIS350"),
    )
    fixed = await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    assert fixed.invoice is not None and fixed.invoice.total_amount == Decimal("12.50")


async def test_an_invoice_bod_about_another_order_parks_and_can_be_skipped(stack: Stack) -> None:
    order = demo_order(32021)
    await stack.place_order(order)
    await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    bod = M3OrderEvent(
        bod_id=f"bod-{uuid.uuid4().hex}",
        noun="Invoice",
        order_number="0000000001",
        invoice_number="90000002",
        total_amount=Decimal("99.00"),
        currency="EUR",
    )
    await handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.m3_order_event, bod)
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and "0000000001" in parked.attention.summary

    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="misrouted BOD")
    )
    view = await stack.drive_to_paid(order["OrderID"])
    assert view.invoice is not None and view.invoice.invoice_number != "90000002"


async def test_a_payment_in_another_currency_parks_and_is_skipped(stack: Stack) -> None:
    order = demo_order(32031)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    await handle(stack, order["OrderID"]).signal(
        OrderToCashWorkflow.payment_captured, payment(view.invoice.total_amount, "USD")
    )
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "payment_mismatch"
    assert "USD" in parked.attention.summary
    with pytest.raises(WorkflowUpdateFailedError):  # retrying the same mismatch is not offered
        await handle(stack, order["OrderID"]).execute_update(OrderToCashWorkflow.resume, Resume())

    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="refunded in BNG")
    )
    await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    assert await open_amount(stack, view) == view.invoice.total_amount
    await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
    paid = await stack.wait_for_stage(order["OrderID"], Stage.PAID)
    assert await open_amount(stack, paid) == 0


async def test_an_overpayment_parks_and_a_fix_posts_what_is_open(stack: Stack) -> None:
    order = demo_order(32041)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    total = view.invoice.total_amount
    await handle(stack, order["OrderID"]).signal(
        OrderToCashWorkflow.payment_captured, payment(total + 10, view.invoice.currency)
    )
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "payment_mismatch"
    assert await open_amount(stack, view) == total, "money moved before the operator decided"

    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.fix_payload, FixPayload(payload={"amount": str(total)}, reason="refund the rest")
    )
    paid = await stack.wait_for_stage(order["OrderID"], Stage.PAID)
    assert await open_amount(stack, paid) == 0


async def test_a_partial_payment_waits_then_parks_as_underpaid(stack: Stack) -> None:
    order = demo_order(32051)
    await place_with(stack, order, payment_wait=timedelta(seconds=2))
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    total, currency = view.invoice.total_amount, view.invoice.currency
    await handle(stack, order["OrderID"]).signal(
        OrderToCashWorkflow.payment_captured, payment(total / 2, currency)
    )

    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=30)
    assert parked.attention is not None and parked.attention.kind == "underpaid"
    assert await open_amount(stack, view) == total - total / 2

    await handle(stack, order["OrderID"]).execute_update(OrderToCashWorkflow.resume, Resume(reason="chased"))
    await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    await handle(stack, order["OrderID"]).signal(
        OrderToCashWorkflow.payment_captured, payment(total - total / 2, currency)
    )
    paid = await stack.wait_for_stage(order["OrderID"], Stage.PAID)
    assert await open_amount(stack, paid) == 0


async def test_a_status_push_bng_refuses_parks_and_can_be_skipped(stack: Stack) -> None:
    order = demo_order(32061)
    await stack.bng.post(
        "/_sandbox/faults",
        json={
            "method": "PATCH",
            "path_prefix": f"/api/v1/orders/{order['OrderID']}",
            "status": 409,
            "count": 1,
        },
    )
    await stack.place_order(order)
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None
    assert (parked.attention.kind, parked.attention.step) == ("bng_business_error", "status Accepted to BNG")

    with pytest.raises(WorkflowUpdateFailedError):
        await handle(stack, order["OrderID"]).execute_update(OrderToCashWorkflow.skip, SkipStep(reason=" "))
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="BNG shows it anyway")
    )
    await stack.drive_to_paid(order["OrderID"])


async def test_skip_is_refused_where_the_order_cannot_go_on_without_the_step(stack: Stack) -> None:
    order = demo_order(32071, OrderID="BNG-32071-WITH-A-LONG-SUFFIX")  # CUOR is A20 and never cut
    await stack.bng.post("/_sandbox/emit", json={"type": "order.created", "data": order})
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and "skip" not in parked.attention.actions
    with pytest.raises(WorkflowUpdateFailedError):
        await handle(stack, order["OrderID"]).execute_update(OrderToCashWorkflow.skip, SkipStep(reason="try"))
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="test")
    )
    assert (await stack.view(order["OrderID"])).stage == Stage.CANCELLED


async def test_a_compensation_that_cannot_run_parks_and_the_batch_order_can_be_left(stack: Stack) -> None:
    order = demo_order(32081)
    # TRAILER-KID is an active item no warehouse stocks: AddBatchLine says NOK once the head exists.
    order["Lines"].append({"LineNumber": 98, "SKU": "TRAILER-KID", "Quantity": "1", "UnitPrice": "199.00"})
    await stack.m3.post(
        "/_sandbox/faults",
        json={"program": "OIS100MI", "transaction": "DelBatchHead", "status": 502, "count": 10_000},
    )
    try:
        await place_with(stack, order, retry_window=timedelta(seconds=3))
        parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=60)
    finally:
        await stack.m3.delete("/_sandbox/faults")

    assert parked.attention is not None
    assert (parked.attention.kind, parked.attention.step) == ("outage", "delete batch order")
    assert parked.attention.data and parked.attention.data["cuor"] == order["OrderID"]
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="deleted by hand in OIS275")
    )

    # Then the order parks for the reason the compensation was for: the line M3 refused.
    async def parked_for_the_line() -> OrderView | None:
        view = await stack.view(order["OrderID"])
        return view if view.attention and view.attention.m3_transaction == "AddBatchLine" else None

    lines_error = await eventually(parked_for_the_line, what="the order parked for the refused line")
    assert lines_error.attention is not None
    assert "left in M3 by the operator" in lines_error.attention.summary
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="test")
    )


async def test_a_payment_beyond_the_settled_invoice_parks_and_is_never_posted(stack: Stack) -> None:
    order = demo_order(32091)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    full, extra = payment(view.invoice.total_amount, "EUR"), payment(Decimal("5.00"), "EUR")
    for each in (full, extra):
        await handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.payment_captured, each)

    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "payment_mismatch"
    assert extra.payment_id in parked.attention.summary
    with pytest.raises(WorkflowUpdateFailedError):  # the payment cannot be pointed at another one
        await handle(stack, order["OrderID"]).execute_update(
            OrderToCashWorkflow.fix_payload, FixPayload(payload={"payment_id": "PAY-OTHER"})
        )
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="refunded in BNG")
    )
    result = await handle(stack, order["OrderID"]).result()
    assert result.stage == Stage.PAID and set(result.payment_ids) == {full.payment_id, extra.payment_id}
    assert await open_amount(stack, view) == 0


async def test_another_invoice_for_an_invoiced_order_parks(stack: Stack) -> None:
    order = demo_order(32101)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    credit_note = M3OrderEvent(
        bod_id=f"bod-{uuid.uuid4().hex}",
        noun="Invoice",
        order_number=view.m3_order_number,
        invoice_number="90000009",
        total_amount=Decimal("-10.00"),
        currency="EUR",
    )
    await handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.m3_order_event, credit_note)
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.step == "another invoice"
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="credit note booked by hand")
    )
    await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
    await stack.wait_for_stage(order["OrderID"], Stage.PAID)


async def test_a_fix_after_an_outage_removes_the_batch_order_it_leaves_behind(stack: Stack) -> None:
    order = demo_order(32111)
    await stack.m3.post(
        "/_sandbox/faults",
        json={"program": "OIS100MI", "transaction": "AddBatchLine", "status": 502, "count": 10_000},
    )
    try:
        await place_with(stack, order, retry_window=timedelta(seconds=3))
        parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=60)
    finally:
        await stack.m3.delete("/_sandbox/faults")
    assert parked.attention is not None and parked.attention.kind == "outage"
    temp = parked.m3_temporary_order_number
    assert temp, "the batch order waits as it is during an outage"

    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.fix_payload, FixPayload(payload=order, reason="same order, M3 back")
    )
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED, timeout=60)
    deleted = [c for c in await stack.m3_calls("OIS100MI", "DelBatchHead") if c["record"].get("ORNO") == temp]
    assert [c["outcome"] for c in deleted] == ["ok"]
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "LstBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert heads
    assert view.m3_order_number and view.m3_temporary_order_number is None


async def test_money_already_paid_in_m3_is_not_paid_again_on_top(stack: Stack) -> None:
    order = demo_order(32121)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    # Someone books 10.00 on the invoice in M3 itself (a bank file, a cash desk).
    pbid = str(1_000_000_000 + uuid.uuid4().int % 1_000_000)
    await m3_call(stack, "ARS040MI", "AddBatchHead", PBID=pbid, BOPE="BNG")
    await m3_call(
        stack,
        "ARS040MI",
        "AddBatchLine",
        PBID=pbid,
        TRNO="1",
        CINO=view.invoice.invoice_number,
        INYR=str(view.invoice.invoice_year),
        CUNO=view.m3_customer_number or "",
        PYAM="10.00",
        CUCD=view.invoice.currency,
    )
    await m3_call(stack, "ARS040MI", "ControlBatch", PBID=pbid)

    await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
    parked = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.step == "post payment"
    assert parked.attention.m3_code is None and "less than" in parked.attention.summary
    assert await open_amount(stack, view) == view.invoice.total_amount - Decimal("10.00")
    # A retry checks M3 again (it was not posted, so nothing of it is in M3): it parks again.
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.resume, Resume(reason="look again")
    )
    await eventually(
        lambda: _parked_again(stack, order["OrderID"]), what="the payment parked again after the retry"
    )
    assert await open_amount(stack, view) == view.invoice.total_amount - Decimal("10.00")
    await handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="test")
    )


async def _parked_again(stack: Stack, order_id: str) -> bool:
    view = await stack.view(order_id)
    resumed = any(entry.step == "Resume" or "Resume" in entry.detail for entry in view.timeline)
    return resumed and view.stage == Stage.NEEDS_ATTENTION
