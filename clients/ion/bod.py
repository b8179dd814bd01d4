"""Parse M3 outbound BODs (InforOAGIS/2 XML) into typed models.

The XML comes from outside, so it is parsed with ``defusedxml`` and refuses any DOCTYPE (and with it
every entity declaration: XXE, "billion laughs"). A BOD never needs one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from clients.ion.bod_models import (
    Bod,
    CustomerPartyMasterBod,
    InventoryCountBod,
    InventoryCountLine,
    InvoiceBod,
    InvoiceLine,
    ItemMasterBod,
    PartyAddress,
    PurchaseOrderBod,
    PurchaseOrderLine,
    ReceiveDeliveryBod,
    ReceiveDeliveryItem,
    SalesOrderBod,
    SalesOrderLine,
    ShipmentBod,
    ShipmentItem,
    SupplierPartyMasterBod,
)
from clients.ion.errors import BodParseError, UnsupportedBodError

__all__ = [
    "NAMESPACE",
    "BodParseError",
    "CustomerPartyMasterBod",
    "InventoryCountBod",
    "InvoiceBod",
    "ItemMasterBod",
    "PurchaseOrderBod",
    "ReceiveDeliveryBod",
    "SalesOrderBod",
    "ShipmentBod",
    "SupplierPartyMasterBod",
    "UnsupportedBodError",
    "parse_bod",
]

NAMESPACE = "http://schema.infor.com/InforOAGIS/2"
SUPPORTED_VERBS = frozenset({"Sync", "Show"})
# Where each noun keeps the id of its document (the one that carries variationID).
_ID_PATHS = {
    "SalesOrder": "SalesOrderHeader/DocumentID/ID",
    "Shipment": "ShipmentHeader/DocumentID/ID",
    "Invoice": "InvoiceHeader/DocumentID/ID",
    "InventoryCount": "InventoryCountHeader/DocumentID/ID",
    "ItemMaster": "ItemMasterHeader/ItemID/ID",
    "CustomerPartyMaster": "PartyIDs/ID",
    "SupplierPartyMaster": "PartyIDs/ID",
    "PurchaseOrder": "PurchaseOrderHeader/DocumentID/ID",
    "ReceiveDelivery": "ReceiveDeliveryHeader/DocumentID/ID",
}
SUPPORTED_NOUNS = frozenset(_ID_PATHS)
# OAGIS verbs, to split "SyncSalesOrder" into verb and noun even for nouns we do not handle.
_OAGIS_VERBS = (
    "Acknowledge",
    "Cancel",
    "Change",
    "Confirm",
    "Get",
    "List",
    "Load",
    "Notify",
    "Post",
    "Process",
    "Respond",
    "Show",
    "Sync",
    "Update",
)


def parse_bod(xml: bytes) -> Bod:
    """Parse a SalesOrder, Shipment, Invoice, PurchaseOrder, ReceiveDelivery, CustomerPartyMaster,
    SupplierPartyMaster, ItemMaster or InventoryCount BOD (verb Sync or Show).

    Raises ``UnsupportedBodError`` for other verbs/nouns and ``BodParseError`` for anything malformed.
    """
    try:
        root = defused_fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise BodParseError("DOCTYPE and entity declarations are not accepted in a BOD") from exc
    except ET.ParseError as exc:
        raise BodParseError(f"not well-formed XML: {exc}") from exc
    namespace, _, root_name = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if namespace != NAMESPACE:
        raise BodParseError(f"root <{root_name}> is not in the {NAMESPACE} namespace")
    verb, noun = _split_root(root_name)
    doc = _Element(root, root_name)
    common = _common_fields(doc, verb, noun)
    if noun == "SalesOrder":
        return _sales_order(doc, common)
    if noun == "Shipment":
        return _shipment(doc, common)
    if noun == "Invoice":
        return _invoice(doc, common)
    if noun == "CustomerPartyMaster":
        return _customer_party_master(doc, common)
    if noun == "SupplierPartyMaster":
        return _supplier_party_master(doc, common)
    if noun == "ItemMaster":
        return _item_master(doc, common)
    if noun == "PurchaseOrder":
        return _purchase_order(doc, common)
    if noun == "ReceiveDelivery":
        return _receive_delivery(doc, common)
    return _inventory_count(doc, common)


def _split_root(root_name: str) -> tuple[str, str]:
    for verb in _OAGIS_VERBS:
        if root_name.startswith(verb) and len(root_name) > len(verb):
            noun = root_name[len(verb) :]
            if verb not in SUPPORTED_VERBS:
                raise UnsupportedBodError(f"unsupported BOD verb {verb} ({root_name})", verb=verb, noun=noun)
            if noun not in SUPPORTED_NOUNS:
                raise UnsupportedBodError(f"unsupported BOD noun {noun} ({root_name})", verb=verb, noun=noun)
            return verb, noun
    raise UnsupportedBodError(f"unknown BOD verb in <{root_name}>")


class _Element:
    """An element plus its path from the root, so errors can name exactly what is missing."""

    def __init__(self, element: ET.Element, path: str) -> None:
        self.element = element
        self.path = path

    def find(self, path: str) -> _Element | None:
        found = self.element.find("/".join(f"{{{NAMESPACE}}}{part}" for part in path.split("/")))
        return None if found is None else _Element(found, f"{self.path}/{path}")

    def findall(self, name: str) -> list[_Element]:
        found = self.element.findall(f"{{{NAMESPACE}}}{name}")
        # XPath-style 1-based index, so an error names the exact line.
        return [_Element(e, f"{self.path}/{name}[{n}]") for n, e in enumerate(found, start=1)]

    def require(self, path: str) -> _Element:
        found = self.find(path)
        if found is None:
            raise BodParseError(f"missing element {self.path}/{path}")
        return found

    def text(self, path: str) -> str | None:
        found = self.find(path)
        if found is None or found.element.text is None:
            return None
        return found.element.text.strip() or None

    def require_text(self, path: str) -> str:
        value = self.text(path)
        if value is None:
            raise BodParseError(f"missing or empty element {self.path}/{path}")
        return value

    def attribute(self, path: str, name: str) -> str | None:
        found = self.find(path)
        return None if found is None else found.element.get(name)

    def decimal(self, path: str) -> Decimal | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise BodParseError(f"{self.path}/{path} is not a number: {value!r}") from exc

    def integer(self, path: str) -> int | None:
        value = self.text(path)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise BodParseError(f"{self.path}/{path} is not an integer: {value!r}") from exc

    def datetime(self, path: str) -> datetime | None:
        value = self.text(path)
        return None if value is None else _datetime(value, f"{self.path}/{path}")

    def date(self, path: str) -> date | None:
        value = self.datetime(path)
        return None if value is None else value.date()

    def properties(self) -> dict[str, str]:
        """UserArea/Property/NameValue pairs, e.g. {"m3.ORST": "33"}."""
        pairs: dict[str, str] = {}
        user_area = self.find("UserArea")
        if user_area is None:
            return pairs
        for name_value in user_area.element.iter(f"{{{NAMESPACE}}}NameValue"):
            name = name_value.get("name")
            if name:
                pairs[name] = (name_value.text or "").strip()
        return pairs


def _datetime(value: str, path: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise BodParseError(f"{path} is not an ISO-8601 date-time: {value!r}") from exc


def _int_or_none(value: str | None, path: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise BodParseError(f"{path} is not an integer: {value!r}") from exc


def _common_fields(doc: _Element, verb: str, noun: str) -> dict[str, Any]:
    application = doc.require("ApplicationArea")
    verb_area = doc.require(f"DataArea/{verb}")
    header_id = doc.require(f"DataArea/{noun}/{_ID_PATHS[noun]}")
    accounting_entity = verb_area.text("AccountingEntityID") or header_id.element.get("accountingEntity")
    cono, divi = _split_accounting_entity(accounting_entity)
    created = application.require_text("CreationDateTime")
    return {
        "bod_id": application.require_text("BODID"),
        "verb": verb,
        "creation_datetime": _datetime(created, f"{application.path}/CreationDateTime"),
        "sender_logical_id": application.text("Sender/LogicalID"),
        "tenant": verb_area.text("TenantID"),
        "accounting_entity": accounting_entity,
        "cono": cono,
        "divi": divi,
        "location": verb_area.text("LocationID") or header_id.element.get("location"),
        "action_code": verb_area.attribute("ActionCriteria/ActionExpression", "actionCode"),
        "variation_id": _int_or_none(header_id.element.get("variationID"), f"{header_id.path}@variationID"),
    }


def _split_accounting_entity(value: str | None) -> tuple[int | None, str | None]:
    # "100_AAA" -> (100, "AAA"); "770_" and "100" (master AE) have no division.
    if not value:
        return None, None
    cono_text, _, divi = value.partition("_")
    cono = int(cono_text) if cono_text.isdigit() else None
    return cono, divi or None


def _sales_order(doc: _Element, common: dict[str, Any]) -> SalesOrderBod:
    order = doc.require("DataArea/SalesOrder")
    header = order.require("SalesOrderHeader")
    properties = header.properties()
    lines = [
        SalesOrderLine(
            line_number=_required_int(line, "LineNumber"),
            item=line.require_text("Item/ItemID/ID"),
            quantity=_required_decimal(line, "Quantity"),
            unit_price=line.decimal("UnitPrice/Amount"),
            status=line.text("Status/Code"),
            orst=line.properties().get("m3.ORST"),
        )
        for line in order.findall("SalesOrderLine")
    ]
    return SalesOrderBod(
        **common,
        properties=properties,
        order_number=header.require_text("DocumentID/ID"),
        customer_order_ref=header.text("CustomerPurchaseOrderReference/DocumentID/ID"),
        customer_number=header.text("CustomerParty/PartyIDs/ID"),
        status_code=header.text("Status/Code"),
        orsl=properties.get("m3.ORSL"),
        orst=properties.get("m3.ORST"),
        total_amount=header.decimal("TotalAmount"),
        currency=header.attribute("TotalAmount", "currencyID"),
        lines=lines,
    )


def _shipment(doc: _Element, common: dict[str, Any]) -> ShipmentBod:
    shipment = doc.require("DataArea/Shipment")
    header = shipment.require("ShipmentHeader")
    properties = header.properties()
    items = [
        ShipmentItem(
            item=item.require_text("ItemID/ID"),
            quantity=_required_decimal(item, "ShippedQuantity"),
            order_number=item.text("SalesOrderReference/DocumentID/ID"),
            line_number=item.integer("SalesOrderReference/LineNumber"),
            customer_order_ref=item.text("CustomerPurchaseOrderReference/DocumentID/ID"),
        )
        for item in shipment.findall("ShipmentItem")
    ]
    return ShipmentBod(
        **common,
        properties=properties,
        delivery_number=header.require_text("DocumentID/ID"),
        status_code=header.text("Status/Code"),
        ship_datetime=header.datetime("ActualShipDateTime"),
        customer_number=header.text("ShipToParty/PartyIDs/ID") or header.text("CustomerParty/PartyIDs/ID"),
        items=items,
    )


def _invoice(doc: _Element, common: dict[str, Any]) -> InvoiceBod:
    invoice = doc.require("DataArea/Invoice")
    header = invoice.require("InvoiceHeader")
    properties = header.properties()
    lines = [
        InvoiceLine(
            line_number=_required_int(line, "LineNumber"),
            item=line.text("Item/ItemID/ID"),
            quantity=line.decimal("Quantity"),
            amount=line.decimal("ExtendedAmount"),
        )
        for line in invoice.findall("InvoiceLine")
    ]
    return InvoiceBod(
        **common,
        properties=properties,
        invoice_number=header.require_text("DocumentID/ID"),
        invoice_year=_int_or_none(properties.get("m3.YEA4"), f"{header.path}/UserArea m3.YEA4"),
        cino=properties.get("m3.CINO"),
        invoice_date=header.date("DocumentDateTime"),
        due_date=header.date("PaymentTerm/DueDateTime"),
        total_amount=header.decimal("TotalAmount"),
        net_amount=header.decimal("ExtendedAmount"),
        tax_amount=header.decimal("TotalTaxAmount"),
        currency=header.attribute("TotalAmount", "currencyID"),
        order_number=header.text("SalesOrderReference/DocumentID/ID"),
        customer_order_ref=header.text("CustomerPurchaseOrderReference/DocumentID/ID"),
        delivery_number=header.text("ShipmentReference/DocumentID/ID"),
        customer_number=header.text("CustomerParty/PartyIDs/ID"),
        lines=lines,
    )


def _required_int(element: _Element, path: str) -> int:
    value = element.integer(path)
    if value is None:
        raise BodParseError(f"missing or empty element {element.path}/{path}")
    return value


def _required_decimal(element: _Element, path: str) -> Decimal:
    value = element.decimal(path)
    if value is None:
        raise BodParseError(f"missing or empty element {element.path}/{path}")
    return value


def _party_address(location: _Element) -> PartyAddress | None:
    address = location.find("Address")
    if address is None:
        return None
    lines = [
        (line.element.text or "").strip()
        for line in address.findall("AddressLine")
        if line.element.text and line.element.text.strip()
    ]
    address_type = location.properties().get("m3.ADRT")
    return PartyAddress(
        lines=lines,
        city=address.text("CityName"),
        postal_code=address.text("PostalCode"),
        country=address.text("CountryCode"),
        name=location.text("Name"),
        address_type=_int_or_none(address_type, f"{location.path}/UserArea m3.ADRT"),
        address_id=location.text("ID"),
    )


def _communication(party: _Element, channel: str, value: str) -> str | None:
    for communication in party.findall("Communication"):
        if communication.text("ChannelCode") == channel:
            return communication.text(value)
    return None


def _customer_party_master(doc: _Element, common: dict[str, Any]) -> CustomerPartyMasterBod:
    party = doc.require("DataArea/CustomerPartyMaster")
    main: PartyAddress | None = None
    addresses: list[PartyAddress] = []
    for location in party.findall("Location"):
        address = _party_address(location)
        if address is None:
            continue
        if address.address_id is None and main is None:
            main = address
        elif address.address_id is not None:
            addresses.append(address)
    return CustomerPartyMasterBod(
        **common,
        properties=party.properties(),
        customer_number=party.require_text("PartyIDs/ID"),
        name=party.text("Name"),
        status_code=party.text("Status/Code"),
        phone=_communication(party, "Telephone", "DialNumber"),
        email=_communication(party, "EMail", "URI"),
        address=main,
        addresses=addresses,
    )


def _supplier_party_master(doc: _Element, common: dict[str, Any]) -> SupplierPartyMasterBod:
    party = doc.require("DataArea/SupplierPartyMaster")
    return SupplierPartyMasterBod(
        **common,
        properties=party.properties(),
        supplier_number=party.require_text("PartyIDs/ID"),
        name=party.text("Name"),
        status_code=party.text("Status/Code"),
        phone=_communication(party, "Telephone", "DialNumber"),
        country=party.text("Location/Address/CountryCode"),
    )


def _item_master(doc: _Element, common: dict[str, Any]) -> ItemMasterBod:
    header = doc.require("DataArea/ItemMaster/ItemMasterHeader")
    return ItemMasterBod(
        **common,
        properties=header.properties(),
        item_number=header.require_text("ItemID/ID"),
        description=header.text("Description"),
        unit=header.text("BaseUOMCode"),
        status_code=header.text("Status/Code"),
    )


def _inventory_count(doc: _Element, common: dict[str, Any]) -> InventoryCountBod:
    count = doc.require("DataArea/InventoryCount")
    header = count.require("InventoryCountHeader")
    properties = header.properties()
    lines = []
    for line in count.findall("InventoryCountLine"):
        line_properties = line.properties()
        item = line.text("Item/ItemID/ID") or line.require_text("ItemID/ID")
        lines.append(
            InventoryCountLine(
                item=item,
                quantity=line.decimal("Quantity"),
                allocated_quantity=_decimal_or_none(
                    line_properties.get("m3.ALQT"), f"{line.path}/UserArea m3.ALQT"
                ),
                available_quantity=_decimal_or_none(
                    line_properties.get("m3.AV01"), f"{line.path}/UserArea m3.AV01"
                ),
                location=line_properties.get("m3.WHSL"),
            )
        )
    warehouse = common["location"] or properties.get("m3.WHLO")
    if not warehouse:
        raise BodParseError(f"no warehouse: neither {doc.path}/DataArea/Sync/LocationID nor m3.WHLO is set")
    return InventoryCountBod(
        **common,
        properties=properties,
        document_id=header.require_text("DocumentID/ID"),
        warehouse=warehouse,
        item_numbers=list(dict.fromkeys(line.item for line in lines)),
        lines=lines,
    )


def _decimal_or_none(value: str | None, path: str) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise BodParseError(f"{path} is not a number: {value!r}") from exc


def _purchase_order(doc: _Element, common: dict[str, Any]) -> PurchaseOrderBod:
    order = doc.require("DataArea/PurchaseOrder")
    header = order.require("PurchaseOrderHeader")
    properties = header.properties()
    lines = []
    for line in order.findall("PurchaseOrderLine"):
        line_properties = line.properties()
        where = f"{line.path}/UserArea"
        lines.append(
            PurchaseOrderLine(
                line_number=_required_int(line, "LineNumber"),
                item=line.require_text("Item/ItemID/ID"),
                quantity=_required_decimal(line, "Quantity"),
                received_quantity=line.decimal("ReceivedQuantity") or Decimal(0),
                open_quantity=line.decimal("OpenQuantity"),
                unit_price=line.decimal("UnitPrice/Amount"),
                invoiced_quantity=_decimal_or_none(line_properties.get("m3.IVQA"), f"{where} m3.IVQA"),
                line_subnumber=_int_or_none(line_properties.get("m3.PNLS"), f"{where} m3.PNLS") or 0,
                status_code=line.text("Status/Code"),
                lowest_status=line_properties.get("m3.PUSL"),
                highest_status=line_properties.get("m3.PUST"),
            )
        )
    return PurchaseOrderBod(
        **common,
        properties=properties,
        purchase_order_number=header.require_text("DocumentID/ID"),
        status_code=header.text("Status/Code"),
        supplier_number=header.text("SupplierParty/PartyIDs/ID"),
        lowest_status=properties.get("m3.PUSL"),
        highest_status=properties.get("m3.PUST"),
        your_reference=properties.get("m3.YRE1") or None,
        total_amount=header.decimal("TotalAmount"),
        currency=header.attribute("TotalAmount", "currencyID"),
        lines=lines,
    )


def _receive_delivery(doc: _Element, common: dict[str, Any]) -> ReceiveDeliveryBod:
    delivery = doc.require("DataArea/ReceiveDelivery")
    header = delivery.require("ReceiveDeliveryHeader")
    properties = header.properties()
    items = []
    for item in delivery.findall("ReceiveDeliveryItem"):
        pnls = item.properties().get("m3.PNLS")
        items.append(
            ReceiveDeliveryItem(
                purchase_order_number=item.require_text("PurchaseOrderReference/DocumentID/ID"),
                line_number=_required_int(item, "PurchaseOrderReference/LineNumber"),
                item=item.text("ItemID/ID") or item.text("Item/ItemID/ID"),
                received_quantity=_required_decimal(item, "ReceivedQuantity"),
                line_subnumber=_int_or_none(pnls, f"{item.path}/UserArea m3.PNLS") or 0,
            )
        )
    return ReceiveDeliveryBod(
        **common,
        properties=properties,
        receipt_number=header.require_text("DocumentID/ID"),
        delivery_note=header.text("PackingSlipReference/DocumentID/ID") or properties.get("m3.SUDO") or None,
        status_code=header.text("Status/Code"),
        delivery_datetime=header.datetime("ActualDeliveryDateTime"),
        external_message_number=properties.get("m3.PMSN") or None,
        items=items,
    )
