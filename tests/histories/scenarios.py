"""Representative executions of every workflow type, recorded as histories for the replay test.

Not part of ``make test`` (the file name is not ``test_*.py``): ``python -m tests.histories.record``
runs it on the test stack (tests/conftest.py) and writes the histories. Each scenario drives
documents through the real entry points with the end-to-end tests' helpers, and records them
finished (Paid, Closed, Posted, Cancelled), after parking and an operator's decision, and still
waiting (for a BOD, a receipt, a payment, an operator), as their histories stand.

The names below are the file names; ids inside change with every recording.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.master_data.models import (
    EntitySyncInput,
    RecordChanged,
    Resolution,
    SyncState,
    entity_workflow_id,
)
from mapping.ownership import Side
from starter.sync_routing import notify_change
from tests.conftest import Stack
from tests.documents import decide, wait_for, wait_until
from tests.histories.recording import OUT_ENV, Recorder
from tests.test_journals import a_journal, line, post_journal
from tests.test_journals import wait_for as journal_wait_for
from tests.test_master_data import (
    bng_drift,
    create_bng_customer,
    eventually,
    m3_call,
    m3_get,
    m3_knobs,
    settled,
    unique,
)
from tests.test_order_to_cash import demo_order
from tests.test_parking import handle as order_handle
from tests.test_parking import invoiced, payment, place_with
from tests.test_purchasing import place, purchase_order, receive
from tests.test_reconcile import add_item
from tests.test_refunds import book_refund
from tests.test_supplier_invoices import received_po, supplier_invoice
from workflows.documents import DocumentStage, DocumentType, document_workflow_id
from workflows.journal import JournalWorkflow
from workflows.master_data import EntitySyncWorkflow
from workflows.models import (
    AcceptSuggestion,
    CancelOrder,
    FixPayload,
    M3OrderEvent,
    Resume,
    SkipStep,
    Stage,
    order_workflow_id,
)
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.reconcile import ReconcileInput, ReconcileWorkflow

COMPLETED = WorkflowExecutionStatus.COMPLETED
RUNNING = WorkflowExecutionStatus.RUNNING
CONTINUED = WorkflowExecutionStatus.CONTINUED_AS_NEW

PO = DocumentType.PURCHASE_ORDER
INVOICE = DocumentType.SUPPLIER_INVOICE


@pytest.fixture(scope="session")
async def recorder(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Recorder]:
    out = Path(os.environ.get(OUT_ENV) or tmp_path_factory.mktemp("histories"))
    recording = Recorder(stack.client, out)
    yield recording
    recording.write_index()


# -- order to cash --------------------------------------------------------------------------------


async def test_order_waiting_then_invoiced_then_paid(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50001)
    order_id = order["OrderID"]
    await stack.place_order(order)
    view = await stack.wait_for_stage(order_id, Stage.ORDER_CREATED, Stage.ALLOCATED)
    await recorder.record(
        "waiting_for_bods", order_workflow_id(order_id), expect=RUNNING, what="confirmed in M3, no BOD yet"
    )
    assert view.m3_order_number
    await stack.advance_m3(view.m3_order_number, steps=4)
    view = await stack.wait_for_stage(order_id, Stage.INVOICED)
    await recorder.record(
        "waiting_for_payment", order_workflow_id(order_id), expect=RUNNING, what="invoiced, not paid"
    )
    assert view.invoice is not None
    await stack.capture_payment(order_id, str(view.invoice.total_amount), view.invoice.currency)
    await stack.wait_for_stage(order_id, Stage.PAID)
    await recorder.record("paid", order_workflow_id(order_id), expect=COMPLETED, what="happy path to Paid")


async def test_order_paid_with_a_clearing_journal(
    stack: Stack, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack.settings, "payment_gl", "gl_journal")
    order = demo_order(50011)
    await place_with(stack, order, payment_gl="gl_journal")
    view = await stack.drive_to_paid(order["OrderID"], timeout=60)
    assert "Payment GL" in [entry.step for entry in view.timeline]
    await recorder.record(
        "paid_gl_journal",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="Paid, payment_gl=gl_journal: GLS840MI clearing journal",
    )


async def test_order_invalid_payload_parked_then_fixed(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50021)
    broken = {**order, "OrderDate": "not a date", "Lines": [{**order["Lines"][0], "Quantity": 0}]}
    response = await stack.bng.post("/_sandbox/emit", json={"type": "order.created", "data": broken})
    assert response.status_code in (200, 201, 202), response.text
    await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    workflow_id = order_workflow_id(order["OrderID"])
    await recorder.record("parked_invalid_payload", workflow_id, expect=RUNNING, what="parked, waiting")

    await stack.place_order(order)  # BNG now holds the order; its webhook joins the workflow
    await order_handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.fix_payload, FixPayload(payload=order, reason="fixed")
    )
    await stack.drive_to_paid(order["OrderID"])
    await recorder.record(
        "invalid_payload_fixed_then_paid", workflow_id, expect=COMPLETED, what="parked, fixed, Paid"
    )


async def test_order_unknown_item_parked_then_cancelled(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50031)
    order["Lines"].append({"LineNumber": 99, "SKU": "SCOOTER-X", "Quantity": "1", "UnitPrice": "1299.00"})
    await stack.place_order(order)
    await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    await order_handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="customer withdrew")
    )
    await recorder.record(
        "unknown_item_cancelled",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="MMS200MI error parked, cancelled",
    )


async def test_order_lines_compensated_then_cancelled(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50041, StoreID="WEB")
    # Active in M3 but stocked nowhere: AddBatchLine fails once the head exists.
    order["Lines"].append({"LineNumber": 98, "SKU": "TRAILER-KID", "Quantity": "1", "UnitPrice": "199.00"})
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert "Compensated" in [entry.step for entry in view.timeline]
    await order_handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="recorded")
    )
    await recorder.record(
        "lines_compensated_cancelled",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="DelBatchHead compensation, cancelled",
    )


async def test_order_payment_outage_parked_then_resumed(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50051)
    await place_with(stack, order, retry_window=timedelta(seconds=4))
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    await stack.m3.post("/_sandbox/faults", json={"program": "ARS040MI", "status": 500, "count": 10_000})
    try:
        await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
        await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=60)
    finally:
        await stack.m3.delete("/_sandbox/faults")
    await order_handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.resume, Resume(reason="M3 back")
    )
    await stack.wait_for_stage(order["OrderID"], Stage.PAID, timeout=60)
    await recorder.record(
        "payment_outage_resumed_then_paid",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="ARS040MI outage beyond the retry window parked, resumed, Paid",
    )


async def test_order_payment_mismatch_skipped_then_paid(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50061)
    await stack.place_order(order)
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    wrong = payment(view.invoice.total_amount, "USD")
    await order_handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.payment_captured, wrong)
    await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    await order_handle(stack, order["OrderID"]).execute_update(
        OrderToCashWorkflow.skip, SkipStep(reason="refunded in BNG")
    )
    await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)
    await stack.wait_for_stage(order["OrderID"], Stage.PAID)
    await recorder.record(
        "payment_mismatch_skipped_then_paid",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="USD payment parked, skipped, then paid",
    )


async def test_order_underpaid_after_the_wait_then_paid(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50071)
    await place_with(stack, order, payment_wait=timedelta(seconds=2))
    view = await invoiced(stack, order["OrderID"])
    assert view.invoice is not None
    total, currency = view.invoice.total_amount, view.invoice.currency
    handle = order_handle(stack, order["OrderID"])
    await handle.signal(OrderToCashWorkflow.payment_captured, payment(total / 2, currency))
    await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION, timeout=30)
    await handle.execute_update(OrderToCashWorkflow.resume, Resume(reason="chased"))
    await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    await handle.signal(OrderToCashWorkflow.payment_captured, payment(total - total / 2, currency))
    await stack.wait_for_stage(order["OrderID"], Stage.PAID)
    await recorder.record(
        "underpaid_resumed_then_paid",
        order_workflow_id(order["OrderID"]),
        expect=COMPLETED,
        what="half paid, payment wait timer fired, parked underpaid, resumed, paid",
    )


async def test_order_parked_on_an_invalid_invoice_bod(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50081)
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
    await order_handle(stack, order["OrderID"]).signal(OrderToCashWorkflow.m3_order_event, bod)
    await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    await recorder.record(
        "parked_invalid_bod",
        order_workflow_id(order["OrderID"]),
        expect=RUNNING,
        what="SyncInvoice without a total parked, waiting for an operator",
    )


async def test_refund_told_to_an_order_waiting_for_its_invoice(stack: Stack, recorder: Recorder) -> None:
    order = demo_order(50091)
    await stack.place_order(order)
    await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    paid = await stack.bng.post(
        f"/api/v1/orders/{order['OrderID']}/payments", json={"Amount": "30.00", "Currency": "EUR"}
    )
    assert paid.status_code in (200, 201), paid.text
    refunded = await stack.bng.post(
        f"/api/v1/orders/{order['OrderID']}/payments/{paid.json()['PaymentID']}/refunds",
        json={"RefundID": unique("RF"), "Amount": "12.50", "Currency": "EUR", "Reason": "damaged"},
    )
    assert refunded.status_code == 201, refunded.text
    handle = await book_refund(stack, refunded.json())
    await journal_wait_for(handle, DocumentStage.POSTED)
    await eventually(
        lambda: _has_step(stack, order["OrderID"], "Refund"), what="the refund on the order's timeline"
    )
    await recorder.record(
        "posted_order_told", handle.id, expect=COMPLETED, what="GLS840MI entry, order's workflow told"
    )
    await recorder.record(
        "waiting_for_invoice_with_payment_and_refund",
        order_workflow_id(order["OrderID"]),
        expect=RUNNING,
        what="payment captured before the invoice, refund noted",
    )


async def _has_step(stack: Stack, order_id: str, step: str) -> bool:
    return step in [entry.step for entry in (await stack.view(order_id)).timeline]


async def test_refund_for_an_order_without_a_workflow(stack: Stack, recorder: Recorder) -> None:
    refund = {
        "RefundID": unique("RF"),
        "PaymentID": unique("PAY"),
        "OrderID": unique("ORD-GONE"),
        "Amount": "40.00",
        "Currency": "EUR",
        "Reason": "returned",
        "RefundedAt": "2026-03-20T10:00:00+00:00",
    }
    handle = await book_refund(stack, refund)
    await journal_wait_for(handle, DocumentStage.POSTED)
    await recorder.record(
        "posted_order_not_told", handle.id, expect=COMPLETED, what="posted, no order workflow to tell"
    )


# -- purchase orders and supplier invoices --------------------------------------------------------


async def test_po_waiting_received_invoiced_and_closed(stack: Stack, recorder: Recorder) -> None:
    po_id = unique("PO")
    puno = await place(stack, purchase_order(po_id))
    await stack.m3.post(f"/_sandbox/purchase-orders/{puno}/advance")
    await wait_for(stack, PO, po_id, DocumentStage.CONFIRMED)
    po_workflow = document_workflow_id(PO, po_id)
    await recorder.record(
        "waiting_for_receipts", po_workflow, expect=RUNNING, what="placed and confirmed, nothing received"
    )

    await receive(stack, po_id, unique("GR"), (1, "TYRE-28", "15"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)
    await receive(stack, po_id, unique("GR"), (1, "TYRE-28", "25"), (2, "TUBE-28", "100"))
    await wait_for(stack, PO, po_id, DocumentStage.FULLY_RECEIVED)
    await recorder.record("received", po_workflow, expect=RUNNING, what="two receipts, waiting for invoice")

    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"), (2, "TUBE-28", "100", "2.10"))
    response = await stack.bng.post("/api/v1/supplier-invoices", json=invoice)
    assert response.status_code in (200, 201), response.text
    await wait_for(stack, INVOICE, invoice["SupplierInvoiceID"], DocumentStage.POSTED)
    await wait_for(stack, PO, po_id, DocumentStage.CLOSED)
    await recorder.record(
        "posted",
        document_workflow_id(INVOICE, invoice["SupplierInvoiceID"]),
        expect=COMPLETED,
        what="three-way match within tolerance, APS450MI, validated",
    )
    await recorder.record("closed", po_workflow, expect=COMPLETED, what="received and invoiced: Closed")


async def test_po_changed_then_a_change_m3_refuses_parked_and_skipped(
    stack: Stack, recorder: Recorder
) -> None:
    po_id = unique("PO")
    await place(stack, purchase_order(po_id))
    changed = purchase_order(
        po_id,
        Lines=[
            {"LineNumber": 1, "SKU": "TYRE-28", "Quantity": "60", "UnitPrice": "8.40"},
            {"LineNumber": 2, "SKU": "TUBE-28", "Quantity": "100", "UnitPrice": "2.10", "Cancelled": True},
            {"LineNumber": 3, "SKU": "CHAIN-9S", "Quantity": "12", "UnitPrice": "11.00"},
        ],
    )
    response = await stack.bng.patch(f"/api/v1/purchase-orders/{po_id}", json={"Lines": changed["Lines"]})
    assert response.status_code == 200, response.text
    await wait_until(stack, PO, po_id, lambda v: any(e.step == "M3 PO changed" for e in v.timeline))

    await receive(stack, po_id, unique("GR"), (1, "TYRE-28", "30"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)
    lines = changed["Lines"]
    lines[0]["Quantity"] = "20"  # below the 30 received
    response = await stack.bng.patch(f"/api/v1/purchase-orders/{po_id}", json={"Lines": lines})
    assert response.status_code == 200, response.text
    await wait_for(stack, PO, po_id, DocumentStage.NEEDS_ATTENTION)
    await decide(stack, PO, po_id, SkipStep(reason="keep the received quantity"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)
    await recorder.record(
        "changed_then_refused_change_skipped",
        document_workflow_id(PO, po_id),
        expect=RUNNING,
        what="buyer changes applied; a later change M3 refused parked and skipped; partly received",
    )


async def test_po_cancelled(stack: Stack, recorder: Recorder) -> None:
    po_id = unique("PO")
    await place(stack, purchase_order(po_id))
    response = await stack.bng.post(f"/api/v1/purchase-orders/{po_id}/cancel")
    assert response.status_code == 200, response.text
    await wait_for(stack, PO, po_id, DocumentStage.CANCELLED)
    await recorder.record(
        "cancelled", document_workflow_id(PO, po_id), expect=COMPLETED, what="open PO cancelled: DltLine"
    )


async def test_po_unknown_item_parked_then_fixed(stack: Stack, recorder: Recorder) -> None:
    po_id = unique("PO")
    body = purchase_order(po_id)
    body["Lines"][1]["SKU"] = "NO-SUCH-ITEM"
    await place_parked(stack, body)
    await decide(stack, PO, po_id, FixPayload(payload=purchase_order(po_id), reason="right SKU"))
    await wait_for(stack, PO, po_id, DocumentStage.PLACED, DocumentStage.CONFIRMED)
    await recorder.record(
        "unknown_item_fixed_placed",
        document_workflow_id(PO, po_id),
        expect=RUNNING,
        what="unknown SKU parked, fixed, placed; waiting for receipts",
    )


async def place_parked(stack: Stack, body: dict[str, object]) -> None:
    from tests.test_purchasing import ensure_vendor

    await ensure_vendor(stack)
    response = await stack.bng.post("/api/v1/purchase-orders", json=body)
    assert response.status_code in (200, 201), response.text
    await wait_for(stack, PO, str(body["PurchaseOrderID"]), DocumentStage.NEEDS_ATTENTION)


async def test_invoice_price_difference_accepted(stack: Stack, recorder: Recorder) -> None:
    po_id, _ = await received_po(stack)
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.90"), (2, "TUBE-28", "100", "2.10"))
    bng_id = await _post_invoice(stack, invoice)
    await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    await decide(stack, INVOICE, bng_id, AcceptSuggestion(suggestion="accept_price_difference", reason="ok"))
    await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)
    await recorder.record(
        "price_difference_accepted_posted",
        document_workflow_id(INVOICE, bng_id),
        expect=COMPLETED,
        what="match_mismatch parked, accept_price_difference, posted with a variance line",
    )


async def test_invoice_waiting_for_its_receipt_then_posted(stack: Stack, recorder: Recorder) -> None:
    po_id, _ = await received_po(stack, tyres="20", tubes="0")
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"))
    bng_id = await _post_invoice(stack, invoice)
    await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    await decide(stack, INVOICE, bng_id, AcceptSuggestion(suggestion="wait_for_receipt"))
    await wait_for(stack, INVOICE, bng_id, DocumentStage.WAITING_FOR_RECEIPT)
    workflow_id = document_workflow_id(INVOICE, bng_id)
    await recorder.record(
        "waiting_for_receipt", workflow_id, expect=RUNNING, what="parked, accepted to wait for the goods"
    )
    await receive(stack, po_id, unique("GR"), (1, "TYRE-28", "20"))
    await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)
    await recorder.record(
        "waited_for_receipt_posted", workflow_id, expect=COMPLETED, what="told by the PO, matched, posted"
    )


async def test_invoice_rejected_and_duplicate_refused(stack: Stack, recorder: Recorder) -> None:
    po_id, _ = await received_po(stack)
    mismatch = supplier_invoice(po_id, (1, "TYRE-28", "40", "12.00"))
    bng_id = await _post_invoice(stack, mismatch)
    await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    await decide(stack, INVOICE, bng_id, AcceptSuggestion(suggestion="reject"))
    await wait_for(stack, INVOICE, bng_id, DocumentStage.REJECTED)
    await recorder.record(
        "mismatch_rejected",
        document_workflow_id(INVOICE, bng_id),
        expect=COMPLETED,
        what="41 % over the PO price, rejected by the operator",
    )

    first = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"))
    await wait_for(stack, INVOICE, await _post_invoice(stack, first), DocumentStage.POSTED)
    again = supplier_invoice(po_id, (2, "TUBE-28", "100", "2.10"), invoice_number=first["InvoiceNumber"])
    bng_id = await _post_invoice(stack, again)
    await wait_for(stack, INVOICE, bng_id, DocumentStage.REJECTED)
    await recorder.record(
        "duplicate_rejected",
        document_workflow_id(INVOICE, bng_id),
        expect=COMPLETED,
        what="supplier invoice number already in M3: refused at once",
    )


async def _post_invoice(stack: Stack, invoice: dict[str, object]) -> str:
    response = await stack.bng.post("/api/v1/supplier-invoices", json=invoice)
    assert response.status_code in (200, 201), response.text
    return str(invoice["SupplierInvoiceID"])


# -- journals ---------------------------------------------------------------------------------


async def test_journal_posted(stack: Stack, recorder: Recorder) -> None:
    handle = await post_journal(stack, a_journal())
    await journal_wait_for(handle, DocumentStage.POSTED)
    await recorder.record("posted", handle.id, expect=COMPLETED, what="GLS840MI batch, one voucher")


async def test_journal_unbalanced_parked_then_corrected(stack: Stack, recorder: Recorder) -> None:
    handle = await post_journal(
        stack, a_journal(line(1, "OFFICE", debit="100.00"), line(2, "BANK", credit="90.00"))
    )
    await journal_wait_for(handle, DocumentStage.NEEDS_ATTENTION)
    await recorder.record("parked_unbalanced", handle.id, expect=RUNNING, what="parked, waiting for a fix")
    fixed = [line(1, "OFFICE", debit="90.00"), line(2, "BANK", credit="90.00")]
    await handle.execute_update(
        JournalWorkflow.fix_payload, FixPayload(payload={"Lines": fixed}, reason="typo")
    )
    await journal_wait_for(handle, DocumentStage.POSTED)
    await recorder.record("corrected_posted", handle.id, expect=COMPLETED, what="parked, fixed, posted")


async def test_journal_closed_period_cancelled(stack: Stack, recorder: Recorder) -> None:
    handle = await post_journal(stack, a_journal(journal_date="2025-12-31"))
    await journal_wait_for(handle, DocumentStage.NEEDS_ATTENTION)
    await handle.execute_update(JournalWorkflow.cancel, CancelOrder(reason="period closed"))
    await journal_wait_for(handle, DocumentStage.CANCELLED)
    await recorder.record(
        "closed_period_cancelled", handle.id, expect=COMPLETED, what="refused before M3, cancelled: Rejected"
    )


# -- master data and reconciliation ----------------------------------------------------------------


async def test_customer_created_changed_and_echo(stack: Stack, recorder: Recorder) -> None:
    customer_id, _ = await create_bng_customer(stack)
    workflow_id = entity_workflow_id("customer", customer_id)
    await recorder.record("customer_created", workflow_id, expect=RUNNING, what="created in M3, linked, idle")
    response = await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"Phone": "+49 30 9999"})
    assert response.status_code == 200, response.text

    async def echoed() -> bool:
        view = await stack.client.get_workflow_handle(workflow_id).query(EntitySyncWorkflow.status)
        return any(step.outcome == "echo" for step in view.history)

    await eventually(echoed, what="the BOD echo")
    await settled(stack, "customer", customer_id)
    await recorder.record(
        "customer_changed_and_echo", workflow_id, expect=RUNNING, what="BNG change to M3, its BOD an echo"
    )


async def test_customer_conflict_parked_then_resolved(stack: Stack, recorder: Recorder) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    await m3_knobs(stack, master_data_bods=False)
    try:
        await m3_call(stack, "CRS610MI", "ChgBasicData", CUNO=cuno, PHNO="+49 111")
        await bng_drift(stack, "customer", customer_id, {"Phone": "+49 222"})
    finally:
        await m3_knobs(stack, master_data_bods=True)
    await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"FirstName": "Grace"})
    await settled(stack, "customer", customer_id, SyncState.NEEDS_ATTENTION)
    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(winner=Side.M3))
    await settled(stack, "customer", customer_id)
    await recorder.record(
        "customer_conflict_resolved", handle.id, expect=RUNNING, what="conflict parked, M3 wins"
    )


async def test_customer_outage_parked_then_retried(stack: Stack, recorder: Recorder) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    await handle.terminate("restart with a short retry window")
    handle = await stack.client.start_workflow(
        EntitySyncWorkflow.run,
        EntitySyncInput(
            entity="customer", bng_key=customer_id, m3_key=cuno, retry_window=timedelta(seconds=3)
        ),
        id=entity_workflow_id("customer", customer_id),
        task_queue=stack.settings.task_queue,
    )
    rule = {"program": "CRS610MI", "transaction": "GetBasicData", "status": 500, "count": 100_000}
    assert (await stack.m3.post("/_sandbox/faults", json=rule)).status_code == 200
    try:
        change = RecordChanged(origin=Side.BNG, reason="during the outage")
        outcome = await handle.execute_update(EntitySyncWorkflow.sync_now, change)
        assert outcome.outcome == "parked", outcome
    finally:
        await stack.m3.delete("/_sandbox/faults")
    outcome = await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(note="M3 is back"))
    assert outcome.outcome in ("in-sync", "echo"), outcome
    await recorder.record(
        "customer_outage_parked_retried",
        handle.id,
        expect=RUNNING,
        what="outage beyond the retry window parked, operator's retry synced it",
    )


async def test_customer_idle_workflow_finishes(stack: Stack, recorder: Recorder) -> None:
    workflow_id = await notify_change(
        stack.client,
        stack.settings.task_queue,
        "customer",
        unique("CUST-IDLE"),
        RecordChanged(origin=Side.BNG, event_id=unique("evt"), reason="recorded"),
        idle_minutes=0.02,
    )
    await stack.client.get_workflow_handle(workflow_id).result()
    await recorder.record("customer_idle_finished", workflow_id, expect=COMPLETED, what="idle timer fired")


async def test_customer_continues_as_new(stack: Stack, recorder: Recorder) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    workflow_id = entity_workflow_id("customer", customer_id)
    await stack.client.get_workflow_handle(workflow_id).terminate("restart with a short run length")
    first = await stack.client.start_workflow(
        EntitySyncWorkflow.run,
        EntitySyncInput(entity="customer", bng_key=customer_id, m3_key=cuno, changes_per_run=3),
        id=workflow_id,
        task_queue=stack.settings.task_queue,
    )
    for n in range(4):
        await first.execute_update(
            EntitySyncWorkflow.sync_now, RecordChanged(origin=Side.BNG, reason=f"change {n}")
        )
    await recorder.record(
        "customer_continued_as_new",
        workflow_id,
        run_id=first.result_run_id,
        expect=CONTINUED,
        what="three changes, then continue-as-new carrying its state",
    )


async def test_product_from_m3(stack: Stack, recorder: Recorder) -> None:
    sku = unique("ITEM")
    await m3_call(
        stack,
        "MMS200MI",
        "AddItmBasic",
        ITNO=sku,
        ITDS="Trail bell",
        UNMS="EA",
        ITTY="FGD",
        STAT="20",
        ITCL="A20",
        MABU="2",
    )
    await settled(stack, "product", sku)
    response = await stack.bng.patch(f"/api/v1/products/{sku}", json={"Description": "Loud and clear"})
    assert response.status_code == 200, response.text

    async def description_in_m3() -> bool:
        item = await m3_get(stack, "MMS200MI", "GetItmBasic", ITNO=sku)
        return (item or {}).get("FUDS") == "Loud and clear"

    await eventually(description_in_m3, what="BNG's description in M3")
    await settled(stack, "product", sku)
    await recorder.record(
        "product_from_m3",
        entity_workflow_id("product", sku),
        expect=RUNNING,
        what="M3 item created in BNG; BNG description back to M3",
    )


async def test_reconcile_product_drift_fixed(stack: Stack, recorder: Recorder) -> None:
    drifted = f"RB{uuid.uuid4().hex[:5].upper()}"
    await add_item(stack, drifted, f"Item {drifted}")
    await settled(stack, "product", drifted)
    response = await stack.bng.post(
        "/_sandbox/drift", json={"kind": "product", "key": drifted, "changes": {"Description": "Drifted"}}
    )
    assert response.status_code == 200, response.text
    workflow_id = f"reconcile-product-record-{uuid.uuid4().hex[:8]}"
    report = await stack.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(entity="product", fix=True, trigger="test"),
        id=workflow_id,
        task_queue=stack.settings.task_queue,
    )
    assert drifted in {d.bng_key for d in report.differences}
    await recorder.record(
        "product_drift_fixed",
        workflow_id,
        expect=COMPLETED,
        what="both passes; drift fixed through the record",
    )


async def test_reconcile_supplier_paged_over_runs(stack: Stack, recorder: Recorder) -> None:
    workflow_id = f"reconcile-supplier-record-{uuid.uuid4().hex[:8]}"
    handle = await stack.client.start_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(entity="supplier", fix=False, page_size=1, pages_per_run=2, trigger="test"),
        id=workflow_id,
        task_queue=stack.settings.task_queue,
    )
    await handle.result()
    runs: list[str] = []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        runs.append(run_id)
        last = (await stack.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()).events[-1]
        moved = last.HasField("workflow_execution_continued_as_new_event_attributes")
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id if moved else None
        )
    assert len(runs) >= 2
    await recorder.record(
        "supplier_paged_first_run",
        workflow_id,
        run_id=runs[0],
        expect=CONTINUED,
        what="2 pages, continue-as-new",
    )
    await recorder.record(
        "supplier_paged_last_run", workflow_id, run_id=runs[-1], expect=COMPLETED, what="last run, report"
    )


async def test_reconcile_failing_pages_end_a_failed_run(stack: Stack, recorder: Recorder) -> None:
    rule = {"program": "CRS620MI", "transaction": "LstByNumber", "status": 503, "count": 10_000}
    await stack.m3.post("/_sandbox/faults", json=rule)
    workflow_id = f"reconcile-supplier-record-{uuid.uuid4().hex[:8]}"
    try:
        report = await stack.client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(entity="supplier", fix=False, trigger="test", retry_window=timedelta(seconds=3)),
            id=workflow_id,
            task_queue=stack.settings.task_queue,
        )
    finally:
        await stack.m3.delete("/_sandbox/faults")
    assert report.phase == "failed"
    await recorder.record(
        "supplier_failed_run", workflow_id, expect=COMPLETED, what="M3 list failing past the retry window"
    )
