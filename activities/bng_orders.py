"""Push what happened in M3 back to the BNG order: status, M3 numbers, delivery and invoice."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import change_once
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
    async def push_order_status_to_bng(self, data: PushOrderStatusInput) -> bool:
        """True once BNG holds the status (whether this call or an earlier one set it)."""
        update = OrderStatusUpdate(
            OrderStatus=data.status,
            M3OrderNumber=data.m3_order_number,
            DeliveryNumber=data.delivery_number,
            StatusReason=data.reason,
        )
        wanted = update.model_dump(mode="json", exclude_none=True)
        with classified_errors():
            await change_once(
                f"BNG order {data.bng_order_id} status {data.status.value}",
                read=lambda: self._order(data.bng_order_id),
                wanted=wanted,
                write=lambda: self._c.bng.update_order_status(data.bng_order_id, update),
            )
        return True

    @activity.defn
    @auto_heartbeat
    async def push_invoice_to_bng(self, data: PushInvoiceInput) -> bool:
        """True once BNG holds the invoice."""
        wanted = {"Invoice": data.invoice.model_dump(mode="json", exclude_none=True)}
        with classified_errors():
            await change_once(
                f"BNG order {data.bng_order_id} invoice {data.invoice.InvoiceNumber}",
                read=lambda: self._order(data.bng_order_id),
                wanted=wanted,
                write=lambda: self._c.bng.put_invoice(data.bng_order_id, data.invoice),
            )
        return True

    async def _order(self, order_id: str) -> dict[str, Any]:
        order = await self._c.bng.get_order(order_id)
        return order.model_dump(mode="json")
