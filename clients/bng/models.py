"""BNG's REST and webhook schema, with the field names of the product brief.

These models are the contract between BNG and m3bng: the BNG client sends and reads them, the BNG
sandbox serves them, and the order-to-cash, procure-to-pay and finance workflows validate incoming
webhooks against them.
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


class PurchaseOrderStatus(StrEnum):
    SUBMITTED = "Submitted"  # as the buyer created it in BNG
    PLACED = "Placed"  # in M3; ExternalID is the PUNO
    CONFIRMED = "Confirmed"  # M3 line status 20..49 (sent to / confirmed by the supplier)
    PARTLY_RECEIVED = "PartlyReceived"
    RECEIVED = "Received"
    CLOSED = "Closed"  # M3 85+ (received and invoiced)
    CANCELLED = "Cancelled"
    ON_HOLD = "OnHold"  # parked in m3bng; StatusReason says why


class PurchaseOrderLine(BngModel):
    LineNumber: int = Field(ge=1, le=999, description="Becomes the M3 PO line number (PNLI)")
    SKU: str = Field(min_length=1)
    Quantity: Decimal = Field(gt=0)
    UnitPrice: Decimal = Field(ge=0)
    UnitOfMeasure: str = "EA"
    RequestedDeliveryDate: date | None = None
    ReceivedQuantity: Decimal = Field(default=Decimal("0"), ge=0, description="Written by m3bng from M3")
    Cancelled: bool = Field(default=False, description="A line the buyer removed")


class PurchaseOrder(BngModel):
    """A purchase order a BNG buyer raised with a vendor; placed in M3 by m3bng."""

    PurchaseOrderID: str = Field(min_length=1)
    VendorID: str = Field(min_length=1)
    OrderDate: str = Field(min_length=1, description="As BNG sends it, ISO")
    RequestedDeliveryDate: str | None = None
    Currency: str = Field(default="EUR", min_length=3, max_length=3)
    Warehouse: str = Field(default="300", min_length=1, description="BNG's WMS warehouse code")
    Buyer: str | None = None
    Notes: str | None = None
    Lines: list[PurchaseOrderLine] = Field(min_length=1)
    Status: PurchaseOrderStatus = PurchaseOrderStatus.SUBMITTED
    ExternalID: str | None = Field(default=None, description="The M3 PO number (PUNO) once placed")
    StatusReason: str | None = None
    UpdatedAt: datetime | None = None


class ReceivedLine(BngModel):
    LineNumber: int = Field(ge=1, le=999)
    ReceivedQuantity: Decimal = Field(ge=0)


class PurchaseOrderStatusUpdate(BngModel):
    """Body of ``PUT /api/v1/purchase-orders/{id}/status``: what m3bng pushes back from M3."""

    Status: PurchaseOrderStatus
    ExternalID: str | None = None
    StatusReason: str | None = None
    Lines: list[ReceivedLine] | None = Field(default=None, description="Received quantities per line")


class GoodsReceiptLine(BngModel):
    LineNumber: int = Field(ge=1, le=999, description="The PO line received against")
    SKU: str = Field(min_length=1)
    Quantity: Decimal = Field(gt=0)


class GoodsReceipt(BngModel):
    """Goods received in BNG's WMS against a purchase order."""

    ReceiptID: str = Field(min_length=1, max_length=17, description="Travels as M3's PMSN (A17)")
    PurchaseOrderID: str = Field(min_length=1)
    Warehouse: str = "300"
    ReceivedAt: datetime
    DeliveryNote: str | None = Field(default=None, max_length=20, description="The supplier's, M3 SUDO")
    Lines: list[GoodsReceiptLine] = Field(min_length=1)


class SupplierInvoiceStatus(StrEnum):
    RECEIVED = "Received"
    POSTED = "Posted"
    ON_HOLD = "OnHold"
    REJECTED = "Rejected"


class SupplierInvoiceLine(BngModel):
    LineNumber: int = Field(ge=1)
    PurchaseOrderID: str = Field(min_length=1)
    PurchaseOrderLine: int = Field(ge=1, le=999)
    SKU: str | None = None
    Quantity: Decimal = Field(gt=0)
    UnitPrice: Decimal = Field(ge=0)


class SupplierInvoice(BngModel):
    """A vendor's invoice as BNG's accounts payable received it; entered in M3 by m3bng."""

    SupplierInvoiceID: str = Field(min_length=1, description="BNG's id")
    VendorID: str = Field(min_length=1)
    InvoiceNumber: str = Field(min_length=1, max_length=24, description="The supplier's number, M3 SINO")
    InvoiceDate: date
    DueDate: date | None = None
    Currency: str = Field(min_length=3, max_length=3)
    NetAmount: Decimal
    TaxAmount: Decimal = Decimal("0")
    TotalAmount: Decimal
    Lines: list[SupplierInvoiceLine] = Field(min_length=1)
    Status: SupplierInvoiceStatus = SupplierInvoiceStatus.RECEIVED
    ExternalID: str | None = Field(default=None, description="The M3 invoice batch number (INBN)")
    StatusReason: str | None = None
    UpdatedAt: datetime | None = None


class SupplierInvoiceStatusUpdate(BngModel):
    """Body of ``PUT /api/v1/supplier-invoices/{id}/status``."""

    Status: SupplierInvoiceStatus
    ExternalID: str | None = None
    StatusReason: str | None = None


class JournalStatus(StrEnum):
    RECEIVED = "Received"
    POSTED = "Posted"
    ON_HOLD = "OnHold"
    REJECTED = "Rejected"


class JournalLine(BngModel):
    LineNumber: int = Field(ge=1)
    Account: str = Field(min_length=1, description="BNG's account code, mapped to M3 AIT1")
    CostCenter: str | None = Field(default=None, description="Mapped to M3 AIT2")
    Debit: Decimal = Field(default=Decimal("0"), ge=0)
    Credit: Decimal = Field(default=Decimal("0"), ge=0)
    Currency: str = Field(min_length=3, max_length=3)
    Description: str | None = None


class Journal(BngModel):
    """A manual GL journal from BNG's finance module; posted in M3 through GLS840MI."""

    JournalID: str = Field(min_length=1)
    JournalDate: date = Field(description="The accounting date")
    Description: str = Field(min_length=1)
    Lines: list[JournalLine] = Field(min_length=2)
    Status: JournalStatus = JournalStatus.RECEIVED
    ExternalID: str | None = Field(default=None, description="The GLS840MI KEY1 (and voucher once posted)")
    StatusReason: str | None = None
    UpdatedAt: datetime | None = None


class JournalStatusUpdate(BngModel):
    """Body of ``PUT /api/v1/journals/{id}/status``."""

    Status: JournalStatus
    ExternalID: str | None = None
    StatusReason: str | None = None


class Refund(BngModel):
    """Money given back on a captured payment (data of payment.refunded)."""

    RefundID: str = Field(min_length=1)
    PaymentID: str = Field(min_length=1)
    OrderID: str = Field(min_length=1)
    Amount: Decimal = Field(gt=0)
    Currency: str = Field(min_length=3, max_length=3)
    Reason: str | None = None
    RefundedAt: datetime


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
    PURCHASEORDER_CREATED = "purchaseorder.created"
    PURCHASEORDER_UPDATED = "purchaseorder.updated"
    PURCHASEORDER_CANCELLED = "purchaseorder.cancelled"
    PURCHASEORDER_STATUS_CHANGED = "purchaseorder.status_changed"
    GOODSRECEIPT_CREATED = "goodsreceipt.created"
    SUPPLIERINVOICE_CREATED = "supplierinvoice.created"
    SUPPLIERINVOICE_STATUS_CHANGED = "supplierinvoice.status_changed"
    JOURNAL_CREATED = "journal.created"
    JOURNAL_STATUS_CHANGED = "journal.status_changed"
    PAYMENT_REFUNDED = "payment.refunded"


class WebhookEvent(BaseModel):
    """The Standard Webhooks envelope: ``type``, ``timestamp`` and the event's ``data``.

    ``data`` stays a plain dict here: the receiver must keep a body whose data does not validate.
    """

    type: str
    timestamp: datetime
    data: dict[str, Any]
