"""Push what happened in M3 back to the BNG order: status, M3 numbers, delivery and invoice."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.heartbeat import auto_heartbeat
from clients.bng.models import Invoice, OrderStatus, OrderStatusUpdate


class PushOrderStatusInput(BaseModel):
    bng_order_id: str
    status: OrderStatus
    m3_order_number: str | None = None
    delivery_number: str | None = None
    reason: str | None = None


class PushInvoiceInput(BaseModel):
    bng_order_id: str
    invoice: Invoice


class BngOrderActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def push_order_status_to_bng(self, data: PushOrderStatusInput) -> None:
        update = OrderStatusUpdate(
            OrderStatus=data.status,
            M3OrderNumber=data.m3_order_number,
            DeliveryNumber=data.delivery_number,
            StatusReason=data.reason,
        )
        with classified_errors():
            await self._c.bng.update_order_status(data.bng_order_id, update)

    @activity.defn
    @auto_heartbeat
    async def push_invoice_to_bng(self, data: PushInvoiceInput) -> None:
        with classified_errors():
            await self._c.bng.put_invoice(data.bng_order_id, data.invoice)
