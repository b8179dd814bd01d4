"""Tell BNG what became of its purchase orders and supplier invoices in M3 (status, M3 numbers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import change_once
from activities.heartbeat import auto_heartbeat
from clients.bng.errors import BngConflictError
from clients.bng.models import (
    PurchaseOrderStatus,
    PurchaseOrderStatusUpdate,
    ReceivedLine,
    SupplierInvoiceStatus,
    SupplierInvoiceStatusUpdate,
)


class PushPurchaseOrderStatusInput(BaseModel):
    bng_id: str
    status: PurchaseOrderStatus
    puno: str | None = None
    reason: str | None = None
    # Received quantity per PO line number, as M3 has it.
    received: dict[int, Decimal] = {}


class PushSupplierInvoiceStatusInput(BaseModel):
    bng_id: str
    status: SupplierInvoiceStatus
    inbn: str | None = None
    reason: str | None = None


class BngPurchasingActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def push_purchase_order_status(self, data: PushPurchaseOrderStatusInput) -> bool:
        update = PurchaseOrderStatusUpdate(
            Status=data.status,
            ExternalID=data.puno,
            StatusReason=data.reason,
            Lines=[ReceivedLine(LineNumber=n, ReceivedQuantity=q) for n, q in sorted(data.received.items())]
            or None,
        )
        wanted: dict[str, Any] = {"Status": data.status.value, "StatusReason": data.reason or ""}
        if data.puno:
            wanted["ExternalID"] = data.puno
        if data.received:
            wanted["Received"] = {str(n): str(q) for n, q in data.received.items()}
        with classified_errors():
            try:
                await change_once(
                    f"BNG purchase order {data.bng_id} status {data.status.value}",
                    read=lambda: self._purchase_order(data.bng_id),
                    wanted=wanted,
                    write=lambda: self._c.bng.set_purchase_order_status(data.bng_id, update),
                )
            except BngConflictError:
                # The buyer cancelled it in BNG meanwhile: BNG takes no other status, and the
                # cancellation's own webhook is on its way to the workflow.
                current = await self._purchase_order(data.bng_id)
                cancelled = current["Status"] == PurchaseOrderStatus.CANCELLED
                if cancelled and data.status != PurchaseOrderStatus.CANCELLED:
                    return False
                raise
        return True

    @activity.defn
    @auto_heartbeat
    async def push_supplier_invoice_status(self, data: PushSupplierInvoiceStatusInput) -> bool:
        update = SupplierInvoiceStatusUpdate(
            Status=data.status, ExternalID=data.inbn, StatusReason=data.reason
        )
        wanted: dict[str, Any] = {"Status": data.status.value, "StatusReason": data.reason or ""}
        if data.inbn:
            wanted["ExternalID"] = data.inbn
        with classified_errors():
            await change_once(
                f"BNG supplier invoice {data.bng_id} status {data.status.value}",
                read=lambda: self._supplier_invoice(data.bng_id),
                wanted=wanted,
                write=lambda: self._c.bng.set_supplier_invoice_status(data.bng_id, update),
            )
        return True

    async def _purchase_order(self, bng_id: str) -> dict[str, Any]:
        order = (await self._c.bng.get_purchase_order(bng_id)).model_dump(mode="json")
        # Received quantities by line number, so that the look compares them field by field.
        order["Received"] = {str(line["LineNumber"]): line.get("ReceivedQuantity") for line in order["Lines"]}
        return order

    async def _supplier_invoice(self, bng_id: str) -> dict[str, Any]:
        return (await self._c.bng.get_supplier_invoice(bng_id)).model_dump(mode="json")
