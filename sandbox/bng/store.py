"""BNG's state and business rules: what each API call changes, and which webhook it announces.

Every change and its webhook are written in one transaction (see ``outbox.py``). Entities are
stored exactly as they are served: the models' JSON, with ``None`` fields left out.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from clients.bng.models import (
    Customer,
    CustomerStatus,
    InventoryLevel,
    Invoice,
    Order,
    OrderStatus,
    OrderStatusUpdate,
    Payment,
    Product,
    WebhookEventType,
)
from sandbox.bng import outbox
from sandbox.bng.db import Base, Document, StatusHistory
from sandbox.bng.errors import ApiError, from_validation_error, invalid, not_found

ModelT = TypeVar("ModelT", bound=BaseModel)

CUSTOMER, PRODUCT, ORDER, PAYMENT, INVENTORY = "customer", "product", "order", "payment", "inventory"


class Page(BaseModel):
    items: list[dict[str, Any]]
    page: int | None = None
    page_size: int
    total: int
    next_cursor: str | None = None


class PaymentCapture(BaseModel):
    """Body of ``POST /api/v1/orders/{OrderID}/payments``."""

    Amount: Decimal = Field(gt=0)
    Currency: str = Field(min_length=3, max_length=3)
    Method: str = "Card"
    PaymentID: str | None = Field(default=None, min_length=1)


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
    ) -> Page:
        """One page, by key order: ``page`` numbers or an opaque ``cursor`` (both give next_cursor)."""
        conditions: list[Any] = [Document.kind == kind]
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
        document.body, document.updated_at = body, time.time()

    # -- customers and products ---------------------------------------------------------------

    def create_customer(self, customer: Customer, *, emit: bool = True) -> dict[str, Any]:
        body = _dump(customer.model_copy(update={"UpdatedAt": _now()}))
        with self._transaction() as session:
            if self._document(session, CUSTOMER, customer.CustomerID):
                raise ApiError(409, "conflict", f"customer {customer.CustomerID!r} already exists")
            self._save(session, CUSTOMER, customer.CustomerID, body)
            if emit:
                outbox.enqueue(
                    session,
                    WebhookEventType.CUSTOMER_CREATED,
                    body,
                    ordering_key=f"customer:{customer.CustomerID}",
                )
        return body

    def update_customer(self, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as session:
            document = self._document(session, CUSTOMER, customer_id)
            if document is None:
                raise not_found(CUSTOMER, customer_id)
            if changes.get("CustomerID", customer_id) != customer_id:
                raise invalid(
                    [{"field": "CustomerID", "message": "cannot be changed", "type": "value_error"}]
                )
            customer = self._validate(Customer, {**document.body, **changes, "UpdatedAt": None})
            body = _dump(customer)
            if body == {k: v for k, v in document.body.items() if k != "UpdatedAt"}:
                return dict(document.body)
            body["UpdatedAt"] = _now().isoformat()
            self._save(session, CUSTOMER, customer_id, body)
            outbox.enqueue(
                session, WebhookEventType.CUSTOMER_UPDATED, body, ordering_key=f"customer:{customer_id}"
            )
        return body

    def create_product(self, product: Product, *, emit: bool = True) -> dict[str, Any]:
        body = _dump(product.model_copy(update={"UpdatedAt": _now()}))
        with self._transaction() as session:
            if self._document(session, PRODUCT, product.SKU):
                raise ApiError(409, "conflict", f"product {product.SKU!r} already exists")
            self._save(session, PRODUCT, product.SKU, body)
            if emit:
                outbox.enqueue(
                    session, WebhookEventType.PRODUCT_UPDATED, body, ordering_key=f"product:{product.SKU}"
                )
        return body

    def update_product(self, sku: str, changes: dict[str, Any]) -> dict[str, Any]:
        with self._transaction() as session:
            document = self._document(session, PRODUCT, sku)
            if document is None:
                raise not_found(PRODUCT, sku)
            if changes.get("SKU", sku) != sku:
                raise invalid([{"field": "SKU", "message": "cannot be changed", "type": "value_error"}])
            changes = {key: value for key, value in changes.items() if key != "UpdatedAt"}
            product = self._validate(Product, {**document.body, **changes, "UpdatedAt": None})
            body = _dump(product)
            if body == {k: v for k, v in document.body.items() if k != "UpdatedAt"}:
                return dict(document.body)
            body["UpdatedAt"] = _now().isoformat()
            self._save(session, PRODUCT, sku, body)
            outbox.enqueue(session, WebhookEventType.PRODUCT_UPDATED, body, ordering_key=f"product:{sku}")
        return body

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
