"""Build the BODs M3 publishes through ION: SyncSalesOrder, SyncShipment, SyncInvoice, and the
master data SyncCustomerPartyMaster, SyncSupplierPartyMaster, SyncItemMaster, SyncInventoryCount.

The element paths follow tests/fixtures/bods/*.xml exactly: the product's BOD parser is written
against those files, and they follow the real M3 sample described in m3-api.md §4.1. ItemMaster,
CustomerPartyMaster and SupplierPartyMaster are confirmed M3 outbound nouns (m3-api.md §4.1, Master
AE pages); the layout inside the noun (PartyIDs, Location/Address, ItemMasterHeader/ItemID, ...) is
the sandbox's reading of OAGIS, not copied from an M3 sample. Master-data BODs are published per
division (AccountingEntityID CONO_DIVI, i.e. "Master AE" off) and carry no LocationID.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sandbox.m3.db import (
    Balance,
    Customer,
    CustomerAddress,
    Delivery,
    Invoice,
    Item,
    OrderHead,
    OrderLine,
    PurchaseHead,
    PurchaseLine,
    PurchaseReceipt,
    Supplier,
)

NS = "http://schema.infor.com/InforOAGIS/2"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SENDER_LID = "lid://infor.m3.m3"

ET.register_namespace("", NS)
ET.register_namespace("xsi", XSI)

# Line status (lowest digit pair) -> OAGIS status code.
STATUS_CODES = {"22": "Open", "33": "Allocated", "44": "Picking", "66": "Shipped", "77": "Invoiced"}


def status_code(status: str) -> str:
    return STATUS_CODES.get(status, "Open")


@dataclass(frozen=True)
class Envelope:
    """What every BOD of one tenant shares."""

    tenant: str
    cono: int
    divi: str

    @property
    def accounting_entity(self) -> str:
        return f"{self.cono}_{self.divi}"


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_day(day: date | None) -> str:
    return f"{(day or date.today()).isoformat()}T00:00:00.000Z"


def amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def quantity(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def _root(
    verb_noun: str, env: Envelope, location: str | None, now: datetime, action: str = "Replace"
) -> tuple[ET.Element, ET.Element]:
    """Root, ApplicationArea and DataArea/Sync; returns (root, DataArea). No location: no LocationID."""
    root = ET.Element(
        f"{{{NS}}}{verb_noun}",
        {
            f"{{{XSI}}}noNamespaceSchemaLocation": f"{verb_noun}.xsd",
            "releaseID": "9.2",
            "versionID": "2.14.3",
            "systemEnvironmentCode": "Production",
            "languageCode": "GB",
        },
    )
    app = _el(root, "ApplicationArea")
    sender = _el(app, "Sender")
    _el(sender, "LogicalID", SENDER_LID, schemeVersionID="16.0.0.0")
    _el(sender, "ComponentID", "M3BE")
    _el(sender, "ConfirmationCode", "OnError")
    _el(app, "CreationDateTime", iso_ms(now))
    _el(app, "BODID", str(uuid.uuid4()))
    data = _el(root, "DataArea")
    sync = _el(data, "Sync")
    _el(sync, "TenantID", env.tenant)
    _el(sync, "AccountingEntityID", env.accounting_entity)
    if location is not None:
        _el(sync, "LocationID", location)
    _el(_el(sync, "ActionCriteria"), "ActionExpression", actionCode=action)
    return root, data


def _document_id(parent: ET.Element, env: Envelope, location: str, variation: int, value: str) -> None:
    _el(
        _el(parent, "DocumentID"),
        "ID",
        value,
        accountingEntity=env.accounting_entity,
        location=location,
        variationID=str(variation),
        lid=SENDER_LID,
    )


def _party(parent: ET.Element, tag: str, env: Envelope, cuno: str) -> None:
    _el(_el(_el(parent, tag), "PartyIDs"), "ID", cuno, accountingEntity=str(env.cono))


def _reference(parent: ET.Element, tag: str, value: str, accounting_entity: str | None = None) -> ET.Element:
    ref = _el(parent, tag)
    attrs = {"accountingEntity": accounting_entity} if accounting_entity else {}
    _el(_el(ref, "DocumentID"), "ID", value, **attrs)
    return ref


def _user_area(parent: ET.Element, values: Sequence[tuple[str, str]]) -> None:
    area = _el(parent, "UserArea")
    for name, value in values:
        _el(_el(area, "Property"), "NameValue", value, name=f"m3.{name}", type="StringType")


def _item(parent: ET.Element, env: Envelope, itno: str) -> None:
    _el(_el(parent, "ItemID"), "ID", itno, accountingEntity=str(env.cono))


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def sync_sales_order(
    env: Envelope, head: OrderHead, lines: Sequence[OrderLine], variation: int, now: datetime
) -> bytes:
    root, data = _root("SyncSalesOrder", env, head.WHLO, now)
    order = _el(data, "SalesOrder")
    header = _el(order, "SalesOrderHeader")
    _document_id(header, env, head.WHLO, variation, head.ORNO)
    _el(header, "DisplayID", head.ORNO)
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "DocumentDateTime", iso_day(head.ORDT))
    _reference(header, "CustomerPurchaseOrderReference", head.CUOR)
    status = _el(header, "Status")
    _el(status, "Code", status_code(head.ORSL), listID="SalesOrderStatus")
    _el(status, "EffectiveDateTime", iso_ms(now))
    _party(header, "CustomerParty", env, head.CUNO)
    _el(header, "TotalAmount", amount(head.NTAM), currencyID=head.CUCD)
    _user_area(header, [("ORSL", head.ORSL), ("ORST", head.ORST), ("ORTP", head.ORTP)])
    for line in lines:
        element = _el(order, "SalesOrderLine")
        _el(element, "LineNumber", str(line.PONR))
        _item(_el(element, "Item"), env, line.ITNO)
        _el(element, "Quantity", quantity(line.ORQT), unitCode=line.ALUN or "EA")
        _el(_el(element, "UnitPrice"), "Amount", amount(line.SAPR), currencyID=head.CUCD)
        _el(_el(element, "Status"), "Code", status_code(line.ORST), listID="SalesOrderStatus")
        _user_area(element, [("ORST", line.ORST)])
    return _serialise(root)


def sync_shipment(
    env: Envelope,
    delivery: Delivery,
    head: OrderHead,
    lines: Sequence[OrderLine],
    variation: int,
    now: datetime,
) -> bytes:
    root, data = _root("SyncShipment", env, delivery.WHLO, now)
    shipment = _el(data, "Shipment")
    header = _el(shipment, "ShipmentHeader")
    _document_id(header, env, delivery.WHLO, variation, str(delivery.DLIX))
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "ActualShipDateTime", iso_ms(now))
    _el(_el(header, "Status"), "Code", "Shipped", listID="ShipmentStatus")
    _party(header, "ShipToParty", env, delivery.CUNO)
    _user_area(header, [("DLIX", str(delivery.DLIX)), ("PGRS", delivery.PGRS)])
    for line in lines:
        item = _el(shipment, "ShipmentItem")
        _item(item, env, line.ITNO)
        _el(item, "ShippedQuantity", quantity(line.ORQT), unitCode=line.ALUN or "EA")
        order_ref = _reference(item, "SalesOrderReference", head.ORNO, env.accounting_entity)
        _el(order_ref, "LineNumber", str(line.PONR))
        _reference(item, "CustomerPurchaseOrderReference", head.CUOR)
    return _serialise(root)


def sync_invoice(
    env: Envelope,
    invoice: Invoice,
    head: OrderHead,
    lines: Sequence[OrderLine],
    variation: int,
    now: datetime,
) -> bytes:
    root, data = _root("SyncInvoice", env, head.WHLO, now)
    document = _el(data, "Invoice")
    header = _el(document, "InvoiceHeader")
    _document_id(header, env, head.WHLO, variation, str(invoice.IVNO))
    _el(header, "DocumentDateTime", iso_day(invoice.IVDT))
    _el(_el(header, "Status"), "Code", "Open", listID="InvoiceStatus")
    _el(header, "TotalAmount", amount(invoice.IVAM), currencyID=invoice.CUCD)
    _el(header, "ExtendedAmount", amount(invoice.AMT1), currencyID=invoice.CUCD)
    _el(header, "TotalTaxAmount", amount(invoice.VTAM), currencyID=invoice.CUCD)
    _el(_el(header, "PaymentTerm"), "DueDateTime", iso_day(invoice.DUDT))
    _party(header, "CustomerParty", env, invoice.CUNO)
    _reference(header, "SalesOrderReference", head.ORNO, env.accounting_entity)
    _reference(header, "CustomerPurchaseOrderReference", head.CUOR)
    _reference(header, "ShipmentReference", str(invoice.DLIX))
    _user_area(header, [("YEA4", str(invoice.YEA4)), ("CINO", str(invoice.IVNO))])
    for line in lines:
        element = _el(document, "InvoiceLine")
        _el(element, "LineNumber", str(line.PONR))
        _item(_el(element, "Item"), env, line.ITNO)
        _el(element, "Quantity", quantity(line.ORQT), unitCode=line.ALUN or "EA")
        _el(element, "ExtendedAmount", amount(line.LNAM), currencyID=invoice.CUCD)
    return _serialise(root)


# Master data. Status/Code carries M3's own status (e.g. "20"); UserArea carries the M3 fields
# that have no OAGIS element.
ADD, REPLACE = "Add", "Replace"
DELIVERY_ADDRESS_TYPE = 1  # ADRT 1: delivery address ("address type 01", docs.infor.com OIS002)


def _master_id(parent: ET.Element, tag: str, env: Envelope, variation: int, value: str) -> None:
    _el(
        _el(parent, tag),
        "ID",
        value,
        accountingEntity=env.accounting_entity,
        variationID=str(variation),
        lid=SENDER_LID,
    )


def _address(parent: ET.Element, lines: Sequence[str], town: str, pono: str, cscd: str) -> None:
    address = _el(parent, "Address")
    for sequence, line in enumerate(lines, start=1):
        if line:
            _el(address, "AddressLine", line, sequence=str(sequence))
    for tag, value in (("CityName", town), ("CountryCode", cscd), ("PostalCode", pono)):
        if value:
            _el(address, tag, value)


def _communication(parent: ET.Element, phone: str, mail: str = "") -> None:
    if phone:
        phone_element = _el(parent, "Communication")
        _el(phone_element, "ChannelCode", "Telephone")
        _el(phone_element, "DialNumber", phone)
    if mail:
        mail_element = _el(parent, "Communication")
        _el(mail_element, "ChannelCode", "EMail")
        _el(mail_element, "URI", mail)


def sync_customer_party_master(
    env: Envelope,
    customer: Customer,
    addresses: Sequence[CustomerAddress],
    variation: int,
    now: datetime,
    action: str = REPLACE,
) -> bytes:
    root, data = _root("SyncCustomerPartyMaster", env, None, now, action)
    party = _el(data, "CustomerPartyMaster")
    _master_id(party, "PartyIDs", env, variation, customer.CUNO)
    _el(party, "LastModificationDateTime", iso_ms(now))
    _el(party, "Name", customer.CUNM)
    main = _el(party, "Location", type="Main")
    _address(
        main,
        [customer.CUA1, customer.CUA2, customer.CUA3, customer.CUA4],
        customer.TOWN,
        customer.PONO,
        customer.CSCD,
    )
    for address in addresses:
        kind = "Delivery" if address.ADRT == DELIVERY_ADDRESS_TYPE else "Other"
        location = _el(party, "Location", type=kind)
        _el(location, "ID", address.ADID)
        _el(location, "Name", address.CUNM)
        _address(
            location,
            [address.CUA1, address.CUA2, address.CUA3, address.CUA4],
            address.TOWN,
            address.PONO,
            address.CSCD,
        )
        _user_area(location, [("ADRT", str(address.ADRT)), ("ADID", address.ADID)])
    _communication(party, customer.PHNO, customer.MAIL)
    _el(_el(party, "Status"), "Code", customer.STAT, listID="CustomerStatus")
    _user_area(
        party,
        [
            ("STAT", customer.STAT),
            ("CUCD", customer.CUCD),
            ("LNCD", customer.LNCD),
            ("YREF", customer.YREF),
            ("CRLM", quantity(customer.CRLM)),
            ("CRL2", quantity(customer.CRL2)),
            ("CRL3", quantity(customer.CRL3)),
            ("TXAP", str(customer.TXAP)),
            ("BLCD", str(customer.BLCD)),
        ],
    )
    return _serialise(root)


def sync_supplier_party_master(
    env: Envelope, supplier: Supplier, variation: int, now: datetime, action: str = REPLACE
) -> bytes:
    root, data = _root("SyncSupplierPartyMaster", env, None, now, action)
    party = _el(data, "SupplierPartyMaster")
    _master_id(party, "PartyIDs", env, variation, supplier.SUNO)
    _el(party, "LastModificationDateTime", iso_ms(now))
    _el(party, "Name", supplier.SUNM)
    # CRS620MI GetBasicData has no address lines (they live in CRS620MI AddAddress): country only.
    _address(_el(party, "Location", type="Main"), [], "", "", supplier.CSCD)
    _communication(party, supplier.PHNO)
    _el(_el(party, "Status"), "Code", supplier.STAT, listID="SupplierStatus")
    _user_area(
        party,
        [
            ("STAT", supplier.STAT),
            ("SUTY", str(supplier.SUTY)),
            ("CUCD", supplier.CUCD),
            ("TEPY", supplier.TEPY),
            ("PYME", supplier.PYME),
            ("LNCD", supplier.LNCD),
        ],
    )
    return _serialise(root)


def sync_item_master(
    env: Envelope, item: Item, variation: int, now: datetime, action: str = REPLACE
) -> bytes:
    root, data = _root("SyncItemMaster", env, None, now, action)
    header = _el(_el(data, "ItemMaster"), "ItemMasterHeader")
    _master_id(header, "ItemID", env, variation, item.ITNO)
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "Description", item.ITDS)
    _el(header, "BaseUOMCode", item.UNMS)
    _el(_el(header, "Status"), "Code", item.STAT, listID="ItemStatus")
    _user_area(
        header,
        [
            ("STAT", item.STAT),
            ("ITTY", item.ITTY),
            ("ITCL", item.ITCL),
            ("ITGR", item.ITGR),
            ("MABU", str(item.MABU)),
            ("FUDS", item.FUDS),
        ],
    )
    return _serialise(root)


def inventory_document_id(whlo: str, itno: str) -> str:
    return f"{whlo}/{itno}"


def sync_inventory_count(env: Envelope, balance: Balance, unit: str, variation: int, now: datetime) -> bytes:
    # [uncertain] m3-api.md §4.1: SyncInventoryCount as an M3 outbound noun is very likely but not
    # individually verified. One document per warehouse balance, with one line.
    root, data = _root("SyncInventoryCount", env, balance.WHLO, now)
    count = _el(data, "InventoryCount")
    header = _el(count, "InventoryCountHeader")
    _document_id(header, env, balance.WHLO, variation, inventory_document_id(balance.WHLO, balance.ITNO))
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "DocumentDateTime", iso_ms(now))
    _user_area(header, [("WHLO", balance.WHLO)])
    line = _el(count, "InventoryCountLine")
    _el(line, "LineNumber", "1")
    _item(_el(line, "Item"), env, balance.ITNO)
    _el(line, "Quantity", quantity(balance.STQT), unitCode=unit or "EA")
    _user_area(
        line,
        [
            ("WHSL", balance.WHSL),
            ("STQT", quantity(balance.STQT)),
            ("ALQT", quantity(balance.ALQT)),
            ("AV01", quantity(balance.STQT - balance.ALQT)),
        ],
    )
    return _serialise(root)


# Purchasing. Status/Code is the sandbox's reading of the PO status (the one public sample only shows
# "Open"); the M3 statuses themselves travel in the UserArea (m3.PUSL/m3.PUST, per line too).
PO_STATUS_CODES = (("99", "Cancelled"), ("85", "Closed"), ("50", "Received"), ("35", "Confirmed"))


def purchase_status_code(status: str) -> str:
    return next((code for floor, code in PO_STATUS_CODES if status >= floor), "Open")


def sync_purchase_order(
    env: Envelope, head: PurchaseHead, lines: Sequence[PurchaseLine], variation: int, now: datetime
) -> bytes:
    root, data = _root("SyncPurchaseOrder", env, head.WHLO, now)
    order = _el(data, "PurchaseOrder")
    header = _el(order, "PurchaseOrderHeader")
    _document_id(header, env, head.WHLO, variation, head.PUNO)
    _el(header, "DisplayID", head.PUNO)
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "DocumentDateTime", iso_day(head.PUDT))
    status = _el(header, "Status")
    _el(status, "Code", purchase_status_code(head.PUSL), listID="PurchaseOrderStatus")
    _el(status, "EffectiveDateTime", iso_ms(now))
    _party(header, "SupplierParty", env, head.SUNO)
    _el(header, "TotalAmount", amount(head.NTAM), currencyID=head.CUCD)
    _user_area(
        header,
        [
            ("PUSL", head.PUSL),
            ("PUST", head.PUST),
            ("YRE1", head.YRE1),
            ("FACI", head.FACI),
            ("WHLO", head.WHLO),
        ],
    )
    for line in lines:
        element = _el(order, "PurchaseOrderLine")
        _el(element, "LineNumber", str(line.PNLI))
        _item(_el(element, "Item"), env, line.ITNO)
        _el(element, "Quantity", quantity(line.ORQA), unitCode=line.PUUN or "EA")
        _el(_el(element, "UnitPrice"), "Amount", amount(line.PUPR), currencyID=head.CUCD)
        _el(element, "ReceivedQuantity", quantity(line.RVQA), unitCode=line.PUUN or "EA")
        open_quantity = max(line.ORQA - line.RVQA, Decimal(0)) if line.PUSL < "99" else Decimal(0)
        _el(element, "OpenQuantity", quantity(open_quantity), unitCode=line.PUUN or "EA")
        _el(_el(element, "Status"), "Code", purchase_status_code(line.PUSL), listID="PurchaseOrderStatus")
        _user_area(
            element,
            [
                ("PNLS", str(line.PNLS)),
                ("PUSL", line.PUSL),
                ("PUST", line.PUST),
                ("IVQA", quantity(line.IVQA)),
            ],
        )
    return _serialise(root)


def sync_receive_delivery(
    env: Envelope, repn: int, whlo: str, receipts: Sequence[PurchaseReceipt], variation: int, now: datetime
) -> bytes:
    """One receiving number (REPN) with its receipt lines; layout after DocBits' mapping (m3-p2p.md §4)."""
    root, data = _root("SyncReceiveDelivery", env, whlo, now)
    delivery = _el(data, "ReceiveDelivery")
    header = _el(delivery, "ReceiveDeliveryHeader")
    _document_id(header, env, whlo, variation, str(repn))
    _el(header, "DisplayID", str(repn))
    _el(header, "LastModificationDateTime", iso_ms(now))
    _el(header, "ActualDeliveryDateTime", iso_ms(now))
    _el(_el(header, "Status"), "Code", "Received", listID="ReceiveDeliveryStatus")
    delivery_note = next((r.SUDO for r in receipts if r.SUDO), "")
    if delivery_note:
        _reference(header, "PackingSlipReference", delivery_note)
    pmsn = next((r.PMSN for r in receipts if r.PMSN), "")
    _user_area(header, [("REPN", str(repn)), ("WHLO", whlo), ("SUDO", delivery_note), ("PMSN", pmsn)])
    for sequence, receipt in enumerate(receipts, start=1):
        item = _el(delivery, "ReceiveDeliveryItem")
        _el(item, "LineNumber", str(sequence))
        _item(item, env, receipt.ITNO)
        _el(item, "ReceivedQuantity", quantity(receipt.RVQA), unitCode=receipt.PUUN or "EA")
        order_ref = _reference(item, "PurchaseOrderReference", receipt.PUNO, env.accounting_entity)
        _el(order_ref, "LineNumber", str(receipt.PNLI))
        _user_area(item, [("PNLS", str(receipt.PNLS))])
    return _serialise(root)
