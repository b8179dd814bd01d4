"""BNG webhooks in: verify the signature, then start or signal the order's workflow.

Answers within milliseconds: nothing here waits for M3 or BNG, only for Temporal to record the
start or the signal. A duplicate delivery finds the workflow already there and starts nothing.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import structlog
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from clients.bng.models import Payment, WebhookEvent, WebhookEventType
from clients.bng.webhooks import WebhookVerificationError, verify
from mapping.ownership import Side
from settings import Settings
from starter.sync_routing import notify_change
from workflows import search_attributes as sa
from workflows.models import OrderToCashInput, PaymentCaptured, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.sync_models import RecordChanged

log = structlog.get_logger("webhooks")
router = APIRouter()

# An order id that can name a workflow; anything else is kept under the webhook id instead.
_USABLE_ORDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


# BNG events about master data -> (entity, the key fields in the event's data).
MASTER_DATA_EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    WebhookEventType.CUSTOMER_CREATED: ("customer", ("CustomerID",)),
    WebhookEventType.CUSTOMER_UPDATED: ("customer", ("CustomerID",)),
    WebhookEventType.CUSTOMER_DELETED: ("customer", ("CustomerID",)),
    WebhookEventType.PRODUCT_CREATED: ("product", ("SKU",)),
    WebhookEventType.PRODUCT_UPDATED: ("product", ("SKU",)),
    WebhookEventType.PRODUCT_DELETED: ("product", ("SKU",)),
    WebhookEventType.VENDOR_CREATED: ("supplier", ("VendorID",)),
    WebhookEventType.VENDOR_UPDATED: ("supplier", ("VendorID",)),
    WebhookEventType.VENDOR_DELETED: ("supplier", ("VendorID",)),
    WebhookEventType.INVENTORY_UPDATED: ("inventory", ("SKU", "Warehouse")),
}


class WebhookAck(BaseModel):
    outcome: Literal["started", "duplicate", "signalled", "ignored"]
    workflow_id: str | None = None
    detail: str = ""


@router.post("/webhooks/bng", status_code=202, response_model=WebhookAck)
async def bng_webhook(request: Request) -> WebhookAck:
    settings = request.app.state.settings
    body = await request.body()
    try:
        verify(
            settings.bng_webhook_secret.get_secret_value(),
            request.headers,
            body,
            tolerance_seconds=settings.bng_webhook_tolerance_seconds,
        )
    except WebhookVerificationError as error:
        log.warning("webhook rejected", reason=str(error))
        raise HTTPException(status_code=401, detail=f"invalid webhook signature: {error}") from error

    client: Client = request.app.state.temporal
    webhook_id = request.headers["webhook-id"]
    try:
        event = WebhookEvent.model_validate_json(body)
    except ValidationError:
        # Signed by BNG but not even an event envelope: keep it as a parked order all the same.
        raw = {"unparsed_body": body.decode("utf-8", errors="replace")}
        return await _start_order(client, settings.task_queue, f"unparsed-{webhook_id}", raw, webhook_id)

    if event.type == WebhookEventType.ORDER_CREATED:
        order_id = event.data.get("OrderID")
        if not isinstance(order_id, str) or not _USABLE_ORDER_ID.fullmatch(order_id):
            order_id = f"invalid-{webhook_id}"
        return await _start_order(client, settings.task_queue, order_id, event.data, webhook_id)
    if event.type == WebhookEventType.PAYMENT_CAPTURED:
        return await _signal_payment(client, event.data)
    if event.type in MASTER_DATA_EVENTS:
        return await _notify_master_data(client, settings, event, webhook_id)
    log.info("webhook ignored", type=event.type, webhook_id=webhook_id)
    return WebhookAck(outcome="ignored", detail=f"event type {event.type} is not handled here")


async def _start_order(
    client: Client, task_queue: str, order_id: str, payload: dict[str, Any], webhook_id: str
) -> WebhookAck:
    workflow_id = order_workflow_id(order_id)
    try:
        await client.start_workflow(
            OrderToCashWorkflow.run,
            OrderToCashInput(bng_order_id=order_id, payload=payload, webhook_id=webhook_id),
            id=workflow_id,
            task_queue=task_queue,
            # A redelivery while the order runs joins it; after it has finished, it is refused.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BNG_ORDER_ID, order_id),
                    SearchAttributePair(sa.ORDER_STAGE, Stage.RECEIVED.value),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        log.info("duplicate order webhook", workflow_id=workflow_id, webhook_id=webhook_id)
        return WebhookAck(outcome="duplicate", workflow_id=workflow_id, detail="order already processed")
    log.info("order workflow started", workflow_id=workflow_id, webhook_id=webhook_id)
    return WebhookAck(outcome="started", workflow_id=workflow_id)


async def _signal_payment(client: Client, data: dict[str, Any]) -> WebhookAck:
    try:
        payment = Payment.model_validate(data)
    except ValidationError as error:
        raise HTTPException(status_code=422, detail=error.errors(include_url=False)) from error
    workflow_id = order_workflow_id(payment.OrderID)
    handle = client.get_workflow_handle(workflow_id)
    captured = PaymentCaptured(
        payment_id=payment.PaymentID,
        amount=payment.Amount,
        currency=payment.Currency,
        captured_at=payment.CapturedAt,
        method=payment.Method,
    )
    try:
        await handle.signal(OrderToCashWorkflow.payment_captured, captured)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            closed = (await handle.describe()).status != WorkflowExecutionStatus.RUNNING
        except RPCError:
            closed = False
        if closed:
            return WebhookAck(
                outcome="ignored", workflow_id=workflow_id, detail="order workflow has finished"
            )
        # The order's own webhook may still be on its way: BNG retries this one later.
        raise HTTPException(status_code=409, detail=f"no workflow for order {payment.OrderID} yet") from error
    return WebhookAck(outcome="signalled", workflow_id=workflow_id)


async def _notify_master_data(
    client: Client, settings: Settings, event: WebhookEvent, webhook_id: str
) -> WebhookAck:
    entity, key_fields = MASTER_DATA_EVENTS[event.type]
    parts = [event.data.get(name) for name in key_fields]
    if not all(isinstance(part, str) and part for part in parts):
        # Nothing to route by: answer 422 so the delivery shows as failed in BNG's log, kept there.
        missing = ", ".join(name for name, part in zip(key_fields, parts, strict=True) if not part)
        raise HTTPException(status_code=422, detail=f"{event.type} without {missing}")
    bng_key = "/".join(str(part) for part in parts)
    change = RecordChanged(origin=Side.BNG, event_id=webhook_id, reason=event.type)
    workflow_id = await notify_change(
        client, settings.task_queue, entity, bng_key, change, idle_minutes=settings.sync_idle_minutes
    )
    log.info("master data change routed", type=event.type, workflow_id=workflow_id, webhook_id=webhook_id)
    return WebhookAck(outcome="signalled", workflow_id=workflow_id)
