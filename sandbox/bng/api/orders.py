"""``/api/v1/orders``: orders, M3's status updates and invoices, payments and their refunds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from clients.bng.models import Invoice, Order, OrderStatus, OrderStatusUpdate, Payment, Refund
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.errors import not_found
from sandbox.bng.state import Sandbox
from sandbox.bng.store import ORDER, PAYMENT, REFUND, Page, PaymentCapture, RefundRequest

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


@router.post("/{order_id}/payments/{payment_id}/refunds", status_code=201, response_model=Refund)
async def refund_payment(
    request: Request,
    sandbox: Sandbox,
    client: ApiClient,
    order_id: str,
    payment_id: str,
    refund: RefundRequest,
) -> JSONResponse:
    """Refund (part of) a payment; emits payment.refunded with the refund as data.

    A known RefundID on the same payment with the same amount is a replay (200). Refunds beyond
    the captured amount are refused (409); a payment refunded in full becomes Refunded.
    """

    def action() -> tuple[int, object]:
        body, created = sandbox.store.refund_payment(order_id, payment_id, refund)
        return (201 if created else 200), body

    return await idempotent(request, sandbox, client, action)


@router.get("/{order_id}/payments/{payment_id}/refunds")
async def list_refunds(sandbox: Sandbox, order_id: str, payment_id: str) -> JSONResponse:
    sandbox.store.require(ORDER, order_id)
    if sandbox.store.require(PAYMENT, payment_id)["OrderID"] != order_id:
        raise not_found(PAYMENT, payment_id)
    page = sandbox.store.list_documents(REFUND, page_size=500, parent=payment_id)
    return json({"items": page.items})
