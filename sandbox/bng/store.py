"""BNG's state and business rules: what each API call changes, and which webhook it announces.

Every change and its webhook are written in one transaction (see ``outbox.py``). Entities are
stored exactly as they are served: the models' JSON, with ``None`` fields left out.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from clients.bng.models import (
    Customer,
    CustomerStatus,
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
    PaymentStatus,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    PurchaseOrderStatusUpdate,
    Refund,
    SupplierInvoice,
    SupplierInvoiceStatus,
    SupplierInvoiceStatusUpdate,
    Vendor,
    VendorStatus,
    WebhookEventType,
)
from sandbox.bng import outbox
from sandbox.bng.db import Base, Document, StatusHistory
from sandbox.bng.errors import ApiError, field_errors, from_validation_error, invalid, not_found

ModelT = TypeVar("ModelT", bound=BaseModel)

CUSTOMER, PRODUCT, ORDER, PAYMENT, INVENTORY = "customer", "product", "order", "payment", "inventory"
VENDOR = "vendor"
PURCHASE_ORDER, GOODS_RECEIPT, REFUND = "purchase_order", "goods_receipt", "refund"
SUPPLIER_INVOICE, JOURNAL = "supplier_invoice", "journal"

# What the admin API may change behind BNG's back (drift) or load in bulk.
AdminKind = Literal["customer", "product", "vendor", "inventory"]
ADMIN_KINDS: tuple[str, ...] = get_args(AdminKind)
# A bulk load is one transaction; this keeps it, and its answer, within reason.
MAX_BULK_DOCUMENTS = 50_000
_MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class MasterData:
    """A master-data kind with its own create/update/delete API and webhooks."""

    kind: str
    model: type[BaseModel]
    key_field: str
    created: WebhookEventType
    updated: WebhookEventType
    deleted: WebhookEventType


MASTER_DATA: dict[str, MasterData] = {
    spec.kind: spec
    for spec in (
        MasterData(
            CUSTOMER,
            Customer,
            "CustomerID",
            WebhookEventType.CUSTOMER_CREATED,
            WebhookEventType.CUSTOMER_UPDATED,
            WebhookEventType.CUSTOMER_DELETED,
        ),
        MasterData(
            PRODUCT,
            Product,
            "SKU",
            WebhookEventType.PRODUCT_CREATED,
            WebhookEventType.PRODUCT_UPDATED,
            WebhookEventType.PRODUCT_DELETED,
        ),
        MasterData(
            VENDOR,
            Vendor,
            "VendorID",
            WebhookEventType.VENDOR_CREATED,
            WebhookEventType.VENDOR_UPDATED,
            WebhookEventType.VENDOR_DELETED,
        ),
    )
}
_ADMIN_MODELS: dict[str, type[BaseModel]] = {
    CUSTOMER: Customer,
    PRODUCT: Product,
    VENDOR: Vendor,
    INVENTORY: InventoryLevel,
}


def document_key(kind: str, body: dict[str, Any]) -> str:
    """The stored key of a document: its id, or ``SKU/Warehouse`` for an inventory level."""
    if kind == INVENTORY:
        return f"{body['SKU']}/{body['Warehouse']}"
    return str(body[MASTER_DATA[kind].key_field])


class Page(BaseModel):
    items: list[dict[str, Any]]
    page: int | None = None
    page_size: int
    total: int
    next_cursor: str | None = None


# Records per batch call and SKUs per sku_in read, as eCommerce bulk APIs commonly allow.
MAX_BATCH = 500


class BatchItemResult(BaseModel):
    """One record of a batch create: created now, or already there (left as it was)."""

    key: str
    status: Literal["created", "exists"]
    item: dict[str, Any]


class PaymentCapture(BaseModel):
    """Body of ``POST /api/v1/orders/{OrderID}/payments``."""

    Amount: Decimal = Field(gt=0)
    Currency: str = Field(min_length=3, max_length=3)
    Method: str = "Card"
    PaymentID: str | None = Field(default=None, min_length=1)


class RefundRequest(BaseModel):
    """Body of ``POST /api/v1/orders/{OrderID}/payments/{PaymentID}/refunds``."""

    RefundID: str | None = Field(default=None, min_length=1)
    Amount: Decimal = Field(gt=0)
    Currency: str = Field(min_length=3, max_length=3)
    Reason: str | None = None


class CancelRequest(BaseModel):
    """Body of ``POST /api/v1/purchase-orders/{id}/cancel`` (may be empty)."""

    Reason: str | None = None


class GoodsReceiptRequest(GoodsReceipt):
    """Body of ``POST /api/v1/purchase-orders/{id}/receipts``: PurchaseOrderID may come from the path."""

    PurchaseOrderID: str | None = None  # type: ignore[assignment]


# The PO fields only m3bng's status PUT sets; the buyer's PATCH cannot.
_PO_INTEGRATION_FIELDS = ("PurchaseOrderID", "VendorID", "Status", "ExternalID", "StatusReason")
# No buyer change once the PO is here; no cancel once the goods are in.
_PO_FROZEN = frozenset({PurchaseOrderStatus.CANCELLED, PurchaseOrderStatus.CLOSED})
_PO_NOT_CANCELLABLE = frozenset({PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CLOSED})


def _conflict(message: str) -> ApiError:
    return ApiError(409, "conflict", message)


def _value_errors(errors: list[dict[str, str]]) -> ApiError:
    return invalid([{**error, "type": "value_error"} for error in errors])


def _duplicate_line_numbers(lines: Sequence[Any], prefix: str = "Lines") -> list[dict[str, str]]:
    seen: set[int] = set()
    errors = []
    for index, line in enumerate(lines):
        if line.LineNumber in seen:
            errors.append({"field": f"{prefix}.{index}.LineNumber", "message": "duplicate line number"})
        seen.add(line.LineNumber)
    return errors


def _same(model: type[BaseModel], stored: dict[str, Any], new: BaseModel) -> bool:
    """Whether ``new`` says what the stored body says (values compared, so 5 == 5.00)."""
    return model.model_validate(_without_updated_at(stored)) == new.model_copy(update={"UpdatedAt": None})


class InventoryUpdate(BaseModel):
    """Body of ``PUT /api/v1/inventory/{SKU}/{Warehouse}``; SKU and Warehouse come from the path."""

    SKU: str | None = None
    Warehouse: str | None = None
    QuantityOnHand: Decimal
    QuantityAvailable: Decimal


def _now() -> datetime:
    return datetime.now(UTC)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _timestamp(body: dict[str, Any]) -> float:
    """The document's ``UpdatedAt`` as epoch seconds (what ``updated_since`` filters on), or now."""
    value = body.get("UpdatedAt")
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return time.time()
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return time.time()


def _without_updated_at(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "UpdatedAt"}


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid(
            [{"field": "cursor", "message": "not a cursor from this API", "type": "value_error"}]
        ) from None


class BngStore:
    def __init__(self, sessions: sessionmaker[Session], on_event: Callable[[], None] = lambda: None) -> None:
        self._sessions = sessions
        # Called after a commit that queued webhooks, so delivery starts at once.
        self._on_event = on_event

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session
        # Cheap even when nothing was queued: it only wakes the dispatcher.
        self._on_event()

    # -- generic documents --------------------------------------------------------------------

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            document = self._document(session, kind, key)
            return dict(document.body) if document else None

    def require(self, kind: str, key: str) -> dict[str, Any]:
        body = self.get(kind, key)
        if body is None:
            raise not_found(kind, key)
        return body

    def list_documents(
        self,
        kind: str,
        *,
        page_size: int,
        page: int | None = None,
        cursor: str | None = None,
        updated_since: datetime | None = None,
        parent: str | None = None,
        equals: dict[str, str | None] | None = None,
        keys: Sequence[str] | None = None,
    ) -> Page:
        """One page, by key order: ``page`` numbers or an opaque ``cursor`` (both give next_cursor).

        ``keys``: only these documents (a batch read, like ``?sku:in=`` on real platforms).
        """
        conditions: list[Any] = [Document.kind == kind]
        if keys is not None:
            conditions.append(Document.key.in_(list(keys)))
        if updated_since is not None:
            since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
            conditions.append(Document.updated_at >= since.timestamp())
        if parent is not None:
            conditions.append(Document.parent == parent)
        for field, value in (equals or {}).items():
            if value is not None:
                conditions.append(Document.body[field].as_string() == value)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(Document).where(*conditions)) or 0
            query = select(Document).where(*conditions).order_by(Document.key).limit(page_size + 1)
            if cursor:
                query = query.where(Document.key > _decode_cursor(cursor))
            elif page:
                query = query.offset((page - 1) * page_size)
            rows = list(session.scalars(query))
        more = len(rows) > page_size
        rows = rows[:page_size]
        next_cursor = _encode_cursor(rows[-1].key) if more and rows else None
        return Page(
            items=[dict(row.body) for row in rows],
            page=page if not cursor else None,
            page_size=page_size,
            total=total,
            next_cursor=next_cursor,
        )

    @staticmethod
    def _document(session: Session, kind: str, key: str) -> Document | None:
        return session.scalars(select(Document).where(Document.kind == kind, Document.key == key)).first()

    @staticmethod
    def _save(
        session: Session, kind: str, key: str, body: dict[str, Any], *, parent: str | None = None
    ) -> None:
        document = BngStore._document(session, kind, key)
        if document is None:
            document = Document(kind=kind, key=key, parent=parent)
            session.add(document)
        document.body, document.updated_at = body, _timestamp(body)

    # -- customers, products and vendors ------------------------------------------------------

    def create_customer(self, customer: Customer, *, emit: bool = True) -> dict[str, Any]:
        return self.create(CUSTOMER, customer, emit=emit)

    def update_customer(self, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.update(CUSTOMER, customer_id, changes)

    def create_product(self, product: Product, *, emit: bool = True) -> dict[str, Any]:
        return self.create(PRODUCT, product, emit=emit)

    def update_product(self, sku: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.update(PRODUCT, sku, changes)

    def create_vendor(self, vendor: Vendor, *, emit: bool = True) -> dict[str, Any]:
        return self.create(VENDOR, vendor, emit=emit)

    def update_vendor(self, vendor_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self.update(VENDOR, vendor_id, changes)

    def create(self, kind: str, entity: BaseModel, *, emit: bool = True) -> dict[str, Any]:
        """Store a new customer, product or vendor; emits ``<kind>.created`` with it as data."""
        spec = MASTER_DATA[kind]
        body = _dump(entity.model_copy(update={"UpdatedAt": _now()}))
        key = document_key(kind, body)
        with self._transaction() as session:
            if self._document(session, kind, key):
                raise ApiError(409, "conflict", f"{kind} {key!r} already exists")
            self._save(session, kind, key, body)
            if emit:
                outbox.enqueue(session, spec.created, body, ordering_key=f"{kind}:{key}")
        return body

    def create_many(self, kind: str, entities: Sequence[BaseModel]) -> list[BatchItemResult]:
        """Create the customers, products or vendors that do not exist yet, in one transaction;
        an existing one is left exactly as it is and answered ``exists`` (never overwritten), so
        sending a batch again creates nothing twice. Emits ``<kind>.created`` for each created."""
        spec = MASTER_DATA[kind]
        now = _now()
        bodies = [_dump(entity.model_copy(update={"UpdatedAt": now})) for entity in entities]
        keys = [document_key(kind, body) for body in bodies]
        if len(set(keys)) != len(keys):
            raise invalid([{"field": spec.key_field, "message": "given twice", "type": "value_error"}])
        with self._transaction() as session:
            return _create_missing(session, kind, keys, bodies, spec.created)

    def update(self, kind: str, key: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Partial update; the id cannot change. Nothing changed: no new UpdatedAt, no webhook."""
        spec = MASTER_DATA[kind]
        with self._transaction() as session:
            document = self._document(session, kind, key)
            if document is None:
                raise not_found(kind, key)
            if changes.get(spec.key_field, key) != key:
                raise invalid(
                    [{"field": spec.key_field, "message": "cannot be changed", "type": "value_error"}]
                )
            entity = self._validate(spec.model, {**document.body, **changes, "UpdatedAt": None})
            body = _dump(entity)
            if body == _without_updated_at(document.body):
                return dict(document.body)
            body["UpdatedAt"] = _now().isoformat()
            self._save(session, kind, key, body)
            outbox.enqueue(session, spec.updated, body, ordering_key=f"{kind}:{key}")
        return body

    def delete(self, kind: str, key: str) -> dict[str, Any]:
        """Delete for good (a GET then answers 404); emits ``<kind>.deleted`` with the last body."""
        spec = MASTER_DATA[kind]
        with self._transaction() as session:
            document = self._document(session, kind, key)
            if document is None:
                raise not_found(kind, key)
            body = dict(document.body)
            session.delete(document)
            outbox.enqueue(session, spec.deleted, body, ordering_key=f"{kind}:{key}")
        return body

    # -- admin: drift and bulk loads, never announced -----------------------------------------

    def drift(self, kind: str, key: str, changes: dict[str, Any], *, touch: bool = True) -> dict[str, Any]:
        """Change a stored document as BNG would, but without any webhook.

        With ``touch`` the change gets a new ``UpdatedAt`` (found by ``updated_since``: a change
        whose webhook was lost); without it, the timestamps stay (only a full comparison finds it).
        An ``UpdatedAt`` in ``changes`` is taken as given.
        """
        model = _ADMIN_MODELS[kind]
        with self._sessions.begin() as session:
            document = self._document(session, kind, key)
            if document is None:
                raise not_found(kind, key)
            merged = {**document.body, **changes}
            if touch and "UpdatedAt" not in changes:
                merged["UpdatedAt"] = _now().isoformat()
            body = _dump(self._validate(model, merged))
            if document_key(kind, body) != key:
                fields = ("SKU", "Warehouse") if kind == INVENTORY else (MASTER_DATA[kind].key_field,)
                raise invalid(
                    [{"field": f, "message": "cannot be changed", "type": "value_error"} for f in fields]
                )
            self._save(session, kind, key, body)
        return body

    def bulk(self, kind: str, documents: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert or replace many documents in one transaction, validated, without webhooks.

        All or nothing: any invalid document (or a key given twice) refuses the whole load. A
        document without ``UpdatedAt`` gets the current time.
        """
        model = _ADMIN_MODELS[kind]
        now = _now().isoformat()
        bodies: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(documents):
            try:
                body = _dump(model.model_validate(raw))
            except ValidationError as exc:
                errors += field_errors([{**e, "loc": ("documents", index, *e["loc"])} for e in exc.errors()])
                continue
            body.setdefault("UpdatedAt", now)
            key = document_key(kind, body)
            if key in bodies:
                errors.append(
                    {"field": f"documents.{index}", "message": f"{key!r} given twice", "type": "value_error"}
                )
            bodies[key] = body
        if errors:
            raise invalid(errors[:_MAX_REPORTED_ERRORS])
        keys = list(bodies)
        replaced = 0
        with self._sessions.begin() as session:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                result = session.execute(
                    delete(Document).where(Document.kind == kind, Document.key.in_(chunk))
                )
                replaced += result.rowcount or 0  # type: ignore[attr-defined]
            if keys:
                rows = [
                    {"kind": kind, "key": key, "parent": None, "updated_at": _timestamp(body), "body": body}
                    for key, body in bodies.items()
                ]
                session.execute(insert(Document), rows)
        return {"inserted": len(keys) - replaced, "replaced": replaced}

    # -- orders -------------------------------------------------------------------------------

    def create_order(self, order: Order, *, strict_references: bool) -> dict[str, Any]:
        with self._transaction() as session:
            if self._document(session, ORDER, order.OrderID):
                raise ApiError(409, "conflict", f"order {order.OrderID!r} already exists")
            customer = self._document(session, CUSTOMER, order.CustomerID)
            if strict_references:
                self._check_references(session, order, customer)
            order = self._complete(order, customer.body if customer else None)
            body = _dump(order)
            self._save(session, ORDER, order.OrderID, body)
            outbox.enqueue(
                session, WebhookEventType.ORDER_CREATED, body, ordering_key=f"order:{order.OrderID}"
            )
        return body

    def _check_references(self, session: Session, order: Order, customer: Document | None) -> None:
        errors = []
        if customer is None:
            errors.append({"field": "CustomerID", "message": f"unknown customer {order.CustomerID!r}"})
        elif customer.body.get("Status") == CustomerStatus.BLOCKED:
            errors.append({"field": "CustomerID", "message": f"customer {order.CustomerID!r} is blocked"})
        seen: set[int] = set()
        for index, line in enumerate(order.Lines):
            if self._document(session, PRODUCT, line.SKU) is None:
                errors.append({"field": f"Lines.{index}.SKU", "message": f"unknown SKU {line.SKU!r}"})
            if line.LineNumber in seen:
                errors.append({"field": f"Lines.{index}.LineNumber", "message": "duplicate line number"})
            seen.add(line.LineNumber)
        if errors:
            raise invalid([{**error, "type": "value_error"} for error in errors])

    @staticmethod
    def _complete(order: Order, customer: dict[str, Any] | None) -> Order:
        """What BNG's checkout fills in: totals, the customer's name and contact, timestamps."""
        update: dict[str, Any] = {"UpdatedAt": _now()}
        if order.TotalAmount is None:
            total = sum((line.Quantity * line.UnitPrice for line in order.Lines), Decimal("0"))
            update["TotalAmount"] = total.quantize(Decimal("0.01"))
        if customer:
            name = customer.get("CompanyName") or " ".join(
                part for part in (customer.get("FirstName"), customer.get("LastName")) if part
            )
            defaults = {
                "CustomerName": name or None,
                "Email": customer.get("Email"),
                "Phone": customer.get("Phone"),
            }
            update |= {key: value for key, value in defaults.items() if getattr(order, key) is None and value}
        return order.model_copy(update=update)

    def update_order_status(self, order_id: str, status_update: OrderStatusUpdate) -> dict[str, Any]:
        """Apply M3's status; the same update again is a no-op (no history entry, no webhook)."""
        changes = status_update.model_dump(mode="json", exclude_none=True)
        with self._transaction() as session:
            document = self._document(session, ORDER, order_id)
            if document is None:
                raise not_found(ORDER, order_id)
            current = dict(document.body)
            if all(current.get(key) == value for key, value in changes.items()):
                return current
            previous = current.get("OrderStatus")
            if previous == OrderStatus.CANCELLED and status_update.OrderStatus != OrderStatus.CANCELLED:
                raise ApiError(409, "conflict", f"order {order_id!r} is cancelled")
            body = {**current, **changes, "UpdatedAt": _now().isoformat()}
            self._save(session, ORDER, order_id, body)
            history = {"ReceivedAt": body["UpdatedAt"], "PreviousStatus": previous, **changes}
            session.add(StatusHistory(order_id=order_id, body=history))
            outbox.enqueue(session, WebhookEventType.ORDER_UPDATED, body, ordering_key=f"order:{order_id}")
        return body

    def put_invoice(self, order_id: str, invoice: Invoice) -> dict[str, Any]:
        invoice_body = invoice.model_dump(mode="json", exclude_none=True)
        with self._transaction() as session:
            document = self._document(session, ORDER, order_id)
            if document is None:
                raise not_found(ORDER, order_id)
            if invoice.Currency != document.body.get("Currency", "EUR"):
                raise invalid(
                    [{"field": "Currency", "message": "must be the order's currency", "type": "value_error"}]
                )
            if document.body.get("Invoice") == invoice_body:
                return dict(document.body)
            body = {**document.body, "Invoice": invoice_body, "UpdatedAt": _now().isoformat()}
            self._save(session, ORDER, order_id, body)
            outbox.enqueue(session, WebhookEventType.ORDER_UPDATED, body, ordering_key=f"order:{order_id}")
        return body

    def history(self, order_id: str) -> list[dict[str, Any]]:
        self.require(ORDER, order_id)
        with self._sessions() as session:
            query = select(StatusHistory).where(StatusHistory.order_id == order_id).order_by(StatusHistory.id)
            return [dict(row.body) for row in session.scalars(query)]

    # -- payments -----------------------------------------------------------------------------

    def capture_payment(self, order_id: str, capture: PaymentCapture) -> tuple[dict[str, Any], bool]:
        """The payment and whether it is new; a known PaymentID with the same amount is a replay."""
        with self._transaction() as session:
            order = self._document(session, ORDER, order_id)
            if order is None:
                raise not_found(ORDER, order_id)
            if capture.Currency != order.body.get("Currency", "EUR"):
                raise invalid(
                    [{"field": "Currency", "message": "must be the order's currency", "type": "value_error"}]
                )
            payment_id = capture.PaymentID or f"PAY-{uuid.uuid4().hex[:12].upper()}"
            existing = self._document(session, PAYMENT, payment_id)
            if existing is not None:
                same = existing.parent == order_id and Decimal(existing.body["Amount"]) == capture.Amount
                if not same:
                    raise ApiError(409, "conflict", f"payment {payment_id!r} already exists")
                return dict(existing.body), False
            payment = Payment(
                PaymentID=payment_id,
                OrderID=order_id,
                Amount=capture.Amount,
                Currency=capture.Currency,
                Method=capture.Method,
                CapturedAt=_now(),
            )
            body = _dump(payment)
            self._save(session, PAYMENT, payment_id, body, parent=order_id)
            outbox.enqueue(session, WebhookEventType.PAYMENT_CAPTURED, body, ordering_key=f"order:{order_id}")
        return body, True

    # -- purchase orders ----------------------------------------------------------------------

    def create_purchase_order(self, po: PurchaseOrder, *, strict_references: bool) -> dict[str, Any]:
        """A buyer's new PO; emits purchaseorder.created. 409 if the id exists.

        The vendor must be known and active; the SKUs are not checked against BNG's catalogue (a
        PO may buy what BNG does not sell): whether M3 knows the item is m3bng's to find out.
        """
        errors = _duplicate_line_numbers(po.Lines)
        if po.Status != PurchaseOrderStatus.SUBMITTED:
            errors.append({"field": "Status", "message": "a new purchase order is Submitted"})
        with self._transaction() as session:
            if self._document(session, PURCHASE_ORDER, po.PurchaseOrderID):
                raise _conflict(f"purchase order {po.PurchaseOrderID!r} already exists")
            if strict_references:
                errors += self._vendor_errors(session, po.VendorID)
            if errors:
                raise _value_errors(errors)
            body = _dump(po.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, PURCHASE_ORDER, po.PurchaseOrderID, body)
            outbox.enqueue(
                session,
                WebhookEventType.PURCHASEORDER_CREATED,
                body,
                ordering_key=_po_key(po.PurchaseOrderID),
            )
        return body

    def _vendor_errors(self, session: Session, vendor_id: str) -> list[dict[str, str]]:
        vendor = self._document(session, VENDOR, vendor_id)
        if vendor is None:
            return [{"field": "VendorID", "message": f"unknown vendor {vendor_id!r}"}]
        if vendor.body.get("Status") == VendorStatus.INACTIVE:
            return [{"field": "VendorID", "message": f"vendor {vendor_id!r} is inactive"}]
        return []

    def update_purchase_order(self, po_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """The buyer's change; emits purchaseorder.updated. Nothing changed: no webhook.

        ``Lines`` replaces the line list: a stored line left out stays on the PO as ``Cancelled``,
        and ``ReceivedQuantity`` is kept from the stored line (only m3bng's status PUT sets it).
        409 once the PO is Cancelled or Closed. Whether M3 can still make the change (a quantity
        below what was received, a line with goods in) is M3's to answer, not BNG's.
        """
        with self._transaction() as session:
            document = self._document(session, PURCHASE_ORDER, po_id)
            if document is None:
                raise not_found(PURCHASE_ORDER, po_id)
            current = dict(document.body)
            fixed = [
                {"field": name, "message": "cannot be changed by the buyer"}
                for name in _PO_INTEGRATION_FIELDS
                if name in changes and changes[name] != current.get(name)
            ]
            if fixed:
                raise _value_errors(fixed)
            if current.get("Status") in _PO_FROZEN:
                raise _conflict(f"purchase order {po_id!r} is {current['Status']}")
            changes = {key: value for key, value in changes.items() if key != "UpdatedAt"}
            po = self._validate(PurchaseOrder, {**current, **changes, "UpdatedAt": None})
            errors = _duplicate_line_numbers(po.Lines)
            if errors:
                raise _value_errors(errors)
            if "Lines" in changes:
                po = po.model_copy(update={"Lines": _merge_po_lines(current["Lines"], po.Lines)})
            if _same(PurchaseOrder, current, po):
                return current
            body = _dump(po.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, PURCHASE_ORDER, po_id, body)
            outbox.enqueue(session, WebhookEventType.PURCHASEORDER_UPDATED, body, ordering_key=_po_key(po_id))
        return body

    def cancel_purchase_order(self, po_id: str, reason: str | None) -> dict[str, Any]:
        """The buyer cancels; emits purchaseorder.cancelled. Already cancelled: answered as is.

        StatusReason becomes ``reason`` (none clears an earlier one).
        """
        with self._transaction() as session:
            document = self._document(session, PURCHASE_ORDER, po_id)
            if document is None:
                raise not_found(PURCHASE_ORDER, po_id)
            current = dict(document.body)
            status = current.get("Status")
            if status == PurchaseOrderStatus.CANCELLED:
                return current
            if status in _PO_NOT_CANCELLABLE:
                raise _conflict(f"purchase order {po_id!r} is {status}: it cannot be cancelled")
            body = {**_without_reason(current), "Status": PurchaseOrderStatus.CANCELLED.value}
            if reason:
                body["StatusReason"] = reason
            body["UpdatedAt"] = _now().isoformat()
            self._save(session, PURCHASE_ORDER, po_id, body)
            outbox.enqueue(
                session, WebhookEventType.PURCHASEORDER_CANCELLED, body, ordering_key=_po_key(po_id)
            )
        return body

    def set_purchase_order_status(self, po_id: str, update: PurchaseOrderStatusUpdate) -> dict[str, Any]:
        """m3bng's status from M3; emits purchaseorder.status_changed. The same again: no webhook.

        ExternalID is kept when the update leaves it out; StatusReason is the update's (none clears
        it); ``Lines`` set ReceivedQuantity on the lines they name. A cancelled PO stays cancelled.
        """
        changes = update.model_dump(mode="json", exclude_none=True, exclude={"Lines"})
        with self._transaction() as session:
            document = self._document(session, PURCHASE_ORDER, po_id)
            if document is None:
                raise not_found(PURCHASE_ORDER, po_id)
            current = dict(document.body)
            po = self._validate(PurchaseOrder, {**_without_reason(current), **changes, "UpdatedAt": None})
            if update.Lines:
                lines = {line.LineNumber: line for line in po.Lines}
                errors = [
                    {
                        "field": f"Lines.{index}.LineNumber",
                        "message": f"no line {received.LineNumber} on the PO",
                    }
                    for index, received in enumerate(update.Lines)
                    if received.LineNumber not in lines
                ]
                if errors:
                    raise _value_errors(errors)
                for received in update.Lines:
                    lines[received.LineNumber] = lines[received.LineNumber].model_copy(
                        update={"ReceivedQuantity": received.ReceivedQuantity}
                    )
                po = po.model_copy(update={"Lines": list(lines.values())})
            if _same(PurchaseOrder, current, po):
                return current
            if (
                current.get("Status") == PurchaseOrderStatus.CANCELLED
                and po.Status != PurchaseOrderStatus.CANCELLED
            ):
                raise _conflict(f"purchase order {po_id!r} is cancelled")
            body = _dump(po.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, PURCHASE_ORDER, po_id, body)
            outbox.enqueue(
                session, WebhookEventType.PURCHASEORDER_STATUS_CHANGED, body, ordering_key=_po_key(po_id)
            )
        return body

    # -- goods receipts -----------------------------------------------------------------------

    def create_goods_receipt(self, po_id: str, request: GoodsReceiptRequest) -> tuple[dict[str, Any], bool]:
        """The receipt and whether it is new; emits goodsreceipt.created.

        A known ReceiptID with the same receipt is a replay; with a different one, 409. The
        PO's ReceivedQuantity does not change here: m3bng writes it back from M3.
        """
        if request.PurchaseOrderID not in (None, po_id):
            raise _value_errors([{"field": "PurchaseOrderID", "message": "must match the URL"}])
        receipt = self._validate(GoodsReceipt, {**_dump(request), "PurchaseOrderID": po_id})
        with self._transaction() as session:
            po = self._document(session, PURCHASE_ORDER, po_id)
            if po is None:
                raise not_found(PURCHASE_ORDER, po_id)
            existing = self._document(session, GOODS_RECEIPT, receipt.ReceiptID)
            if existing is not None:
                if GoodsReceipt.model_validate(existing.body) != receipt:
                    raise _conflict(f"receipt {receipt.ReceiptID!r} already exists with other content")
                return dict(existing.body), False
            status = po.body.get("Status")
            if status in _PO_FROZEN:
                raise _conflict(f"purchase order {po_id!r} is {status}")
            po_lines = {line["LineNumber"]: line for line in po.body["Lines"]}
            errors = _duplicate_line_numbers(receipt.Lines)
            for index, line in enumerate(receipt.Lines):
                po_line = po_lines.get(line.LineNumber)
                if po_line is None:
                    errors.append(
                        {
                            "field": f"Lines.{index}.LineNumber",
                            "message": f"no line {line.LineNumber} on the PO",
                        }
                    )
                elif po_line["SKU"] != line.SKU:
                    errors.append(
                        {
                            "field": f"Lines.{index}.SKU",
                            "message": f"PO line {line.LineNumber} is {po_line['SKU']!r}",
                        }
                    )
                elif po_line.get("Cancelled"):
                    errors.append(
                        {
                            "field": f"Lines.{index}.LineNumber",
                            "message": f"PO line {line.LineNumber} is cancelled",
                        }
                    )
            if errors:
                raise _value_errors(errors)
            body = _dump(receipt)
            self._save(session, GOODS_RECEIPT, receipt.ReceiptID, body, parent=po_id)
            outbox.enqueue(session, WebhookEventType.GOODSRECEIPT_CREATED, body, ordering_key=_po_key(po_id))
        return body, True

    # -- supplier invoices --------------------------------------------------------------------

    def create_supplier_invoice(self, invoice: SupplierInvoice, *, strict_references: bool) -> dict[str, Any]:
        """AP's new invoice; emits supplierinvoice.created. 409 if the id exists.

        The same InvoiceNumber twice from one vendor is accepted here: catching it is m3bng's job.
        """
        errors = _duplicate_line_numbers(invoice.Lines)
        if invoice.Status != SupplierInvoiceStatus.RECEIVED:
            errors.append({"field": "Status", "message": "a new supplier invoice is Received"})
        if invoice.NetAmount + invoice.TaxAmount != invoice.TotalAmount:
            errors.append({"field": "TotalAmount", "message": "must be NetAmount + TaxAmount"})
        with self._transaction() as session:
            if self._document(session, SUPPLIER_INVOICE, invoice.SupplierInvoiceID):
                raise _conflict(f"supplier invoice {invoice.SupplierInvoiceID!r} already exists")
            if strict_references:
                if self._document(session, VENDOR, invoice.VendorID) is None:
                    errors.append({"field": "VendorID", "message": f"unknown vendor {invoice.VendorID!r}"})
                else:
                    errors += self._invoice_line_errors(session, invoice)
            if errors:
                raise _value_errors(errors)
            body = _dump(invoice.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, SUPPLIER_INVOICE, invoice.SupplierInvoiceID, body)
            outbox.enqueue(
                session,
                WebhookEventType.SUPPLIERINVOICE_CREATED,
                body,
                ordering_key=f"supplier-invoice:{invoice.SupplierInvoiceID}",
            )
        return body

    def _invoice_line_errors(self, session: Session, invoice: SupplierInvoice) -> list[dict[str, str]]:
        """Each line must name a line of one of the vendor's purchase orders."""
        errors = []
        for index, line in enumerate(invoice.Lines):
            po = self._document(session, PURCHASE_ORDER, line.PurchaseOrderID)
            field = f"Lines.{index}"
            if po is None:
                errors.append(
                    {
                        "field": f"{field}.PurchaseOrderID",
                        "message": f"unknown purchase order {line.PurchaseOrderID!r}",
                    }
                )
            elif po.body.get("VendorID") != invoice.VendorID:
                errors.append(
                    {"field": f"{field}.PurchaseOrderID", "message": "purchase order of another vendor"}
                )
            elif line.PurchaseOrderLine not in {po_line["LineNumber"] for po_line in po.body["Lines"]}:
                errors.append(
                    {
                        "field": f"{field}.PurchaseOrderLine",
                        "message": f"no line {line.PurchaseOrderLine} on the PO",
                    }
                )
        return errors

    def set_supplier_invoice_status(
        self, invoice_id: str, update: SupplierInvoiceStatusUpdate
    ) -> dict[str, Any]:
        """m3bng's status from M3; emits supplierinvoice.status_changed. The same again: no webhook."""
        return self._set_status(
            SUPPLIER_INVOICE,
            SupplierInvoice,
            invoice_id,
            update,
            WebhookEventType.SUPPLIERINVOICE_STATUS_CHANGED,
            ordering_key=f"supplier-invoice:{invoice_id}",
        )

    # -- journals -----------------------------------------------------------------------------

    def create_journal(self, journal: Journal) -> dict[str, Any]:
        """Finance's new journal; emits journal.created. 409 if the id exists.

        Balance, accounts and periods are M3's to check (GLS840MI CtrlBatch), not BNG's.
        """
        errors = _duplicate_line_numbers(journal.Lines)
        if journal.Status != JournalStatus.RECEIVED:
            errors.append({"field": "Status", "message": "a new journal is Received"})
        errors += [
            {"field": f"Lines.{index}", "message": "a line is either a debit or a credit"}
            for index, line in enumerate(journal.Lines)
            if line.Debit > 0 and line.Credit > 0
        ]
        if errors:
            raise _value_errors(errors)
        with self._transaction() as session:
            if self._document(session, JOURNAL, journal.JournalID):
                raise _conflict(f"journal {journal.JournalID!r} already exists")
            body = _dump(journal.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, JOURNAL, journal.JournalID, body)
            outbox.enqueue(
                session, WebhookEventType.JOURNAL_CREATED, body, ordering_key=f"journal:{journal.JournalID}"
            )
        return body

    def set_journal_status(self, journal_id: str, update: JournalStatusUpdate) -> dict[str, Any]:
        """m3bng's status from M3; emits journal.status_changed. The same again: no webhook."""
        return self._set_status(
            JOURNAL,
            Journal,
            journal_id,
            update,
            WebhookEventType.JOURNAL_STATUS_CHANGED,
            ordering_key=f"journal:{journal_id}",
        )

    def _set_status(
        self,
        kind: str,
        model: type[BaseModel],
        key: str,
        update: BaseModel,
        event: WebhookEventType,
        *,
        ordering_key: str,
    ) -> dict[str, Any]:
        """Status, ExternalID (kept when left out) and StatusReason (none clears it) of a document."""
        changes = update.model_dump(mode="json", exclude_none=True)
        with self._transaction() as session:
            document = self._document(session, kind, key)
            if document is None:
                raise not_found(kind, key)
            current = dict(document.body)
            entity = self._validate(model, {**_without_reason(current), **changes, "UpdatedAt": None})
            if _same(model, current, entity):
                return current
            body = _dump(entity.model_copy(update={"UpdatedAt": _now()}))
            self._save(session, kind, key, body)
            outbox.enqueue(session, event, body, ordering_key=ordering_key)
        return body

    # -- refunds ------------------------------------------------------------------------------

    def refund_payment(
        self, order_id: str, payment_id: str, request: RefundRequest
    ) -> tuple[dict[str, Any], bool]:
        """The refund and whether it is new; emits payment.refunded with the refund as data.

        A known RefundID on the same payment with the same amount is a replay. All refunds of a
        payment together may not exceed its amount (409); a payment refunded in full becomes
        ``Refunded``.
        """
        with self._transaction() as session:
            if self._document(session, ORDER, order_id) is None:
                raise not_found(ORDER, order_id)
            payment = self._document(session, PAYMENT, payment_id)
            if payment is None or payment.parent != order_id:
                raise not_found(PAYMENT, payment_id)
            if request.Currency != payment.body["Currency"]:
                raise _value_errors([{"field": "Currency", "message": "must be the payment's currency"}])
            refund_id = request.RefundID or f"RF-{uuid.uuid4().hex[:12].upper()}"
            existing = self._document(session, REFUND, refund_id)
            if existing is not None:
                same = existing.parent == payment_id and Decimal(existing.body["Amount"]) == request.Amount
                if not same:
                    raise _conflict(f"refund {refund_id!r} already exists")
                return dict(existing.body), False
            earlier = session.scalars(
                select(Document).where(Document.kind == REFUND, Document.parent == payment_id)
            )
            refunded = sum((Decimal(row.body["Amount"]) for row in earlier), Decimal("0"))
            captured = Decimal(payment.body["Amount"])
            total = refunded + request.Amount
            if total > captured:
                raise _conflict(
                    f"payment {payment_id!r}: refunds of {total} would exceed the captured {captured}"
                )
            refund = Refund(
                RefundID=refund_id,
                PaymentID=payment_id,
                OrderID=order_id,
                Amount=request.Amount,
                Currency=request.Currency,
                Reason=request.Reason,
                RefundedAt=_now(),
            )
            body = _dump(refund)
            self._save(session, REFUND, refund_id, body, parent=payment_id)
            if total == captured:
                self._save(
                    session, PAYMENT, payment_id, {**payment.body, "Status": PaymentStatus.REFUNDED.value}
                )
            outbox.enqueue(session, WebhookEventType.PAYMENT_REFUNDED, body, ordering_key=f"order:{order_id}")
        return body, True

    # -- inventory ----------------------------------------------------------------------------

    def set_inventory(
        self, sku: str, warehouse: str, update: InventoryUpdate, *, strict_references: bool
    ) -> dict[str, Any]:
        errors = [
            {"field": name, "message": "must match the URL", "type": "value_error"}
            for name, value, expected in (
                ("SKU", update.SKU, sku),
                ("Warehouse", update.Warehouse, warehouse),
            )
            if value is not None and value != expected
        ]
        if errors:
            raise invalid(errors)
        key = f"{sku}/{warehouse}"
        with self._transaction() as session:
            if strict_references and self._document(session, PRODUCT, sku) is None:
                raise not_found(PRODUCT, sku)
            level = InventoryLevel(
                SKU=sku,
                Warehouse=warehouse,
                QuantityOnHand=update.QuantityOnHand,
                QuantityAvailable=update.QuantityAvailable,
            )
            body = _dump(level)
            document = self._document(session, INVENTORY, key)
            if document is not None and {k: v for k, v in document.body.items() if k != "UpdatedAt"} == body:
                return dict(document.body)
            body["UpdatedAt"] = _now().isoformat()
            self._save(session, INVENTORY, key, body)
            outbox.enqueue(session, WebhookEventType.INVENTORY_UPDATED, body, ordering_key=f"inventory:{key}")
        return body

    def create_inventory_many(
        self, levels: Sequence[InventoryLevel], *, strict_references: bool
    ) -> list[BatchItemResult]:
        """Set the levels BNG has none of yet, in one transaction; an existing level is left as
        it is and answered ``exists``. Emits ``inventory.updated`` for each level set."""
        now = _now().isoformat()
        bodies = [
            {**_dump(level.model_copy(update={"UpdatedAt": None})), "UpdatedAt": now} for level in levels
        ]
        keys = [document_key(INVENTORY, body) for body in bodies]
        if len(set(keys)) != len(keys):
            raise invalid(
                [{"field": "levels", "message": "a SKU/Warehouse given twice", "type": "value_error"}]
            )
        with self._transaction() as session:
            if strict_references:
                skus = sorted({str(body["SKU"]) for body in bodies})
                known = set(
                    session.scalars(
                        select(Document.key).where(Document.kind == PRODUCT, Document.key.in_(skus))
                    )
                )
                if missing := [sku for sku in skus if sku not in known]:
                    raise not_found(PRODUCT, missing[0])
            return _create_missing(session, INVENTORY, keys, bodies, WebhookEventType.INVENTORY_UPDATED)

    # -- webhooks and housekeeping ------------------------------------------------------------

    def emit(self, event_type: str, data: Any, *, ordering_key: str | None = None) -> str:
        """Queue an arbitrary, unvalidated event: how tests make BNG send a broken order."""
        with self._transaction() as session:
            return outbox.enqueue(session, event_type, data, ordering_key=ordering_key)

    def next_order_number(self, default: int) -> int:
        with self._sessions() as session:
            keys = session.scalars(
                select(Document.key).where(Document.kind == ORDER, Document.key.like("BNG-%"))
            )
            numbers = [int(key[4:]) for key in keys if key[4:].isdigit()]
        return max(numbers, default=default - 1) + 1

    def reset(self) -> None:
        with self._sessions.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(delete(table))

    @staticmethod
    def _validate(model: type[ModelT], data: dict[str, Any]) -> ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise from_validation_error(exc) from None


def _without_reason(body: dict[str, Any]) -> dict[str, Any]:
    """A status update replaces the reason: one without a StatusReason clears the old one."""
    return {key: value for key, value in body.items() if key != "StatusReason"}


def _po_key(po_id: str) -> str:
    return f"po:{po_id}"


def _merge_po_lines(stored: list[dict[str, Any]], lines: list[PurchaseOrderLine]) -> list[PurchaseOrderLine]:
    """The buyer's new line list over the stored one (see ``update_purchase_order``)."""
    before = {line["LineNumber"]: PurchaseOrderLine.model_validate(line) for line in stored}
    merged: dict[int, PurchaseOrderLine] = {}
    for line in lines:
        received = before[line.LineNumber].ReceivedQuantity if line.LineNumber in before else Decimal("0")
        merged[line.LineNumber] = line.model_copy(update={"ReceivedQuantity": received})
    for number, old in before.items():
        merged.setdefault(number, old.model_copy(update={"Cancelled": True}))
    return [merged[number] for number in sorted(merged)]


def _create_missing(
    session: Session, kind: str, keys: list[str], bodies: list[dict[str, Any]], event_type: str
) -> list[BatchItemResult]:
    """A batch create: insert the documents whose key is new, in one statement, emitting
    ``event_type`` for each; an existing one is left exactly as it is and answered ``exists``."""
    existing = {
        document.key: document.body
        for document in session.scalars(select(Document).where(Document.kind == kind, Document.key.in_(keys)))
    }
    results: list[BatchItemResult] = []
    rows = []
    for key, body in zip(keys, bodies, strict=True):
        if key in existing:
            results.append(BatchItemResult(key=key, status="exists", item=dict(existing[key])))
            continue
        rows.append({"kind": kind, "key": key, "parent": None, "updated_at": _timestamp(body), "body": body})
        results.append(BatchItemResult(key=key, status="created", item=body))
    if rows:
        session.execute(insert(Document), rows)
        outbox.enqueue_many(session, event_type, [(row["body"], f"{kind}:{row['key']}") for row in rows])
    return results
