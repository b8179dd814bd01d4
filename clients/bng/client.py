"""Async client for BNG's REST API.

    async with BngClient("http://127.0.0.1:8702", client_id="m3bng", client_secret="...") as bng:
        order = await bng.get_order("BNG-10001")

Transient failures (5xx, 429, timeouts, connection errors) are retried here with exponential
backoff and jitter, honouring ``Retry-After``: the policy shared with M3, ``clients.retry``. A
``Retry-After`` longer than ``backoff_max`` is raised at once (``BngRateLimitedError`` for a 429)
so the caller (a Temporal activity) can reschedule instead of holding a worker slot. 404 and 422
are never retried.

Writes: a POST carries one ``Idempotency-Key`` for all its attempts, so BNG answers a resent one
with the first answer. A PATCH, PUT or DELETE is resent only when it certainly did not arrive (no
connection, 429); once it may have arrived, ``BngAmbiguousWriteError`` tells the caller to look for
its effect before writing again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel

from clients import metrics
from clients.bng.auth import ApiKeyAuth, ClientCredentialsAuth
from clients.bng.errors import (
    BngAmbiguousWriteError,
    BngError,
    BngNotFoundError,
    BngRateLimitedError,
    BngTransientError,
    error_from_response,
)
from clients.bng.models import (
    Customer,
    GoodsReceipt,
    InventoryLevel,
    Invoice,
    Journal,
    JournalStatus,
    JournalStatusUpdate,
    Order,
    OrderStatus,
    OrderStatusUpdate,
    Payment,
    Product,
    PurchaseOrder,
    PurchaseOrderStatus,
    PurchaseOrderStatusUpdate,
    Refund,
    SupplierInvoice,
    SupplierInvoiceStatus,
    SupplierInvoiceStatusUpdate,
    Vendor,
)
from clients.retry import RetryPolicy
from clients.transport import NOT_SENT

log = structlog.get_logger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

API = "/api/v1"

ListKind = Literal[
    "customers", "products", "vendors", "inventory", "purchase-orders", "supplier-invoices", "journals"
]
_LIST_KINDS: tuple[str, ...] = get_args(ListKind)
# Products per batch read or batch create.
PRODUCT_BATCH_MAX = 500


class BngClient:
    def __init__(
        self,
        base_url: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        auth: httpx.Auth
        if client_id and client_secret:
            auth = ClientCredentialsAuth(
                f"{base_url.rstrip('/')}/oauth/token",
                client_id,
                client_secret,
                transport=transport,
                timeout=timeout,
            )
        elif api_key:
            auth = ApiKeyAuth(api_key)
        else:
            raise ValueError("BngClient needs client_id + client_secret or an api_key")
        self._auth = auth
        self._retry = RetryPolicy(max_attempts=max(1, max_attempts), base=backoff_base, cap=backoff_max)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "m3bng"},
        )

    async def __aenter__(self) -> BngClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        if isinstance(self._auth, ClientCredentialsAuth):
            await self._auth.aclose()

    # -- orders -------------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order:
        return await self._get_model(f"{API}/orders/{_seg(order_id)}", Order)

    async def iter_orders(
        self,
        *,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        updated_since: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Order]:
        params = {"status": status, "customer_id": customer_id, "updated_since": updated_since}
        async for item in self._paginate(f"{API}/orders", params, page_size):
            yield Order.model_validate(item)

    async def list_orders(
        self,
        *,
        status: OrderStatus | None = None,
        customer_id: str | None = None,
        updated_since: datetime | None = None,
        page_size: int = 100,
    ) -> list[Order]:
        """Every matching order, all pages read."""
        orders = self.iter_orders(
            status=status, customer_id=customer_id, updated_since=updated_since, page_size=page_size
        )
        return [order async for order in orders]

    async def create_order(self, order: Order, *, idempotency_key: str | None = None) -> Order:
        return await self._post_model(f"{API}/orders", order, Order, idempotency_key=idempotency_key)

    async def update_order_status(self, order_id: str, update: OrderStatusUpdate) -> Order:
        response = await self._request("PATCH", f"{API}/orders/{_seg(order_id)}", json=_dump(update))
        return Order.model_validate(response.json())

    async def put_invoice(self, order_id: str, invoice: Invoice) -> Order:
        response = await self._request("PUT", f"{API}/orders/{_seg(order_id)}/invoice", json=_dump(invoice))
        return Order.model_validate(response.json())

    async def capture_payment(
        self,
        order_id: str,
        *,
        amount: Decimal,
        currency: str,
        payment_id: str | None = None,
        method: str = "Card",
    ) -> Payment:
        body: dict[str, Any] = {"Amount": str(amount), "Currency": currency, "Method": method}
        if payment_id is not None:
            body["PaymentID"] = payment_id
        # A known PaymentID with the same amount is answered with the existing payment by BNG itself.
        response = await self._request("POST", f"{API}/orders/{_seg(order_id)}/payments", json=body)
        return Payment.model_validate(response.json())

    async def list_payments(self, order_id: str) -> list[Payment]:
        response = await self._request("GET", f"{API}/orders/{_seg(order_id)}/payments")
        return [Payment.model_validate(item) for item in response.json()["items"]]

    # -- refunds ------------------------------------------------------------------------------

    async def refund_payment(
        self,
        order_id: str,
        payment_id: str,
        *,
        amount: Decimal,
        currency: str,
        refund_id: str | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund (part of) a captured payment; emits payment.refunded.

        A known RefundID with the same payment and amount is answered with the existing refund by
        BNG itself; refunds beyond the captured amount are refused (``BngConflictError``).
        """
        body: dict[str, Any] = {"Amount": str(amount), "Currency": currency}
        if refund_id is not None:
            body["RefundID"] = refund_id
        if reason is not None:
            body["Reason"] = reason
        path = f"{API}/orders/{_seg(order_id)}/payments/{_seg(payment_id)}/refunds"
        response = await self._request("POST", path, json=body, idempotency_key=idempotency_key)
        return Refund.model_validate(response.json())

    async def list_refunds(self, order_id: str, payment_id: str) -> list[Refund]:
        path = f"{API}/orders/{_seg(order_id)}/payments/{_seg(payment_id)}/refunds"
        response = await self._request("GET", path)
        return [Refund.model_validate(item) for item in response.json()["items"]]

    async def get_refund(self, refund_id: str) -> Refund:
        return await self._get_model(f"{API}/refunds/{_seg(refund_id)}", Refund)

    # -- purchase orders and goods receipts ---------------------------------------------------

    async def get_purchase_order(self, purchase_order_id: str) -> PurchaseOrder:
        return await self._get_model(f"{API}/purchase-orders/{_seg(purchase_order_id)}", PurchaseOrder)

    async def iter_purchase_orders(
        self,
        *,
        status: PurchaseOrderStatus | None = None,
        vendor_id: str | None = None,
        updated_since: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[PurchaseOrder]:
        params = {"status": status, "vendor_id": vendor_id, "updated_since": updated_since}
        async for item in self._paginate(f"{API}/purchase-orders", params, page_size):
            yield PurchaseOrder.model_validate(item)

    async def create_purchase_order(
        self, purchase_order: PurchaseOrder, *, idempotency_key: str | None = None
    ) -> PurchaseOrder:
        """Create the PO (emits purchaseorder.created); ``BngConflictError`` if the id exists."""
        return await self._post_model(
            f"{API}/purchase-orders", purchase_order, PurchaseOrder, idempotency_key=idempotency_key
        )

    async def update_purchase_order(self, purchase_order_id: str, changes: dict[str, Any]) -> PurchaseOrder:
        """The buyer's change (PATCH; emits purchaseorder.updated); refused once Cancelled/Closed.

        ``Lines`` replaces the line list; a line left out stays on the PO with ``Cancelled``.
        """
        path = f"{API}/purchase-orders/{_seg(purchase_order_id)}"
        response = await self._request("PATCH", path, json=_jsonable(changes))
        return PurchaseOrder.model_validate(response.json())

    async def cancel_purchase_order(
        self, purchase_order_id: str, *, reason: str | None = None, idempotency_key: str | None = None
    ) -> PurchaseOrder:
        """Cancel the PO (emits purchaseorder.cancelled); a cancelled one is answered as it is."""
        body = {"Reason": reason} if reason is not None else {}
        path = f"{API}/purchase-orders/{_seg(purchase_order_id)}/cancel"
        response = await self._request("POST", path, json=body, idempotency_key=idempotency_key)
        return PurchaseOrder.model_validate(response.json())

    async def set_purchase_order_status(
        self, purchase_order_id: str, update: PurchaseOrderStatusUpdate
    ) -> PurchaseOrder:
        """M3's status for the PO (PUT); the same update again changes nothing and emits nothing."""
        path = f"{API}/purchase-orders/{_seg(purchase_order_id)}/status"
        response = await self._request("PUT", path, json=_dump(update))
        return PurchaseOrder.model_validate(response.json())

    async def create_goods_receipt(
        self, purchase_order_id: str, receipt: GoodsReceipt, *, idempotency_key: str | None = None
    ) -> GoodsReceipt:
        """Record a receipt (emits goodsreceipt.created); a known ReceiptID with the same body is a replay."""
        path = f"{API}/purchase-orders/{_seg(purchase_order_id)}/receipts"
        return await self._post_model(path, receipt, GoodsReceipt, idempotency_key=idempotency_key)

    async def list_goods_receipts(
        self, purchase_order_id: str, *, page_size: int = 100
    ) -> list[GoodsReceipt]:
        """Every receipt of the PO, in ReceiptID order, all pages read."""
        path = f"{API}/purchase-orders/{_seg(purchase_order_id)}/receipts"
        return [GoodsReceipt.model_validate(item) async for item in self._paginate(path, {}, page_size)]

    # -- supplier invoices --------------------------------------------------------------------

    async def get_supplier_invoice(self, supplier_invoice_id: str) -> SupplierInvoice:
        return await self._get_model(f"{API}/supplier-invoices/{_seg(supplier_invoice_id)}", SupplierInvoice)

    async def iter_supplier_invoices(
        self,
        *,
        status: SupplierInvoiceStatus | None = None,
        vendor_id: str | None = None,
        updated_since: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[SupplierInvoice]:
        params = {"status": status, "vendor_id": vendor_id, "updated_since": updated_since}
        async for item in self._paginate(f"{API}/supplier-invoices", params, page_size):
            yield SupplierInvoice.model_validate(item)

    async def create_supplier_invoice(
        self, invoice: SupplierInvoice, *, idempotency_key: str | None = None
    ) -> SupplierInvoice:
        """Create the invoice (emits supplierinvoice.created); ``BngConflictError`` if the id exists."""
        return await self._post_model(
            f"{API}/supplier-invoices", invoice, SupplierInvoice, idempotency_key=idempotency_key
        )

    async def set_supplier_invoice_status(
        self, supplier_invoice_id: str, update: SupplierInvoiceStatusUpdate
    ) -> SupplierInvoice:
        """M3's status for the invoice (PUT); the same update again changes nothing and emits nothing."""
        path = f"{API}/supplier-invoices/{_seg(supplier_invoice_id)}/status"
        response = await self._request("PUT", path, json=_dump(update))
        return SupplierInvoice.model_validate(response.json())

    # -- journals -----------------------------------------------------------------------------

    async def get_journal(self, journal_id: str) -> Journal:
        return await self._get_model(f"{API}/journals/{_seg(journal_id)}", Journal)

    async def iter_journals(
        self,
        *,
        status: JournalStatus | None = None,
        updated_since: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Journal]:
        params = {"status": status, "updated_since": updated_since}
        async for item in self._paginate(f"{API}/journals", params, page_size):
            yield Journal.model_validate(item)

    async def create_journal(self, journal: Journal, *, idempotency_key: str | None = None) -> Journal:
        """Create the journal (emits journal.created); ``BngConflictError`` if the id exists."""
        return await self._post_model(f"{API}/journals", journal, Journal, idempotency_key=idempotency_key)

    async def set_journal_status(self, journal_id: str, update: JournalStatusUpdate) -> Journal:
        """M3's status for the journal (PUT); the same update again changes nothing and emits nothing."""
        path = f"{API}/journals/{_seg(journal_id)}/status"
        response = await self._request("PUT", path, json=_dump(update))
        return Journal.model_validate(response.json())

    # -- customers ----------------------------------------------------------------------------

    async def get_customer(self, customer_id: str) -> Customer:
        return await self._get_model(f"{API}/customers/{_seg(customer_id)}", Customer)

    async def iter_customers(
        self, *, page_size: int = 100, updated_since: datetime | None = None
    ) -> AsyncIterator[Customer]:
        async for item in self._paginate(f"{API}/customers", {"updated_since": updated_since}, page_size):
            yield Customer.model_validate(item)

    async def create_customer(self, customer: Customer, *, idempotency_key: str | None = None) -> Customer:
        return await self._post_model(f"{API}/customers", customer, Customer, idempotency_key=idempotency_key)

    async def update_customer(self, customer_id: str, changes: dict[str, Any]) -> Customer:
        path = f"{API}/customers/{_seg(customer_id)}"
        response = await self._request("PATCH", path, json=_jsonable(changes))
        return Customer.model_validate(response.json())

    async def delete_customer(self, customer_id: str) -> None:
        """Delete the customer in BNG (emits customer.deleted); ``BngNotFoundError`` if unknown."""
        await self._request("DELETE", f"{API}/customers/{_seg(customer_id)}")

    # -- products -----------------------------------------------------------------------------

    async def get_product(self, sku: str) -> Product:
        return await self._get_model(f"{API}/products/{_seg(sku)}", Product)

    async def iter_products(
        self, *, page_size: int = 100, updated_since: datetime | None = None
    ) -> AsyncIterator[Product]:
        async for item in self._paginate(f"{API}/products", {"updated_since": updated_since}, page_size):
            yield Product.model_validate(item)

    async def create_product(self, product: Product, *, idempotency_key: str | None = None) -> Product:
        """Create the product (emits product.created); ``BngConflictError`` if the SKU exists."""
        return await self._post_model(f"{API}/products", product, Product, idempotency_key=idempotency_key)

    async def update_product(self, sku: str, changes: dict[str, Any]) -> Product:
        """Partial update (PATCH): only the fields in ``changes`` change; SKU cannot."""
        response = await self._request("PATCH", f"{API}/products/{_seg(sku)}", json=_jsonable(changes))
        return Product.model_validate(response.json())

    async def upsert_product(self, product: Product) -> Product:
        """Update the product if BNG has it, create it otherwise."""
        try:
            response = await self._request(
                "PATCH", f"{API}/products/{_seg(product.SKU)}", json=_dump(product)
            )
        except BngNotFoundError:
            return await self._post_model(f"{API}/products", product, Product, idempotency_key=None)
        return Product.model_validate(response.json())

    async def get_products(self, skus: list[str]) -> dict[str, dict[str, Any]]:
        """The products BNG has among ``skus`` (at most 500), by SKU, as raw JSON: one call."""
        if not skus:
            return {}
        if len(skus) > PRODUCT_BATCH_MAX:
            raise ValueError(f"get_products reads at most {PRODUCT_BATCH_MAX} SKUs at once")
        query = {"sku_in": ",".join(skus), "page_size": str(PRODUCT_BATCH_MAX)}
        page = (await self._request("GET", f"{API}/products", params=query)).json()
        return {item["SKU"]: item for item in page["items"]}

    async def create_products(self, products: list[Product], *, idempotency_key: str) -> list[dict[str, Any]]:
        """Create the products BNG does not have yet (at most 500) in one call; one it has is left
        as it is. Per product: ``{"key", "status": "created" | "exists", "item"}``. The key makes
        a resent batch answer with the first answer instead of acting again."""
        return await self._create_batch("products", products, idempotency_key=idempotency_key)

    async def delete_product(self, sku: str) -> None:
        """Delete the product in BNG (emits product.deleted); ``BngNotFoundError`` if unknown."""
        await self._request("DELETE", f"{API}/products/{_seg(sku)}")

    # -- vendors ------------------------------------------------------------------------------

    async def get_vendor(self, vendor_id: str) -> Vendor:
        return await self._get_model(f"{API}/vendors/{_seg(vendor_id)}", Vendor)

    async def iter_vendors(
        self, *, page_size: int = 100, updated_since: datetime | None = None
    ) -> AsyncIterator[Vendor]:
        async for item in self._paginate(f"{API}/vendors", {"updated_since": updated_since}, page_size):
            yield Vendor.model_validate(item)

    async def create_vendor(self, vendor: Vendor, *, idempotency_key: str | None = None) -> Vendor:
        """Create the vendor (emits vendor.created); ``BngConflictError`` if the VendorID exists."""
        return await self._post_model(f"{API}/vendors", vendor, Vendor, idempotency_key=idempotency_key)

    async def update_vendor(self, vendor_id: str, changes: dict[str, Any]) -> Vendor:
        """Partial update (PATCH): only the fields in ``changes`` change; VendorID cannot."""
        path = f"{API}/vendors/{_seg(vendor_id)}"
        response = await self._request("PATCH", path, json=_jsonable(changes))
        return Vendor.model_validate(response.json())

    async def delete_vendor(self, vendor_id: str) -> None:
        """Delete the vendor in BNG (emits vendor.deleted); ``BngNotFoundError`` if unknown."""
        await self._request("DELETE", f"{API}/vendors/{_seg(vendor_id)}")

    # -- inventory ----------------------------------------------------------------------------

    async def set_inventory(
        self, sku: str, warehouse: str, on_hand: Decimal, available: Decimal
    ) -> InventoryLevel:
        level = InventoryLevel(
            SKU=sku, Warehouse=warehouse, QuantityOnHand=on_hand, QuantityAvailable=available
        )
        path = f"{API}/inventory/{_seg(sku)}/{_seg(warehouse)}"
        response = await self._request("PUT", path, json=_dump(level))
        return InventoryLevel.model_validate(response.json())

    async def get_inventory(self, sku: str, warehouse: str) -> InventoryLevel:
        """The stock of ``sku`` in ``warehouse``; ``BngNotFoundError`` if BNG has no such level."""
        return await self._get_model(f"{API}/inventory/{_seg(sku)}/{_seg(warehouse)}", InventoryLevel)

    async def get_inventory_levels(self, warehouse: str, skus: list[str]) -> dict[str, dict[str, Any]]:
        """The levels BNG has in ``warehouse`` for ``skus`` (at most 500), by SKU, raw JSON: one call."""
        if not skus:
            return {}
        if len(skus) > PRODUCT_BATCH_MAX:
            raise ValueError(f"get_inventory_levels reads at most {PRODUCT_BATCH_MAX} SKUs at once")
        query = {"warehouse": warehouse, "sku_in": ",".join(skus), "page_size": str(PRODUCT_BATCH_MAX)}
        page = (await self._request("GET", f"{API}/inventory", params=query)).json()
        return {item["SKU"]: item for item in page["items"]}

    async def create_inventory_levels(
        self, levels: list[InventoryLevel], *, idempotency_key: str
    ) -> list[dict[str, Any]]:
        """Set the levels BNG has none of yet (at most 500) in one call; an existing one is left
        as it is. Per level: ``{"key": "SKU/Warehouse", "status": "created" | "exists", "item"}``."""
        return await self._create_batch("inventory", levels, idempotency_key=idempotency_key, field="levels")

    async def _create_batch(
        self, resource: str, records: Sequence[BaseModel], *, idempotency_key: str, field: str | None = None
    ) -> list[dict[str, Any]]:
        """``POST /<resource>/batch`` with the records under ``field`` (default: the resource)."""
        if len(records) > PRODUCT_BATCH_MAX:
            raise ValueError(f"a {resource} batch takes at most {PRODUCT_BATCH_MAX} records at once")
        body = {field or resource: [_dump(record) for record in records]}
        response = await self._request(
            "POST", f"{API}/{resource}/batch", json=body, idempotency_key=idempotency_key
        )
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    async def iter_inventory(
        self, *, sku: str | None = None, warehouse: str | None = None, page_size: int = 100
    ) -> AsyncIterator[InventoryLevel]:
        async for item in self._paginate(f"{API}/inventory", {"sku": sku, "warehouse": warehouse}, page_size):
            yield InventoryLevel.model_validate(item)

    # -- pages, for reconciliation that must resume ---------------------------------------------

    async def list_page(
        self,
        kind: ListKind,
        *,
        cursor: str | None = None,
        page_size: int = 200,
        updated_since: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``kind`` in id order, as BNG serves it (raw JSON), and the next cursor.

        The cursor is None after the last page. It is opaque and keyset-based (it names the last id
        seen), so it stays valid across restarts and while documents are added or deleted: pass it
        back to resume right after that id. ``page_size`` is at most 500.
        """
        if kind not in _LIST_KINDS:
            raise ValueError(f"list_page kind must be one of {', '.join(_LIST_KINDS)}, not {kind!r}")
        return await self._page(f"{API}/{kind}", {"updated_since": updated_since}, page_size, cursor)

    # -- plumbing -----------------------------------------------------------------------------

    async def _get_model(self, path: str, model: type[ModelT]) -> ModelT:
        response = await self._request("GET", path)
        return model.model_validate(response.json())

    async def _post_model(
        self, path: str, body: BaseModel, model: type[ModelT], *, idempotency_key: str | None
    ) -> ModelT:
        response = await self._request("POST", path, json=_dump(body), idempotency_key=idempotency_key)
        return model.model_validate(response.json())

    async def _page(
        self, path: str, params: dict[str, Any], page_size: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = {key: _param(value) for key, value in params.items() if value is not None}
        query["page_size"] = str(page_size)
        if cursor:
            query["cursor"] = cursor
        page = (await self._request("GET", path, params=query)).json()
        return list(page["items"]), page.get("next_cursor") or None

    async def _paginate(
        self, path: str, params: dict[str, Any], page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item, one page in memory at a time: the next page is fetched only when needed."""
        cursor: str | None = None
        while True:
            items, cursor = await self._page(path, params, page_size, cursor)
            for item in items:
                yield item
            if cursor is None:
                return

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {}
        if method == "POST":
            # One key for every attempt of this call: a retried POST must not create twice.
            headers["Idempotency-Key"] = idempotency_key or f"m3bng-{uuid.uuid4().hex}"
        for attempt in range(1, self._retry.max_attempts + 1):
            error: BngError
            started = time.monotonic()
            try:
                response = await self._http.request(method, path, json=json, params=params, headers=headers)
            except NOT_SENT as exc:
                error = BngTransientError(f"BNG unreachable on {method} {path}: {exc!r}", sent=False)
            except httpx.TimeoutException as exc:
                error = BngTransientError(f"BNG timed out on {method} {path}: {exc!r}")
            except httpx.TransportError as exc:
                error = BngTransientError(f"BNG unreachable on {method} {path}: {exc!r}")
            except BngTransientError as exc:
                error = exc  # the token endpoint failed on the way
            else:
                metrics.observe_bng_call(
                    method, path, status=response.status_code, seconds=time.monotonic() - started
                )
                if response.is_success:
                    return response
                error = error_from_response(response)
            if method in _UNKEYED_WRITES and _may_have_arrived(error):
                raise BngAmbiguousWriteError(
                    f"{method} {path}: outcome unknown ({error.message})",
                    status_code=error.status_code,
                    retry_after=getattr(error, "retry_after", None),
                ) from error
            # 429, or 503 with Retry-After: waited here only up to backoff_max, else the caller reschedules.
            delay = None
            if isinstance(error, BngTransientError):
                delay = self._retry.delay(attempt, error.retry_after)
            if delay is None:
                raise error
            log.warning(
                "bng.request.retry",
                method=method,
                path=path,
                status_code=error.status_code,
                attempt=attempt,
                delay_seconds=round(delay, 3),
            )
            metrics.observe_bng_retry(error.status_code, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")


# Writes without an Idempotency-Key: BNG cannot tell a resent one from a new one.
_UNKEYED_WRITES = frozenset({"PATCH", "PUT", "DELETE"})


def _may_have_arrived(error: BngError) -> bool:
    """False only when the request never left, or BNG refused it before doing anything (429)."""
    if not isinstance(error, BngTransientError):
        return False
    return error.sent and not isinstance(error, BngRateLimitedError)


def _dump(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _seg(value: str) -> str:
    """One URL path segment: an id with ``/``, ``?``, ``#`` or spaces must not change the path."""
    return quote(value, safe="")


def _param(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
