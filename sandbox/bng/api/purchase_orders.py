"""``/api/v1/purchase-orders``: the buyer's POs, M3's status for them, and the WMS's goods receipts.

Emits purchaseorder.created, .updated (the buyer's PATCH), .cancelled, .status_changed (m3bng's own
status PUT, echoed) and goodsreceipt.created, all with the ordering key ``po:<PurchaseOrderID>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from clients.bng.models import GoodsReceipt, PurchaseOrder, PurchaseOrderStatus, PurchaseOrderStatusUpdate
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import GOODS_RECEIPT, PURCHASE_ORDER, CancelRequest, GoodsReceiptRequest, Page

router = APIRouter(prefix="/purchase-orders", tags=["purchase orders"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_purchase_orders(
    sandbox: Sandbox,
    paging: PagingParams,
    status: Annotated[PurchaseOrderStatus | None, Query()] = None,
    vendor_id: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    equals = {"Status": status.value if status else None, "VendorID": vendor_id}
    page = sandbox.store.list_documents(PURCHASE_ORDER, **paging.model_dump(), equals=equals)
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=PurchaseOrder)
async def create_purchase_order(
    request: Request, sandbox: Sandbox, client: ApiClient, purchase_order: PurchaseOrder
) -> JSONResponse:
    """A buyer's new PO (Submitted; 409 if the id exists); emits purchaseorder.created.

    With strict references the vendor must exist and be active. SKUs are not checked against
    BNG's catalogue: whether M3 knows the item is m3bng's to find out.
    """
    strict = sandbox.config.strict_references
    return await idempotent(
        request,
        sandbox,
        client,
        lambda: (201, sandbox.store.create_purchase_order(purchase_order, strict_references=strict)),
    )


@router.get("/{po_id}", response_model=PurchaseOrder)
async def get_purchase_order(sandbox: Sandbox, po_id: str) -> JSONResponse:
    return json(sandbox.store.require(PURCHASE_ORDER, po_id))


@router.patch("/{po_id}", response_model=PurchaseOrder)
async def update_purchase_order(
    sandbox: Sandbox, po_id: str, changes: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """The buyer's change (Lines, dates, Notes, ...); emits purchaseorder.updated.

    ``Lines`` replaces the line list; a line left out stays as ``Cancelled``; ReceivedQuantity
    stays as m3bng last set it. Status, ExternalID, StatusReason, VendorID and the id cannot be
    changed here (422). 409 once Cancelled or Closed; whether M3 can still make the change is
    M3's to answer. A change that changes nothing emits nothing.
    """
    return json(sandbox.store.update_purchase_order(po_id, changes))


@router.post("/{po_id}/cancel", response_model=PurchaseOrder)
async def cancel_purchase_order(
    request: Request,
    sandbox: Sandbox,
    client: ApiClient,
    po_id: str,
    cancel: Annotated[CancelRequest | None, Body()] = None,
) -> JSONResponse:
    """The buyer cancels (409 once Received or Closed); emits purchaseorder.cancelled.

    Cancelling a cancelled PO answers it as it is and emits nothing.
    """
    reason = cancel.Reason if cancel else None
    return await idempotent(
        request, sandbox, client, lambda: (200, sandbox.store.cancel_purchase_order(po_id, reason))
    )


@router.put("/{po_id}/status", response_model=PurchaseOrder)
async def set_purchase_order_status(
    sandbox: Sandbox, po_id: str, update: PurchaseOrderStatusUpdate
) -> JSONResponse:
    """M3's status for the PO, from m3bng; emits purchaseorder.status_changed.

    ExternalID is kept when left out; StatusReason is the update's (none clears it); ``Lines`` set
    the received quantity of the lines they name. The same update again changes nothing and emits
    nothing. A cancelled PO takes no other status (409).
    """
    return json(sandbox.store.set_purchase_order_status(po_id, update))


@router.post("/{po_id}/receipts", status_code=201, response_model=GoodsReceipt)
async def create_goods_receipt(
    request: Request, sandbox: Sandbox, client: ApiClient, po_id: str, receipt: GoodsReceiptRequest
) -> JSONResponse:
    """Goods received against the PO; emits goodsreceipt.created.

    A known ReceiptID with the same receipt is a replay (200); with other content, 409.
    """

    def action() -> tuple[int, object]:
        body, created = sandbox.store.create_goods_receipt(po_id, receipt)
        return (201 if created else 200), body

    return await idempotent(request, sandbox, client, action)


@router.get("/{po_id}/receipts", response_model=Page)
async def list_goods_receipts(sandbox: Sandbox, paging: PagingParams, po_id: str) -> JSONResponse:
    sandbox.store.require(PURCHASE_ORDER, po_id)
    page = sandbox.store.list_documents(GOODS_RECEIPT, **paging.model_dump(), parent=po_id)
    return json(page.model_dump(mode="json"))
