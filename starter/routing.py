"""Where an authenticated event goes: start or signal a workflow, or the dead-letter list.

No HTTP here. The receiver calls these after it has checked the caller (signature, IMS auth),
and ``m3bng deadletter replay`` calls the same functions with a stored event, so a replayed
event is routed exactly like a fresh one.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.master_data.bulk_echoes import is_creation_echo
from activities.master_data.m3_records import inventory_key
from activities.master_data.models import RecordChanged
from clients.bng.models import Payment, PaymentStatus, WebhookEvent, WebhookEventType
from clients.ion import UnsupportedBodError, parse_bod
from clients.ion.bod import InvoiceBod, SalesOrderBod, ShipmentBod
from clients.ion.bod_models import (
    Bod,
    CustomerPartyMasterBod,
    InventoryCountBod,
    ItemMasterBod,
    PurchaseOrderBod,
    ReceiveDeliveryBod,
    SupplierPartyMasterBod,
)
from mapping.ownership import Side
from starter import document_routing
from starter.routed import Routed, Router, dead, first_error, key, signal
from starter.sync_routing import bng_key_of_m3_record, notify_change
from storage import deadletter, xref
from storage.models import EventSource
from workflows import search_attributes as sa
from workflows import summaries
from workflows.models import (
    M3_STATUS_STAGES,
    SALES_ORDER_BOD_STAGES,
    M3OrderEvent,
    OrderToCashInput,
    OrderToCashResult,
    PaymentCaptured,
    Stage,
    order_workflow_id,
)
from workflows.order_to_cash import OrderToCashWorkflow

log = structlog.get_logger("routing")

# An order id that can name a workflow; anything else is dead-lettered.
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

# What m3bng's own creations in BNG come back as: such an echo is recognised without a workflow.
CREATED_EVENTS = frozenset(
    {
        WebhookEventType.CUSTOMER_CREATED,
        WebhookEventType.PRODUCT_CREATED,
        WebhookEventType.VENDOR_CREATED,
        WebhookEventType.INVENTORY_UPDATED,
    }
)

# Acknowledged on purpose and not routed: BNG echoes every status and invoice m3bng writes to an
# order as order.updated. Keeping those would fill the dead-letter list with m3bng's own writes.
ACKNOWLEDGED_EVENTS = frozenset({WebhookEventType.ORDER_UPDATED.value})

# What m3bng's webhook endpoint in BNG subscribes to: everything but the echoes of its own
# writes, which it would only acknowledge (about six per order: every status and the invoice).
SUBSCRIBED_EVENTS = tuple(
    event.value
    for event in WebhookEventType
    if event.value not in ACKNOWLEDGED_EVENTS and event.value not in document_routing.ECHOES
)

MASTER_DATA_BODS = (CustomerPartyMasterBod, ItemMasterBod, SupplierPartyMasterBod, InventoryCountBod)

# --- BNG webhooks -----------------------------------------------------------------------------


class OrderIntake(Protocol):
    """Decides how a new order is taken in (``starter.intake.Intake``): ``start_now`` starts its
    workflow before the ack; or the intake keeps the order durably and starts it later."""

    async def take(
        self, order_id: str, webhook_id: str, body: bytes, start_now: Callable[[], Awaitable[Routed]]
    ) -> Routed: ...


async def route_webhook(
    router: Router, body: bytes, webhook_id: str, *, intake: OrderIntake | None = None
) -> Routed:
    """Route one verified BNG webhook body (``webhook_id`` is its Standard Webhooks id).

    Without ``intake`` (a replay, the inbox's own forwarder) an order's workflow is started here."""
    try:
        event = WebhookEvent.model_validate_json(body)
    except ValidationError as error:
        return dead("unparsed", f"not a webhook event envelope: {first_error(error)}")

    if event.type == WebhookEventType.ORDER_CREATED:
        order_id = event.data.get("OrderID")
        if not isinstance(order_id, str) or not _USABLE_ORDER_ID.fullmatch(order_id):
            return dead(event.type, "order.created without a usable OrderID", business_key=key(order_id))
        start_now = functools.partial(_start_order, router, order_id, event.data, webhook_id)
        if intake is not None:
            return await intake.take(order_id, webhook_id, body, start_now)
        return await start_now()
    if event.type == WebhookEventType.PAYMENT_CAPTURED:
        return await _signal_payment(router, event)
    if document_routing.handles(event.type):
        return await document_routing.route_document_webhook(
            router, event, webhook_id, _USABLE_ORDER_ID.fullmatch
        )
    if event.type in MASTER_DATA_EVENTS:
        return await _notify_master_data(router, event, webhook_id)
    if event.type in ACKNOWLEDGED_EVENTS:
        return Routed(outcome="ignored", detail=f"{event.type} needs nothing from m3bng")
    return dead(event.type, f"event type {event.type!r} is not handled")


async def _start_order(router: Router, order_id: str, payload: dict[str, Any], webhook_id: str) -> Routed:
    workflow_id = order_workflow_id(order_id)
    # What the Temporal UI shows for the order: its id, customer, lines and amount.
    summary, details = summaries.order_start(order_id, payload, webhook_id)
    try:
        await router.client.start_workflow(
            OrderToCashWorkflow.run,
            OrderToCashInput(
                bng_order_id=order_id,
                payload=payload,
                webhook_id=webhook_id,
                payment_gl=router.settings.payment_gl,
                calls=router.settings.order_calls,
            ),
            id=workflow_id,
            task_queue=router.settings.task_queue,
            # A redelivery while the order runs joins it (never two running). After a completed
            # run it is refused as a duplicate; after a failed, terminated, cancelled or timed-out
            # run the order starts again.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.BNG_ORDER_ID, order_id),
                    SearchAttributePair(sa.ORDER_STAGE, Stage.RECEIVED.value),
                ]
            ),
            static_summary=summary,
            static_details=details,
        )
    except WorkflowAlreadyStartedError:
        log.info(
            "duplicate order webhook", workflow_id=workflow_id, bng_order_id=order_id, webhook_id=webhook_id
        )
        return Routed(outcome="duplicate", workflow_id=workflow_id, detail="order already processed")
    log.info("order workflow started", workflow_id=workflow_id, bng_order_id=order_id, webhook_id=webhook_id)
    return Routed(outcome="started", workflow_id=workflow_id)


async def _signal_payment(router: Router, event: WebhookEvent) -> Routed:
    try:
        payment = Payment.model_validate(event.data)
    except ValidationError as error:
        order_id = event.data.get("OrderID")
        return dead(event.type, f"invalid payment: {first_error(error)}", business_key=key(order_id))
    workflow_id = order_workflow_id(payment.OrderID)
    if payment.Status != PaymentStatus.CAPTURED:
        # Only captured money is posted to M3; a refund or an authorisation needs a person.
        not_captured = f"payment {payment.PaymentID} is {payment.Status}, not {PaymentStatus.CAPTURED.value}"
        return dead(event.type, not_captured, business_key=payment.OrderID, workflow_id=workflow_id)
    captured = PaymentCaptured(
        payment_id=payment.PaymentID,
        amount=payment.Amount,
        currency=payment.Currency,
        captured_at=payment.CapturedAt,
        method=payment.Method,
    )
    if reason := await signal(router.client, workflow_id, OrderToCashWorkflow.payment_captured, captured):
        if await _took_payment(router.client, workflow_id, payment.PaymentID):
            # BNG delivers at least once: the finished order already took this very payment.
            return Routed(outcome="duplicate", workflow_id=workflow_id, detail="payment already taken")
        return dead(event.type, reason, business_key=payment.OrderID, workflow_id=workflow_id)
    return Routed(outcome="signalled", workflow_id=workflow_id)


async def _stale_for_finished_order(client: Client, workflow_id: str, event: M3OrderEvent) -> str | None:
    """Why a BOD about a completed order changes nothing, or None if it needs an operator.

    ION keeps BODs in order per document only, so a status BOD can arrive after the invoice
    that completed the order: old news. The order's own invoice again is a redelivery. Another
    invoice for a finished order (a credit note, a second invoice) is not, and is kept.
    """
    result = await _completed_result(client, workflow_id)
    # A cancelled order's M3 order may live on (confirmed before the cancel): an operator sees it.
    if result is None or result.stage != Stage.PAID:
        return None
    if event.noun in ("SalesOrder", "Shipment"):
        return f"{event.noun} status for order {workflow_id}, which is {result.stage.value}"
    if event.invoice_number is not None and event.invoice_number == result.invoice_number:
        return f"invoice {event.invoice_number} again for order {workflow_id}, which is {result.stage.value}"
    return None


async def _took_payment(client: Client, workflow_id: str, payment_id: str) -> bool:
    """True if the order's last run completed having taken ``payment_id``."""
    result = await _completed_result(client, workflow_id)
    return result is not None and payment_id in result.payment_ids


async def _completed_result(client: Client, workflow_id: str) -> OrderToCashResult | None:
    """The result of the order's last run if it completed (not failed, terminated, running)."""
    handle = client.get_workflow_handle(workflow_id, result_type=OrderToCashResult)
    try:
        if (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
            return None
        result: OrderToCashResult = await handle.result()
    except (RPCError, WorkflowFailureError):
        return None
    return result


async def _notify_master_data(router: Router, event: WebhookEvent, webhook_id: str) -> Routed:
    entity, key_fields = MASTER_DATA_EVENTS[event.type]
    parts = [event.data.get(name) for name in key_fields]
    if not all(isinstance(part, str) and part for part in parts):
        missing = ", ".join(name for name, part in zip(key_fields, parts, strict=True) if not part)
        return dead(event.type, f"{event.type} without {missing}")
    bng_key = "/".join(str(part) for part in parts)
    settings = router.settings
    if event.type in CREATED_EVENTS and await asyncio.to_thread(
        is_creation_echo, router.sessions, settings.m3_cono, entity, bng_key, event.data
    ):
        return Routed(outcome="ignored", detail=f"{event.type} is m3bng's own creation, echoed")
    change = RecordChanged(origin=Side.BNG, event_id=webhook_id, reason=event.type)
    workflow_id = await notify_change(
        router.client, settings.task_queue, entity, bng_key, change, idle_minutes=settings.sync_idle_minutes
    )
    log.info(
        "master data change routed",
        type=event.type,
        workflow_id=workflow_id,
        entity=entity,
        bng_key=bng_key,
        webhook_id=webhook_id,
    )
    return Routed(outcome="signalled", workflow_id=workflow_id)


# --- ION BODs ---------------------------------------------------------------------------------


async def route_bod_xml(router: Router, xml: bytes) -> Routed:
    """Parse and route one BOD. A malformed BOD raises ``IonError``; an unhandled one is dead."""
    try:
        bod = parse_bod(xml)
    except UnsupportedBodError as error:
        noun = " ".join(part for part in (error.verb, error.noun) if part) or "unknown BOD"
        return dead(noun, f"BOD not handled: {error}")
    return await route_bod(router, bod)


async def route_bod(router: Router, bod: Bod) -> Routed:
    if isinstance(bod, MASTER_DATA_BODS):
        return await _notify_master_data_bod(router, bod)
    if isinstance(bod, PurchaseOrderBod | ReceiveDeliveryBod):
        results = await document_routing.route_purchasing_bod(router, bod)
        # A redelivery after an operator's replay signals every PO again; the BOD id dedupes it.
        if failed := next((result for result in results if result.dead), None):
            return failed
        workflow_ids = [result.workflow_id for result in results if result.workflow_id]
        outcome = results[0].outcome if len(results) == 1 else "signalled"
        return Routed(outcome=outcome, workflow_ids=workflow_ids, workflow_id=next(iter(workflow_ids), None))
    event, cuor, orno = order_event(bod)
    bng_order_id = cuor or await asyncio.to_thread(
        _bng_order_for, router.sessions, router.settings.m3_cono, orno
    )
    if bng_order_id is None:
        return dead(
            event.noun, f"M3 order {orno} was not placed by m3bng", business_key=orno, event_id=bod.bod_id
        )
    workflow_id = order_workflow_id(bng_order_id)
    if event.noun == "SalesOrder" and M3_STATUS_STAGES.get(event.orsl or "") not in SALES_ORDER_BOD_STAGES:
        # Confirmed (22) and invoiced (77) move nothing: the order confirms itself, and the invoice
        # comes with SyncInvoice. Not signalling them spares every order two workflow tasks.
        return Routed(
            outcome="ignored",
            workflow_id=workflow_id,
            detail=f"SyncSalesOrder status {event.orsl} moves nothing in the order's process",
        )
    if reason := await signal(router.client, workflow_id, OrderToCashWorkflow.m3_order_event, event):
        if stale := await _stale_for_finished_order(router.client, workflow_id, event):
            return Routed(outcome="ignored", workflow_id=workflow_id, detail=stale)
        return dead(
            event.noun, reason, business_key=bng_order_id, workflow_id=workflow_id, event_id=bod.bod_id
        )
    log.info(
        "BOD routed",
        noun=event.noun,
        bod_id=event.bod_id,
        workflow_id=workflow_id,
        bng_order_id=bng_order_id,
        orno=orno,
    )
    return Routed(outcome="signalled", workflow_id=workflow_id)


def order_event(bod: SalesOrderBod | ShipmentBod | InvoiceBod) -> tuple[M3OrderEvent, str | None, str | None]:
    """The workflow signal for a BOD, with the BNG order id (CUOR) and M3 order number it names."""
    if isinstance(bod, SalesOrderBod):
        event = M3OrderEvent(
            bod_id=bod.bod_id,
            noun="SalesOrder",
            order_number=bod.order_number,
            orsl=bod.orsl,
            orst=bod.orst,
            occurred_at=bod.creation_datetime,
        )
        return event, bod.customer_order_ref, bod.order_number
    if isinstance(bod, ShipmentBod):
        orno = next(iter(bod.order_numbers), None)
        event = M3OrderEvent(
            bod_id=bod.bod_id,
            noun="Shipment",
            order_number=orno,
            delivery_number=bod.delivery_number,
            occurred_at=bod.creation_datetime,
        )
        return event, next(iter(bod.customer_order_refs), None), orno
    event = M3OrderEvent(
        bod_id=bod.bod_id,
        noun="Invoice",
        order_number=bod.order_number,
        delivery_number=bod.delivery_number,
        invoice_number=bod.invoice_number,
        invoice_year=bod.invoice_year,
        invoice_date=bod.invoice_date,
        due_date=bod.due_date,
        net_amount=bod.net_amount,
        tax_amount=bod.tax_amount,
        total_amount=bod.total_amount,
        currency=bod.currency,
        occurred_at=bod.creation_datetime,
    )
    return event, bod.customer_order_ref, bod.order_number


def _bng_order_for(sessions: sessionmaker[Session], cono: int, orno: str | None) -> str | None:
    if orno is None:
        return None
    with sessions() as session:
        link = xref.find_order_by_m3(session, cono, orno)
        return link.bng_order_id if link else None


async def _notify_master_data_bod(
    router: Router, bod: CustomerPartyMasterBod | ItemMasterBod | SupplierPartyMasterBod | InventoryCountBod
) -> Routed:
    """A master-data BOD names one record (or, for balances, several): tell each its workflow."""
    settings = router.settings
    records: list[tuple[str, str]]
    if isinstance(bod, CustomerPartyMasterBod):
        records = [("customer", bod.customer_number)]
    elif isinstance(bod, SupplierPartyMasterBod):
        records = [("supplier", bod.supplier_number)]
    elif isinstance(bod, ItemMasterBod):
        records = [("product", bod.item_number)]
    else:
        records = [("inventory", inventory_key(itno, bod.warehouse)) for itno in bod.item_numbers]
    workflow_ids = []
    for entity, m3_key in records:
        bng_key = await bng_key_of_m3_record(router.sessions, settings.m3_cono, entity, m3_key)
        change = RecordChanged(origin=Side.M3, m3_key=m3_key, event_id=bod.bod_id, reason=f"Sync{bod.noun}")
        workflow_ids.append(
            await notify_change(
                router.client,
                settings.task_queue,
                entity,
                bng_key,
                change,
                idle_minutes=settings.sync_idle_minutes,
            )
        )
    log.info("BOD routed", noun=bod.noun, bod_id=bod.bod_id, workflows=len(workflow_ids))
    return Routed(outcome="signalled", workflow_ids=workflow_ids, workflow_id=next(iter(workflow_ids), None))


# --- shared -----------------------------------------------------------------------------------


# --- dead letters ------------------------------------------------------------------------------


async def keep_dead_letter(
    router: Router,
    routed: Routed,
    *,
    source: EventSource,
    body: bytes,
    event_id: str | None,
    headers: Mapping[str, str],
) -> int:
    """Store a dead-lettered event; returns its id (the existing one for a redelivery)."""

    def store() -> int:
        with router.sessions.begin() as session:
            row = deadletter.add(
                session,
                source=source,
                event_type=routed.event_type or "unknown",
                reason=routed.detail,
                body=body,
                event_id=event_id,
                business_key=routed.business_key,
                workflow_id=routed.workflow_id,
                headers=headers,
            )
            return row.id

    dead_letter_id = await asyncio.to_thread(store)
    log.warning(
        "dead-lettered",
        source=source.value,
        type=routed.event_type,
        key=routed.business_key,
        reason=routed.detail,
        dead_letter_id=dead_letter_id,
    )
    return dead_letter_id
