"""Typed views of the M3 outbound BODs the product consumes: SalesOrder, Shipment, Invoice, the
purchasing nouns PurchaseOrder and ReceiveDelivery, and the master data CustomerPartyMaster,
SupplierPartyMaster, ItemMaster, InventoryCount."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict


class BodBase(BaseModel):
    """What every BOD carries: identity, timing and the M3 company/division it belongs to."""

    model_config = ConfigDict(frozen=True)

    bod_id: str
    verb: str
    creation_datetime: datetime
    sender_logical_id: str | None = None
    tenant: str | None = None
    # M3 form "CONO_DIVI" (e.g. "100_AAA"); just "CONO" for master-AE nouns (reference 4.1).
    accounting_entity: str | None = None
    cono: int | None = None
    divi: str | None = None
    location: str | None = None
    action_code: str | None = None
    # Revision counter of the document: a higher one supersedes a lower one.
    variation_id: int | None = None
    # The header's UserArea NameValues, e.g. {"m3.ORTP": "A01"}.
    properties: dict[str, str] = {}


class SalesOrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_number: int
    item: str
    quantity: Decimal
    unit_price: Decimal | None = None
    status: str | None = None
    orst: str | None = None


class SalesOrderBod(BodBase):
    noun: Literal["SalesOrder"] = "SalesOrder"
    order_number: str
    customer_order_ref: str | None = None
    customer_number: str | None = None
    status_code: str | None = None
    # Lowest and highest line status of the order (reference 3.6).
    orsl: str | None = None
    orst: str | None = None
    total_amount: Decimal | None = None
    currency: str | None = None
    lines: list[SalesOrderLine] = []


class ShipmentItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: str
    quantity: Decimal
    order_number: str | None = None
    line_number: int | None = None
    customer_order_ref: str | None = None


class ShipmentBod(BodBase):
    noun: Literal["Shipment"] = "Shipment"
    delivery_number: str
    status_code: str | None = None
    ship_datetime: datetime | None = None
    customer_number: str | None = None
    items: list[ShipmentItem] = []

    @property
    def order_numbers(self) -> list[str]:
        """Distinct order numbers in this delivery, in document order."""
        return list(dict.fromkeys(i.order_number for i in self.items if i.order_number))

    @property
    def customer_order_refs(self) -> list[str]:
        return list(dict.fromkeys(i.customer_order_ref for i in self.items if i.customer_order_ref))


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_number: int
    item: str | None = None
    quantity: Decimal | None = None
    amount: Decimal | None = None


class InvoiceBod(BodBase):
    noun: Literal["Invoice"] = "Invoice"
    invoice_number: str
    invoice_year: int | None = None
    cino: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    total_amount: Decimal | None = None
    net_amount: Decimal | None = None
    tax_amount: Decimal | None = None
    currency: str | None = None
    order_number: str | None = None
    customer_order_ref: str | None = None
    delivery_number: str | None = None
    customer_number: str | None = None
    lines: list[InvoiceLine] = []


class PartyAddress(BaseModel):
    """A party's address: its main one (no id) or one of its numbered addresses (CRS610MI ADRT/ADID)."""

    model_config = ConfigDict(frozen=True)

    lines: list[str] = []
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    name: str | None = None
    # M3 address type (1 = delivery address) and address number; None for the main address.
    address_type: int | None = None
    address_id: str | None = None


class CustomerPartyMasterBod(BodBase):
    noun: Literal["CustomerPartyMaster"] = "CustomerPartyMaster"
    customer_number: str
    name: str | None = None
    # M3's customer status, e.g. "20" (active) or "90" (blocked).
    status_code: str | None = None
    phone: str | None = None
    email: str | None = None
    address: PartyAddress | None = None
    # The customer's numbered addresses (CRS610MI AddAddress), e.g. the delivery address (type 1).
    addresses: list[PartyAddress] = []


class SupplierPartyMasterBod(BodBase):
    noun: Literal["SupplierPartyMaster"] = "SupplierPartyMaster"
    supplier_number: str
    name: str | None = None
    status_code: str | None = None
    phone: str | None = None
    country: str | None = None


class ItemMasterBod(BodBase):
    noun: Literal["ItemMaster"] = "ItemMaster"
    item_number: str
    description: str | None = None
    unit: str | None = None
    # M3's item status, e.g. "20".
    status_code: str | None = None


class InventoryCountLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    item: str
    # On-hand quantity (STQT); the UserArea adds allocated (ALQT) and available (AV01).
    quantity: Decimal | None = None
    allocated_quantity: Decimal | None = None
    available_quantity: Decimal | None = None
    location: str | None = None


class InventoryCountBod(BodBase):
    noun: Literal["InventoryCount"] = "InventoryCount"
    # The document id, "WHLO/ITNO" in the sandbox.
    document_id: str
    warehouse: str
    item_numbers: list[str]
    lines: list[InventoryCountLine] = []


class PurchaseOrderLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line_number: int  # PNLI
    item: str
    quantity: Decimal  # ordered (ORQA)
    received_quantity: Decimal = Decimal(0)  # RVQA
    open_quantity: Decimal | None = None  # ordered - received (0 once deleted)
    unit_price: Decimal | None = None
    invoiced_quantity: Decimal | None = None  # IVQA (UserArea)
    line_subnumber: int = 0  # PNLS (UserArea)
    status_code: str | None = None
    # M3's two-digit PO line status (UserArea m3.PUSL/m3.PUST): 20 sent, 35 confirmed,
    # 50 received, 85 received and invoiced, 99 deleted.
    lowest_status: str | None = None
    highest_status: str | None = None


class PurchaseOrderBod(BodBase):
    noun: Literal["PurchaseOrder"] = "PurchaseOrder"
    purchase_order_number: str  # PUNO
    # Open, Confirmed, Received, Closed or Cancelled (the sandbox's reading of the head's PUSL).
    status_code: str | None = None
    supplier_number: str | None = None
    lowest_status: str | None = None  # head PUSL (lowest status of the live lines)
    highest_status: str | None = None  # head PUST
    your_reference: str | None = None  # YRE1
    total_amount: Decimal | None = None
    currency: str | None = None
    lines: list[PurchaseOrderLine] = []


class ReceiveDeliveryItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    purchase_order_number: str
    line_number: int  # PNLI
    item: str | None = None
    received_quantity: Decimal
    line_subnumber: int = 0  # PNLS (UserArea)


class ReceiveDeliveryBod(BodBase):
    noun: Literal["ReceiveDelivery"] = "ReceiveDelivery"
    receipt_number: str  # REPN
    delivery_note: str | None = None  # SUDO
    status_code: str | None = None
    delivery_datetime: datetime | None = None
    # The external message number the receipt was staged under (MHS850 PMSN), when known.
    external_message_number: str | None = None
    items: list[ReceiveDeliveryItem] = []

    @property
    def purchase_order_numbers(self) -> list[str]:
        return list(dict.fromkeys(item.purchase_order_number for item in self.items))


Bod = (
    SalesOrderBod
    | ShipmentBod
    | InvoiceBod
    | CustomerPartyMasterBod
    | SupplierPartyMasterBod
    | ItemMasterBod
    | InventoryCountBod
    | PurchaseOrderBod
    | ReceiveDeliveryBod
)
