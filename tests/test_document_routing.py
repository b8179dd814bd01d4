"""Routing of procure-to-pay and finance events: what cannot be delivered is a dead letter, echoes
of m3bng's own status writes are acknowledged and dropped, a redelivered creation joins its workflow."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx

from sandbox.m3 import bods
from sandbox.m3.db import PurchaseHead, PurchaseLine
from tests.conftest import Stack
from tests.documents import bng_post, wait_for
from tests.test_purchasing import ensure_vendor, purchase_order
from tests.test_receiver_routing import dead_letter, event, post_bod, post_webhook
from workflows.documents import DocumentStage, DocumentType, document_workflow_id


def sync_purchase_order(puno: str) -> bytes:
    head = PurchaseHead(
        PUNO=puno,
        SUNO="S1",
        WHLO="300",
        FACI="100",
        CUCD="EUR",
        YRE1="x",
        PUDT=date(2026, 11, 24),
        PUSL="35",
        PUST="35",
        NTAM=Decimal(5),
    )
    line = PurchaseLine(
        PUNO=puno,
        PNLI=1,
        PNLS=0,
        ITNO="TYRE-28",
        ORQA=Decimal(5),
        PUPR=Decimal(1),
        PUUN="EA",
        RVQA=Decimal(0),
        IVQA=Decimal(0),
        PUSL="35",
        PUST="35",
    )
    now = datetime.now(UTC)
    return bods.sync_purchase_order(bods.Envelope("M3BNG_TST", 100, "AAA"), head, [line], 1, now)


async def test_events_about_unknown_documents_are_dead_lettered(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    po_id = f"PO-DL-{uuid.uuid4().hex[:8]}"
    receipt = event(
        "goodsreceipt.created",
        {"ReceiptID": "GR1", "PurchaseOrderID": po_id, "ReceivedAt": "2026-11-24T10:00:00Z", "Lines": []},
    )
    ack = await post_webhook(receiver, receipt)
    assert ack["outcome"] == "dead-letter", ack
    assert ack["workflow_id"] == document_workflow_id(DocumentType.PURCHASE_ORDER, po_id)
    row = dead_letter(stack, ack["dead_letter_id"])
    assert row.event_type == "goodsreceipt.created" and row.business_key == po_id

    for body in (
        event("purchaseorder.created", {"VendorID": "V"}),
        event("supplierinvoice.created", {"SupplierInvoiceID": "../x"}),
        event("purchaseorder.cancelled", {}),
    ):
        ack = await post_webhook(receiver, body)
        assert ack["outcome"] == "dead-letter", (body, ack)

    ack = await post_bod(receiver, sync_purchase_order(f"9{uuid.uuid4().int % 10**9:09d}"))
    assert ack["outcome"] == "dead-letter" and "not placed by m3bng" in ack["detail"], ack


async def test_status_echoes_are_acknowledged_and_a_redelivered_creation_joins_its_workflow(
    stack: Stack, receiver: httpx.AsyncClient
) -> None:
    ack = await post_webhook(receiver, event("purchaseorder.status_changed", {"PurchaseOrderID": "PO-1"}))
    assert ack["outcome"] == "ignored", ack

    await ensure_vendor(stack)
    po_id = f"PO-RT-{uuid.uuid4().hex[:8]}"
    body = purchase_order(po_id)
    await bng_post(stack, "/api/v1/purchase-orders", body)
    workflow_id = document_workflow_id(DocumentType.PURCHASE_ORDER, po_id)
    await wait_for(stack, DocumentType.PURCHASE_ORDER, po_id, DocumentStage.PLACED, DocumentStage.CONFIRMED)

    # BNG delivers the creation again (at least once): it joins the running workflow.
    again = await post_webhook(receiver, event("purchaseorder.created", body))
    assert again["workflow_id"] == workflow_id and again["outcome"] in ("started", "duplicate"), again
    runs = [wf async for wf in stack.client.list_workflows(f'WorkflowId = "{workflow_id}"')]
    assert len(runs) == 1
