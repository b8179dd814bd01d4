"""Where procure-to-pay and finance events go: start or signal the document's workflow.

BNG webhooks start one workflow per document (``po-``, ``supplier-invoice-``, ``journal-``,
``refund-`` + the BNG id); changes, cancellations and goods receipts signal the PO's workflow; M3's
SyncPurchaseOrder and SyncReceiveDelivery BODs signal it too, found by the PO number in the
document links. What cannot be delivered goes to the dead-letter list, like every other event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from clients.bng.models import WebhookEvent, WebhookEventType
from clients.ion.bod_models import PurchaseOrderBod, ReceiveDeliveryBod
from starter.routed import Routed, Router, dead, key, signal
from storage import document_links
from workflows import search_attributes as sa
from workflows import summaries
from workflows.documents import (
    DocumentInput,
    DocumentStage,
    DocumentType,
    GoodsReceiptEvent,
    M3PurchaseOrderEvent,
    PurchaseOrderChange,
    PurchaseOrderLineState,
    SupplierInvoiceInput,
    document_workflow_id,
)
from workflows.journal import JournalWorkflow
from workflows.purchase_order import PurchaseOrderWorkflow
from workflows.refund import RefundWorkflow
from workflows.supplier_invoice import SupplierInvoiceWorkflow

log = structlog.get_logger("routing")


@dataclass(frozen=True)
class _Start:
    document_type: DocumentType
    id_field: str
    run: Any
    input_type: type[DocumentInput]


STARTS: dict[str, _Start] = {
    WebhookEventType.PURCHASEORDER_CREATED: _Start(
        DocumentType.PURCHASE_ORDER, "PurchaseOrderID", PurchaseOrderWorkflow.run, DocumentInput
    ),
    WebhookEventType.SUPPLIERINVOICE_CREATED: _Start(
        DocumentType.SUPPLIER_INVOICE, "SupplierInvoiceID", SupplierInvoiceWorkflow.run, SupplierInvoiceInput
    ),
    WebhookEventType.JOURNAL_CREATED: _Start(
        DocumentType.JOURNAL, "JournalID", JournalWorkflow.run, DocumentInput
    ),
    WebhookEventType.PAYMENT_REFUNDED: _Start(
        DocumentType.REFUND, "RefundID", RefundWorkflow.run, DocumentInput
    ),
}

# Signals to a running PO workflow: event type -> the key of its PO in the event's data.
PO_CHANGES = frozenset({WebhookEventType.PURCHASEORDER_UPDATED, WebhookEventType.PURCHASEORDER_CANCELLED})

# BNG echoes every status m3bng writes to a document: acknowledged, not routed.
ECHOES = frozenset(
    {
        WebhookEventType.PURCHASEORDER_STATUS_CHANGED.value,
        WebhookEventType.SUPPLIERINVOICE_STATUS_CHANGED.value,
        WebhookEventType.JOURNAL_STATUS_CHANGED.value,
    }
)


def handles(event_type: str) -> bool:
    return (
        event_type in STARTS
        or event_type in PO_CHANGES
        or event_type == WebhookEventType.GOODSRECEIPT_CREATED
        or event_type in ECHOES
    )


async def route_document_webhook(router: Router, event: WebhookEvent, webhook_id: str, usable: Any) -> Routed:
    """Route one verified webhook about a P2P or finance document; ``usable`` checks a BNG id."""
    if event.type in ECHOES:
        return Routed(outcome="ignored", detail=f"{event.type} is m3bng's own status, echoed")
    if event.type in STARTS:
        start = STARTS[event.type]
        bng_id = event.data.get(start.id_field)
        if not isinstance(bng_id, str) or not usable(bng_id):
            return dead(
                event.type, f"{event.type} without a usable {start.id_field}", business_key=key(bng_id)
            )
        return await _start(router, start, bng_id, event, webhook_id)
    po_id = event.data.get("PurchaseOrderID")
    if not isinstance(po_id, str) or not usable(po_id):
        return dead(event.type, f"{event.type} without a usable PurchaseOrderID", business_key=key(po_id))
    workflow_id = document_workflow_id(DocumentType.PURCHASE_ORDER, po_id)
    if event.type in PO_CHANGES:
        kind = "cancelled" if event.type == WebhookEventType.PURCHASEORDER_CANCELLED else "updated"
        change = PurchaseOrderChange(kind=kind, webhook_id=webhook_id, payload=event.data)
        reason = await signal(router.client, workflow_id, PurchaseOrderWorkflow.changed, change)
    else:
        receipt = GoodsReceiptEvent(webhook_id=webhook_id, payload=event.data)
        reason = await signal(router.client, workflow_id, PurchaseOrderWorkflow.goods_received, receipt)
    if reason:
        return dead(event.type, reason, business_key=po_id, workflow_id=workflow_id)
    log.info(
        "purchase order signalled",
        type=event.type,
        workflow_id=workflow_id,
        bng_id=po_id,
        webhook_id=webhook_id,
    )
    return Routed(outcome="signalled", workflow_id=workflow_id)


async def _start(router: Router, start: _Start, bng_id: str, event: WebhookEvent, webhook_id: str) -> Routed:
    workflow_id = document_workflow_id(start.document_type, bng_id)
    attributes = [
        SearchAttributePair(sa.DOCUMENT_TYPE, start.document_type.value),
        SearchAttributePair(sa.DOCUMENT_ID, bng_id),
        SearchAttributePair(sa.DOCUMENT_STAGE, DocumentStage.RECEIVED.value),
    ]
    order_id = event.data.get("OrderID")
    if start.document_type == DocumentType.REFUND and isinstance(order_id, str):
        attributes.append(SearchAttributePair(sa.BNG_ORDER_ID, order_id))
    summary, details = summaries.document_start(start.document_type.value, bng_id, event.data, webhook_id)
    try:
        await router.client.start_workflow(
            start.run,
            start.input_type(bng_id=bng_id, payload=event.data, webhook_id=webhook_id),
            id=workflow_id,
            task_queue=router.settings.task_queue,
            # As for orders: a redelivery joins the running workflow, a finished one refuses it,
            # a failed or terminated one starts again.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes(attributes),
            static_summary=summary,
            static_details=details,
        )
    except WorkflowAlreadyStartedError:
        return Routed(
            outcome="duplicate", workflow_id=workflow_id, detail=f"{start.document_type} already processed"
        )
    log.info("document workflow started", workflow_id=workflow_id, bng_id=bng_id, webhook_id=webhook_id)
    return Routed(outcome="started", workflow_id=workflow_id)


# --- M3 BODs ----------------------------------------------------------------------------------


async def route_purchasing_bod(router: Router, bod: PurchaseOrderBod | ReceiveDeliveryBod) -> list[Routed]:
    """A SyncPurchaseOrder names one PO; a SyncReceiveDelivery one or more: signal each."""
    routed = []
    for puno, event in purchase_order_events(bod):
        bng_id = await asyncio.to_thread(_bng_po_for, router.sessions, router.settings.m3_cono, puno)
        if bng_id is None:
            routed.append(
                dead(
                    event.noun,
                    f"M3 PO {puno} was not placed by m3bng",
                    business_key=puno,
                    event_id=bod.bod_id,
                )
            )
            continue
        workflow_id = document_workflow_id(DocumentType.PURCHASE_ORDER, bng_id)
        reason = await signal(router.client, workflow_id, PurchaseOrderWorkflow.m3_po_event, event)
        if reason is None:
            routed.append(Routed(outcome="signalled", workflow_id=workflow_id))
        elif await _completed(router.client, workflow_id):
            # BODs come in order per document only: a status after the PO closed is old news.
            routed.append(
                Routed(outcome="ignored", workflow_id=workflow_id, detail=f"PO {puno} is finished: {reason}")
            )
        else:
            routed.append(
                dead(event.noun, reason, business_key=bng_id, workflow_id=workflow_id, event_id=bod.bod_id)
            )
    return routed


def purchase_order_events(
    bod: PurchaseOrderBod | ReceiveDeliveryBod,
) -> list[tuple[str, M3PurchaseOrderEvent]]:
    if isinstance(bod, PurchaseOrderBod):
        lines = [
            PurchaseOrderLineState(
                line_number=line.line_number,
                item=line.item,
                quantity=line.quantity,
                received_quantity=line.received_quantity,
                lowest_status=line.lowest_status,
                highest_status=line.highest_status,
            )
            for line in bod.lines
        ]
        event = M3PurchaseOrderEvent(
            bod_id=bod.bod_id,
            noun="PurchaseOrder",
            purchase_order_number=bod.purchase_order_number,
            status_code=bod.status_code,
            lines=lines,
            occurred_at=bod.creation_datetime,
        )
        return [(bod.purchase_order_number, event)]
    events = []
    for puno in dict.fromkeys(item.purchase_order_number for item in bod.items):
        event = M3PurchaseOrderEvent(
            bod_id=f"{bod.bod_id}:{puno}",
            noun="ReceiveDelivery",
            purchase_order_number=puno,
            receipt_number=bod.receipt_number,
            occurred_at=bod.creation_datetime,
        )
        events.append((puno, event))
    return events


def _bng_po_for(sessions: sessionmaker[Session], cono: int, puno: str) -> str | None:
    with sessions() as session:
        link = document_links.find_by_m3(session, "purchase_order", cono, puno)
        return link.bng_id if link else None


async def _completed(client: Client, workflow_id: str) -> bool:
    try:
        return (
            await client.get_workflow_handle(workflow_id).describe()
        ).status == WorkflowExecutionStatus.COMPLETED
    except RPCError:
        return False
