"""What the procure-to-pay and finance workflows share: document types, ids, the view, the signals.

One workflow per BNG document, its id derived from the BNG id so that a redelivered webhook
joins the running workflow instead of starting a second one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.models import WORKFLOW_ID_PREFIXES, DocumentType, document_workflow_id
from workflows.models import Attention, TimelineEntry

__all__ = ["WORKFLOW_ID_PREFIXES", "DocumentType", "document_workflow_id"]


class DocumentStage(StrEnum):
    """Every stage any document can be in; each document type uses the ones of its process."""

    RECEIVED = "Received"
    VALIDATED = "Validated"
    SUPPLIER_READY = "SupplierReady"
    PLACED = "Placed"
    CONFIRMED = "Confirmed"
    PARTLY_RECEIVED = "PartlyReceived"
    FULLY_RECEIVED = "FullyReceived"
    CLOSED = "Closed"
    MATCHED = "Matched"
    WAITING_FOR_RECEIPT = "WaitingForReceipt"
    ENTERED = "Entered"
    POSTED = "Posted"
    REJECTED = "Rejected"
    NEEDS_ATTENTION = "NeedsAttention"
    CANCELLED = "Cancelled"


FINAL_STAGES = frozenset(
    {DocumentStage.CLOSED, DocumentStage.POSTED, DocumentStage.REJECTED, DocumentStage.CANCELLED}
)


class DocumentInput(BaseModel):
    """How every document workflow starts: the BNG id and the webhook's data exactly as sent."""

    bng_id: str
    payload: dict[str, Any] = Field(description="The webhook's data exactly as BNG sent it")
    webhook_id: str | None = None
    received_at: datetime | None = None
    # How long M3 or BNG may stay unreachable before a step parks the document as an outage.
    retry_window: timedelta = timedelta(hours=12)


class DocumentView(BaseModel):
    """The answer of the ``status`` query: one document's stage, M3 number and whole timeline."""

    document_type: DocumentType
    document_id: str
    stage: DocumentStage
    m3_number: str | None = None
    attention: Attention | None = None
    timeline: list[TimelineEntry] = []
    # What the document is about, for an operator: supplier, amounts, PO lines and their status...
    details: dict[str, Any] = {}


class DocumentResult(BaseModel):
    document_type: DocumentType
    document_id: str
    stage: DocumentStage
    m3_number: str | None = None


# --- purchase orders ------------------------------------------------------------------------------


class PurchaseOrderChange(BaseModel):
    """A buyer's change or cancellation in BNG (purchaseorder.updated / purchaseorder.cancelled)."""

    kind: Literal["updated", "cancelled"]
    webhook_id: str
    payload: dict[str, Any]


class GoodsReceiptEvent(BaseModel):
    """Goods received in BNG's WMS against the PO (goodsreceipt.created): the GoodsReceipt as sent."""

    webhook_id: str
    payload: dict[str, Any]


class PurchaseOrderLineState(BaseModel):
    line_number: int
    item: str | None = None
    quantity: Decimal | None = None
    received_quantity: Decimal | None = None
    lowest_status: str | None = None
    highest_status: str | None = None


class M3PurchaseOrderEvent(BaseModel):
    """What an M3 BOD (SyncPurchaseOrder, SyncReceiveDelivery) tells about a PO; sent as a signal."""

    bod_id: str
    noun: Literal["PurchaseOrder", "ReceiveDelivery"]
    purchase_order_number: str
    status_code: str | None = None
    lines: list[PurchaseOrderLineState] = []
    receipt_number: str | None = None
    occurred_at: datetime | None = None


# --- supplier invoices ----------------------------------------------------------------------------


class SupplierInvoiceInput(DocumentInput):
    # While an operator lets an invoice wait for its goods receipt: how often the match is tried
    # again, and for how long before the invoice parks again.
    recheck_every: timedelta = timedelta(minutes=30)
    receipt_wait: timedelta = timedelta(days=14)
