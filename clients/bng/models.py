"""BNG's REST and webhook schema, with the field names of the product brief.

These models are the contract between BNG and m3bng: the BNG client sends and reads them, the BNG
sandbox serves them, and the order-to-cash workflow validates incoming webhooks against them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BngModel(BaseModel):
    # BNG may add fields at any time; unknown fields are kept, never a reason to reject.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Address(BngModel):
    Line1: str = Field(min_length=1)
    Line2: str | None = None
    City: str = Field(min_length=1)
    State: str | None = None
    PostalCode: str = Field(min_length=1)
    Country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")


class CustomerStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    BLOCKED = "Blocked"


class TaxExemptStatus(StrEnum):
    TAXABLE = "Taxable"
    EXEMPT = "Exempt"


_TaxExemptStatus = TaxExemptStatus  # see the note above Order


class Customer(BngModel):
    CustomerID: str = Field(min_length=1)
    ExternalID: str | None = Field(default=None, description="The M3 customer number (CUNO) once linked")
    CompanyName: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    Phone: str | None = None
    BillingAddress: Address | None = None
    ShippingAddress: Address | None = None
    Status: CustomerStatus = CustomerStatus.ACTIVE
    CreditLimit: Decimal | None = None
    TaxExemptStatus: _TaxExemptStatus = TaxExemptStatus.TAXABLE
    UpdatedAt: datetime | None = None


class Product(BngModel):
    SKU: str = Field(min_length=1)
    Name: str = Field(min_length=1)
    Description: str | None = None
    ProductCategory: str | None = None
    UnitOfMeasure: str = "EA"
    Price: Decimal | None = None
    Status: str = "Active"
    ExternalID: str | None = Field(default=None, description="The M3 item number (ITNO) once linked")
    UpdatedAt: datetime | None = None


class OrderStatus(StrEnum):
    PENDING = "Pending"
    ACCEPTED = "Accepted"
    ALLOCATED = "Allocated"
    PICKING = "Picking"
    SHIPPED = "Shipped"
    INVOICED = "Invoiced"
    PAID = "Paid"
    ON_HOLD = "OnHold"
    CANCELLED = "Cancelled"


class OrderLine(BngModel):
    LineNumber: int = Field(ge=1)
    SKU: str = Field(min_length=1)
    Quantity: Decimal = Field(gt=0)
    UnitPrice: Decimal = Field(ge=0)
    ProductCategory: str | None = None
    Description: str | None = None


class Invoice(BngModel):
    InvoiceNumber: str
    InvoiceDate: date
    DueDate: date | None = None
    NetAmount: Decimal
    TaxAmount: Decimal = Decimal("0")
    TotalAmount: Decimal
    Currency: str


# BNG names some fields like their types (Order.Invoice, Order.OrderStatus, ...). Inside the class
# body the field's default would shadow the type, so those annotations go through these aliases.
_Invoice = Invoice
_OrderStatus = OrderStatus


class Order(BngModel):
    OrderID: str = Field(min_length=1)
    StoreID: str = Field(default="WEB", description="The BNG instance/channel the order came from")
    CustomerID: str = Field(min_length=1)
    CustomerName: str | None = None
    CompanyName: str | None = None
    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    Phone: str | None = None
    OrderDate: str = Field(min_length=1, description="As BNG sends it, e.g. 2026-11-24T10:15:00Z")
    OrderStatus: _OrderStatus = OrderStatus.PENDING
    Currency: str = Field(default="EUR", min_length=3, max_length=3)
    CustomerPO: str | None = None
    BillingAddress: Address | None = None
    ShippingAddress: Address | None = None
    Lines: list[OrderLine] = Field(min_length=1)
    TotalAmount: Decimal | None = None
    Notes: str | None = None
    M3OrderNumber: str | None = None
    DeliveryNumber: str | None = None
    StatusReason: str | None = None
    Invoice: _Invoice | None = None
    UpdatedAt: datetime | None = None


class OrderStatusUpdate(BngModel):
    """Body of ``PATCH /api/v1/orders/{OrderID}``: what m3bng pushes back from M3."""

    OrderStatus: _OrderStatus
    M3OrderNumber: str | None = None
    DeliveryNumber: str | None = None
    StatusReason: str | None = None


class PaymentStatus(StrEnum):
    AUTHORIZED = "Authorized"
    CAPTURED = "Captured"
    REFUNDED = "Refunded"


class Payment(BngModel):
    PaymentID: str = Field(min_length=1)
    OrderID: str = Field(min_length=1)
    Amount: Decimal = Field(gt=0)
    Currency: str = Field(min_length=3, max_length=3)
    Method: str = "Card"
    Status: PaymentStatus = PaymentStatus.CAPTURED
    CapturedAt: datetime


class VendorStatus(StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


_Address = Address  # Vendor.Address: see the note above Order


class Vendor(BngModel):
    """A supplier in BNG; mirrors an M3 supplier (CRS620) once linked through ``ExternalID``."""

    VendorID: str = Field(min_length=1)
    ExternalID: str | None = Field(default=None, description="The M3 supplier number (SUNO) once linked")
    Name: str = Field(min_length=1)
    Email: str | None = None
    Phone: str | None = None
    Address: _Address | None = None
    Currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")
    PaymentTerms: str | None = Field(default=None, description="As BNG names them, e.g. NET30")
    Status: VendorStatus = VendorStatus.ACTIVE
    UpdatedAt: datetime | None = None


class InventoryLevel(BngModel):
    SKU: str
    Warehouse: str
    QuantityOnHand: Decimal
    QuantityAvailable: Decimal
    UpdatedAt: datetime | None = None


class WebhookEventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    PAYMENT_CAPTURED = "payment.captured"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_DELETED = "product.deleted"
    VENDOR_CREATED = "vendor.created"
    VENDOR_UPDATED = "vendor.updated"
    VENDOR_DELETED = "vendor.deleted"
    INVENTORY_UPDATED = "inventory.updated"


class WebhookEvent(BaseModel):
    """The Standard Webhooks envelope: ``type``, ``timestamp`` and the event's ``data``.

    ``data`` stays a plain dict here: the receiver must keep a body whose data does not validate.
    """

    type: str
    timestamp: datetime
    data: dict[str, Any]
