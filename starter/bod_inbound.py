"""ION BODs in, over the IMS v3 protocol (bidirectional IMS): each BOD signals its order's workflow.

ION posts a multipart message with a ``ParameterRequest`` (JSON) and a ``MessagePayload`` (the
BOD). The BOD names the order by M3's number and, as the customer's order number, by BNG's id.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import structlog
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.master_data.m3_records import inventory_key
from clients.ion import IonError, UnsupportedBodError, parse_bod, parse_multipart
from clients.ion.bod import InvoiceBod, SalesOrderBod, ShipmentBod
from clients.ion.bod_models import (
    CustomerPartyMasterBod,
    InventoryCountBod,
    ItemMasterBod,
    SupplierPartyMasterBod,
)
from mapping.ownership import Side
from starter.sync_routing import bng_key_of_m3_record, notify_change
from storage import xref
from workflows.models import M3OrderEvent, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.sync_models import RecordChanged

log = structlog.get_logger("bod_inbound")
router = APIRouter(prefix="/ims")


MASTER_DATA_BODS = (CustomerPartyMasterBod, ItemMasterBod, SupplierPartyMasterBod, InventoryCountBod)


class ImsAck(BaseModel):
    outcome: Literal["signalled", "ignored"]
    workflow_id: str | None = None
    workflow_ids: list[str] = []
    detail: str = ""


@router.get("/service/ping")
async def ping() -> dict[str, str]:
    return {"status": "OK"}


@router.get("/service/protocol")
async def protocol() -> dict[str, object]:
    return {"messageMethod": "multipartMessage", "version": "v3", "hasDiscovery": False}


@router.post("/v3/multipartMessage", status_code=202, response_model=ImsAck)
@router.post("/v3/message/multipart", status_code=202, response_model=ImsAck)
async def receive_message(request: Request) -> ImsAck:
    try:
        _, xml = parse_multipart(request.headers.get("content-type", ""), await request.body())
        bod = parse_bod(xml)
    except UnsupportedBodError as error:
        log.info("BOD not handled", reason=str(error))
        return ImsAck(outcome="ignored", detail=str(error))
    except IonError as error:
        # IMS v3: 400 is "malformed message"; ION reports it instead of retrying for ever.
        raise HTTPException(status_code=400, detail=str(error)) from error

    settings = request.app.state.settings
    if isinstance(bod, MASTER_DATA_BODS):
        return await _notify_master_data(request, bod)
    event, cuor, orno = order_event(bod)
    bng_order_id = cuor or await asyncio.to_thread(
        _bng_order_for, request.app.state.sessions, settings.m3_cono, orno
    )
    if bng_order_id is None:
        return ImsAck(outcome="ignored", detail=f"order {orno} was not placed by m3bng")
    workflow_id = order_workflow_id(bng_order_id)
    client: Client = request.app.state.temporal
    try:
        await client.get_workflow_handle(workflow_id).signal(OrderToCashWorkflow.m3_order_event, event)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return ImsAck(outcome="ignored", workflow_id=workflow_id, detail="no running workflow for this order")
    log.info("BOD routed", noun=event.noun, bod_id=event.bod_id, workflow_id=workflow_id)
    return ImsAck(outcome="signalled", workflow_id=workflow_id)


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


async def _notify_master_data(
    request: Request, bod: CustomerPartyMasterBod | ItemMasterBod | SupplierPartyMasterBod | InventoryCountBod
) -> ImsAck:
    """A master-data BOD names one record (or, for balances, several): tell each its workflow."""
    settings = request.app.state.settings
    client: Client = request.app.state.temporal
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
        bng_key = await bng_key_of_m3_record(request.app.state.sessions, settings.m3_cono, entity, m3_key)
        change = RecordChanged(origin=Side.M3, m3_key=m3_key, event_id=bod.bod_id, reason=f"Sync{bod.noun}")
        workflow_ids.append(
            await notify_change(
                client, settings.task_queue, entity, bng_key, change, idle_minutes=settings.sync_idle_minutes
            )
        )
    log.info("BOD routed", noun=bod.noun, bod_id=bod.bod_id, workflows=len(workflow_ids))
    return ImsAck(outcome="signalled", workflow_ids=workflow_ids, workflow_id=next(iter(workflow_ids), None))
