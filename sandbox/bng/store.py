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
    InventoryLevel,
    Invoice,
    Order,
    OrderStatus,
    OrderStatusUpdate,
    Payment,
    Product,
    Vendor,
    WebhookEventType,
)
from sandbox.bng import outbox
from sandbox.bng.db import Base, Document, StatusHistory
from sandbox.bng.errors import ApiError, field_errors, from_validation_error, invalid, not_found

ModelT = TypeVar("ModelT", bound=BaseModel)

CUSTOMER, PRODUCT, ORDER, PAYMENT, INVENTORY = "customer", "product", "order", "payment", "inventory"
VENDOR = "vendor"

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
