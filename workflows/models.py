"""Inputs, signals, updates and the queryable state of the order-to-cash workflow."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from activities.models import FieldIssue


class Stage(StrEnum):
    """Where an order stands. The order of members is the order of the process."""

    RECEIVED = "Received"
    VALIDATED = "Validated"
    CUSTOMER_READY = "CustomerReady"
    ORDER_CREATED = "OrderCreated"
    ALLOCATED = "Allocated"
    PICKING = "Picking"
    SHIPPED = "Shipped"
    INVOICED = "Invoiced"
    PAID = "Paid"
    NEEDS_ATTENTION = "NeedsAttention"
    CANCELLED = "Cancelled"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)


# M3 customer-order line status (lowest/highest, ORSL/ORST) to the stage it means.
M3_STATUS_STAGES: dict[str, Stage] = {
    "22": Stage.ORDER_CREATED,
    "33": Stage.ALLOCATED,
    "44": Stage.PICKING,
    "66": Stage.SHIPPED,
    "77": Stage.INVOICED,
}
# The stages a SyncSalesOrder status moves an order to. Confirmed (22) is the workflow's own step;
# Invoiced (77) needs the invoice, which comes with SyncInvoice.
SALES_ORDER_BOD_STAGES = frozenset({Stage.ALLOCATED, Stage.PICKING, Stage.SHIPPED})


class OrderToCashInput(BaseModel):
    bng_order_id: str
    payload: dict[str, Any] = Field(description="The webhook's data exactly as BNG sent it")
    webhook_id: str | None = None
    received_at: datetime | None = None
    # How long M3 or BNG may stay unreachable before a step parks the order as an outage.
    retry_window: timedelta = timedelta(hours=12)
    # How long a partly paid invoice waits for the rest before the order parks as underpaid.
    payment_wait: timedelta = timedelta(days=14)
    # The payment's GL side (settings.payment_gl): M3's own from the ARS040MI batch, or a clearing
    # journal m3bng posts through GLS840MI as well.
    payment_gl: Literal["m3_ar_batch", "gl_journal"] = "m3_ar_batch"
    # How the order calls M3 and BNG (settings.order_calls): as local activities with the stage
    # published to visibility once per wait (short history), or each call a regular activity.
    # Orders started before the choice existed have none: they replay as they ran, with activities.
    calls: Literal["local", "activities"] = "activities"


AttentionKind = Literal[
    "invalid_payload",  # the BNG order does not validate or map
    "m3_business_error",  # M3 refused a transaction (NOK): its code, field and message
    "bng_business_error",  # BNG refused a call (4xx)
    "outage",  # M3 or BNG stayed unreachable for the whole retry window
    "invalid_bod",  # a BOD that cannot move the order (no total, currency, other order...)
    "payment_mismatch",  # a payment in another currency than the invoice, or more than is open
    "underpaid",  # the invoice is partly paid and the rest did not come in time
    "match_mismatch",  # a supplier invoice differs from its PO and receipts beyond the tolerances
    "duplicate",  # the supplier already has an invoice with this number in M3
    "unexpected",  # any other failure: a defect to report, with its message
]

# What an operator can do with a parked order: ``fix`` sends edited data for the step,
# ``accept`` takes one of the attention's suggested fixes.
OperatorAction = Literal["retry", "fix", "skip", "cancel", "accept"]


class Suggestion(BaseModel):
    """A fix m3bng proposes for a parked document, which an operator can accept in one action."""

    id: str
    summary: str
    data: dict[str, Any] = {}


class Attention(BaseModel):
    """Why an order is parked, and what an operator can do about it."""

    kind: AttentionKind
    summary: str
    issues: list[FieldIssue] = []
    m3_program: str | None = None
    m3_transaction: str | None = None
    m3_code: str | None = None
    since: datetime | None = None
    # The step that stopped (e.g. "post payment") and the data it was given, for a fix.
    step: str | None = None
    data: dict[str, Any] | None = None
    actions: list[OperatorAction] = ["retry", "fix", "cancel"]
    suggestions: list[Suggestion] = []


class TimelineEntry(BaseModel):
    at: datetime
    step: str
    detail: str = ""
    outcome: Literal["ok", "error", "info"] = "ok"


class M3OrderEvent(BaseModel):
    """What an ION BOD from M3 tells about an order; sent to the workflow as a signal."""

    bod_id: str
    noun: Literal["SalesOrder", "Shipment", "Invoice"]
    order_number: str | None = None
    orsl: str | None = None
    orst: str | None = None
    delivery_number: str | None = None
    invoice_number: str | None = None
    invoice_year: int | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    net_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    total_amount: Decimal | None = None
    currency: str | None = None
    occurred_at: datetime | None = None


class PaymentCaptured(BaseModel):
    payment_id: str
    amount: Decimal
    currency: str
    captured_at: datetime
    method: str = "Card"


class FixPayload(BaseModel):
    """Update sent by an operator: a corrected order payload for a parked order."""

    payload: dict[str, Any]
    reason: str = ""


class Resume(BaseModel):
    """Update sent by an operator once the cause of an M3 error is fixed (e.g. the item exists now)."""

    reason: str = ""


class SkipStep(BaseModel):
    """Update sent by an operator: leave the parked step undone (e.g. the status push) and go on."""

    reason: str


class CancelOrder(BaseModel):
    reason: str


class AcceptSuggestion(BaseModel):
    """Update sent by an operator: take the suggested fix with this id (e.g. accept a price difference)."""

    suggestion: str
    reason: str = ""


class InvoiceInfo(BaseModel):
    invoice_number: str
    invoice_year: int
    invoice_date: date
    due_date: date | None = None
    net_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    currency: str


class OrderView(BaseModel):
    """The answer of the ``status`` query: one order's stage and its whole timeline."""

    bng_order_id: str
    stage: Stage
    m3_customer_number: str | None = None
    m3_temporary_order_number: str | None = None
    m3_order_number: str | None = None
    m3_status: str | None = None
    delivery_number: str | None = None
    invoice: InvoiceInfo | None = None
    payment_id: str | None = None
    attention: Attention | None = None
    timeline: list[TimelineEntry] = []


class OrderToCashResult(BaseModel):
    bng_order_id: str
    stage: Stage
    m3_order_number: str | None = None
    invoice_number: str | None = None
    payment_id: str | None = None
    # Every BNG payment the order took (posted or skipped): a redelivery of one is a duplicate.
    payment_ids: list[str] = []


def order_workflow_id(bng_order_id: str) -> str:
    """One workflow per BNG order: the id is derived from the order id, so duplicates collapse."""
    return f"order-{bng_order_id}"
