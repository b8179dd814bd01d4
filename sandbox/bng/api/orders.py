"""``/api/v1/orders``: orders, M3's status updates and invoices, and payments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from clients.bng.models import Invoice, Order, OrderStatus, OrderStatusUpdate, Payment
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import ORDER, PAYMENT, Page, PaymentCapture

router = APIRouter(prefix="/orders", tags=["orders"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_orders(
    sandbox: Sandbox,
    paging: PagingParams,
    status: Annotated[OrderStatus | None, Query()] = None,
    customer_id: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    equals = {"OrderStatus": status.value if status else None, "CustomerID": customer_id}
    page = sandbox.store.list_documents(ORDER, **paging.model_dump(), equals=equals)
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=Order)
async def create_order(request: Request, sandbox: Sandbox, client: ApiClient, order: Order) -> JSONResponse:
    """Place an order; emits order.created with the full order as data."""
    strict = sandbox.config.strict_references
    return await idempotent(
        request, sandbox, client, lambda: (201, sandbox.store.create_order(order, strict_references=strict))
    )


@router.get("/{order_id}", response_model=Order)
async def get_order(sandbox: Sandbox, order_id: str) -> JSONResponse:
    return json(sandbox.store.require(ORDER, order_id))


@router.patch("/{order_id}", response_model=Order)
async def update_order_status(sandbox: Sandbox, order_id: str, update: OrderStatusUpdate) -> JSONResponse:
    """M3's status for the order. Sending the same update again changes nothing and emits nothing."""
    return json(sandbox.store.update_order_status(order_id, update))


@router.put("/{order_id}/invoice", response_model=Order)
async def put_invoice(sandbox: Sandbox, order_id: str, invoice: Invoice) -> JSONResponse:
    """Attach M3's invoice to the order (idempotent); emits order.updated when it changed."""
    return json(sandbox.store.put_invoice(order_id, invoice))


@router.get("/{order_id}/history")
async def order_history(sandbox: Sandbox, order_id: str) -> JSONResponse:
    """The status updates the order received, oldest first, with when they arrived."""
    return json(sandbox.store.history(order_id))


@router.post("/{order_id}/payments", status_code=201, response_model=Payment)
async def capture_payment(
    request: Request, sandbox: Sandbox, client: ApiClient, order_id: str, capture: PaymentCapture
) -> JSONResponse:
    """Capture a payment; emits payment.captured. A known PaymentID with the same amount is a replay."""

    def action() -> tuple[int, object]:
        payment, created = sandbox.store.capture_payment(order_id, capture)
        return (201 if created else 200), payment

    return await idempotent(request, sandbox, client, action)


@router.get("/{order_id}/payments")
async def list_payments(sandbox: Sandbox, order_id: str) -> JSONResponse:
    sandbox.store.require(ORDER, order_id)
    page = sandbox.store.list_documents(PAYMENT, page_size=500, parent=order_id)
    return json({"items": page.items})
