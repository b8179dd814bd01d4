"""parse_bod against the sandbox's BOD fixtures, plus the unsafe and malformed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from clients.ion import (
    BodParseError,
    CustomerPartyMasterBod,
    InventoryCountBod,
    InventoryCountLine,
    InvoiceBod,
    ItemMasterBod,
    PartyAddress,
    SalesOrderBod,
    SalesOrderLine,
    ShipmentBod,
    ShipmentItem,
    SupplierPartyMasterBod,
    UnsupportedBodError,
    parse_bod,
)

BODS = Path(__file__).resolve().parents[1] / "fixtures" / "bods"


def fixture(name: str) -> bytes:
    return (BODS / f"{name}.xml").read_bytes()


def test_sync_sales_order() -> None:
    bod = parse_bod(fixture("SyncSalesOrder"))
    assert isinstance(bod, SalesOrderBod)
    assert (bod.verb, bod.noun) == ("Sync", "SalesOrder")
    assert bod.bod_id == "4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11"
    assert bod.creation_datetime == datetime(2026, 11, 24, 10, 15, 2, 123000, tzinfo=UTC)
    assert (bod.accounting_entity, bod.cono, bod.divi, bod.location) == ("100_AAA", 100, "AAA", "100")
    assert (bod.action_code, bod.variation_id, bod.tenant) == ("Replace", 3, "M3BNG_TST")
    assert bod.sender_logical_id == "lid://infor.m3.m3"
    assert bod.order_number == "1000000001"
    assert bod.customer_order_ref == "BNG-10001"
    assert bod.customer_number == "C000000001"
    assert (bod.status_code, bod.orsl, bod.orst) == ("Allocated", "33", "33")
    assert (bod.total_amount, bod.currency) == (Decimal("149.80"), "EUR")
    assert bod.properties["m3.ORTP"] == "A01"
    assert bod.lines == [
        SalesOrderLine(
            line_number=1,
            item="BIKE-RED-26",
            quantity=Decimal("2"),
            unit_price=Decimal("74.90"),
            status="Allocated",
            orst="33",
        )
    ]


def test_sync_shipment() -> None:
    bod = parse_bod(fixture("SyncShipment"))
    assert isinstance(bod, ShipmentBod)
    assert bod.bod_id == "9d0b9d2e-5c3a-4a4e-8a57-0f4f7a3c2b77"
    assert (bod.cono, bod.divi, bod.variation_id) == (100, "AAA", 1)
    assert bod.delivery_number == "5000000001"
    assert bod.status_code == "Shipped"
    assert bod.ship_datetime == datetime(2026, 11, 24, 10, 20, tzinfo=UTC)
    assert bod.customer_number == "C000000001"
    assert bod.items == [
        ShipmentItem(
            item="BIKE-RED-26",
            quantity=Decimal("2"),
            order_number="1000000001",
            line_number=1,
            customer_order_ref="BNG-10001",
        )
    ]
    assert bod.order_numbers == ["1000000001"]
    assert bod.customer_order_refs == ["BNG-10001"]
    assert bod.properties["m3.PGRS"] == "60"


def test_sync_invoice() -> None:
    bod = parse_bod(fixture("SyncInvoice"))
    assert isinstance(bod, InvoiceBod)
    assert bod.bod_id == "1a7e3f42-6a0b-4e3c-b1d4-9f1f0e7b5c20"
    assert (bod.invoice_number, bod.invoice_year, bod.cino) == ("700000001", 2026, "700000001")
    assert (bod.invoice_date, bod.due_date) == (date(2026, 11, 24), date(2026, 12, 24))
    assert (bod.total_amount, bod.net_amount, bod.tax_amount) == (
        Decimal("178.26"),
        Decimal("149.80"),
        Decimal("28.46"),
    )
    assert bod.currency == "EUR"
    assert (bod.order_number, bod.customer_order_ref, bod.delivery_number) == (
        "1000000001",
        "BNG-10001",
        "5000000001",
    )
    assert bod.customer_number == "C000000001"
    assert [(line.item, line.quantity, line.amount) for line in bod.lines] == [
        ("BIKE-RED-26", Decimal("2"), Decimal("149.80"))
    ]


def test_sync_customer_party_master() -> None:
    bod = parse_bod(fixture("SyncCustomerPartyMaster"))
    assert isinstance(bod, CustomerPartyMasterBod)
    assert (bod.verb, bod.noun, bod.action_code) == ("Sync", "CustomerPartyMaster", "Replace")
    assert bod.bod_id == "0c6f4b1e-2d7a-4f58-9e13-6a2b8d4c7f90"
    assert bod.creation_datetime == datetime(2026, 11, 24, 10, 31, 0, 100000, tzinfo=UTC)
    assert (bod.accounting_entity, bod.cono, bod.divi, bod.location) == ("100_AAA", 100, "AAA", None)
    assert bod.variation_id == 4
    assert bod.customer_number == "C000000001"
    assert (bod.name, bod.status_code) == ("Velo Shop Berlin", "20")
    assert (bod.phone, bod.email) == ("+49 30 1234567", "einkauf@veloshop.example")
    assert bod.address == PartyAddress(
        lines=["Torstrasse 101"], city="Berlin", postal_code="10119", country="DE"
    )
    assert bod.addresses == [
        PartyAddress(
            lines=["Lagerweg 5", "Tor 3"],
            city="Berlin",
            postal_code="10245",
            country="DE",
            name="Velo Shop Berlin Lager",
            address_type=1,
            address_id="BNG",
        )
    ]
    assert (bod.properties["m3.CRL2"], bod.properties["m3.TXAP"]) == ("5000", "1")


def test_sync_supplier_party_master() -> None:
    bod = parse_bod(fixture("SyncSupplierPartyMaster"))
    assert isinstance(bod, SupplierPartyMasterBod)
    assert (bod.noun, bod.action_code, bod.variation_id) == ("SupplierPartyMaster", "Add", 1)
    assert bod.supplier_number == "S000000001"
    assert (bod.name, bod.status_code, bod.country) == ("Rahmenwerk Fahrradteile GmbH", "20", "DE")
    assert bod.phone == "+49 711 400 800"
    assert bod.properties["m3.CUCD"] == "EUR"


def test_sync_item_master() -> None:
    bod = parse_bod(fixture("SyncItemMaster"))
    assert isinstance(bod, ItemMasterBod)
    assert (bod.noun, bod.action_code, bod.variation_id) == ("ItemMaster", "Replace", 2)
    assert bod.item_number == "HELMET-M"
    assert (bod.description, bod.unit, bod.status_code) == ("Helmet size M", "EA", "20")
    assert bod.properties["m3.FUDS"] == "Bicycle helmet, size M"
    assert bod.properties["m3.ITGR"] == ""


def test_sync_inventory_count() -> None:
    bod = parse_bod(fixture("SyncInventoryCount"))
    assert isinstance(bod, InventoryCountBod)
    assert (bod.noun, bod.action_code, bod.variation_id) == ("InventoryCount", "Replace", 2)
    assert (bod.warehouse, bod.location, bod.document_id) == ("100", "100", "100/BIKE-RED-26")
    assert bod.item_numbers == ["BIKE-RED-26"]
    assert bod.lines == [
        InventoryCountLine(
            item="BIKE-RED-26",
            quantity=Decimal("498"),
            allocated_quantity=Decimal("2"),
            available_quantity=Decimal("496"),
            location="A-01-01",
        )
    ]


def test_inventory_count_warehouse_falls_back_to_the_user_area() -> None:
    xml = fixture("SyncInventoryCount").replace(b"<LocationID>100</LocationID>", b"")
    xml = xml.replace(b' location="100"', b"")
    bod = parse_bod(xml)
    assert isinstance(bod, InventoryCountBod)
    assert bod.warehouse == "100"
    with pytest.raises(BodParseError, match="no warehouse"):
        parse_bod(xml.replace(b'<NameValue name="m3.WHLO" type="StringType">100</NameValue>', b""))


def test_master_data_missing_key_is_named_by_path() -> None:
    xml = fixture("SyncCustomerPartyMaster").replace(b">C000000001</ID>", b"></ID>")
    with pytest.raises(BodParseError, match=r"CustomerPartyMaster/PartyIDs/ID"):
        parse_bod(xml)
    xml = fixture("SyncInventoryCount").replace(b'<Quantity unitCode="EA">498', b"<Quantity>many")
    with pytest.raises(BodParseError, match="Quantity is not a number"):
        parse_bod(xml)


def test_show_verb_is_accepted() -> None:
    xml = fixture("SyncInvoice").replace(b"SyncInvoice", b"ShowInvoice").replace(b"<Sync>", b"<Show>")
    bod = parse_bod(xml.replace(b"</Sync>", b"</Show>"))
    assert (bod.verb, bod.noun) == ("Show", "Invoice")


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><SyncSalesOrder>&a;</SyncSalesOrder>',
        b'<!DOCTYPE SyncSalesOrder SYSTEM "file:///etc/passwd"><SyncSalesOrder/>',
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
    ],
    ids=["internal-entity", "external-dtd", "billion-laughs", "utf16-doctype"],
)
def test_doctype_and_entities_are_refused(xml: bytes) -> None:
    with pytest.raises(BodParseError, match="DOCTYPE"):
        parse_bod(xml)


def test_unknown_noun_and_verb_are_unsupported() -> None:
    noun = fixture("SyncSalesOrder").replace(b"SyncSalesOrder", b"SyncAdvanceShipNotice")
    with pytest.raises(UnsupportedBodError) as info:
        parse_bod(noun)
    assert (info.value.verb, info.value.noun) == ("Sync", "AdvanceShipNotice")
    with pytest.raises(UnsupportedBodError, match="verb Process"):
        parse_bod(fixture("SyncSalesOrder").replace(b"SyncSalesOrder", b"ProcessSalesOrder"))
    with pytest.raises(UnsupportedBodError, match="unknown BOD verb"):
        parse_bod(b'<Frobnicate xmlns="http://schema.infor.com/InforOAGIS/2"/>')


def test_missing_element_is_named_by_path() -> None:
    xml = fixture("SyncSalesOrder").replace(b"<BODID>4f1c2a8e-9b1d-4c53-9a51-2e6f4a0c9d11</BODID>", b"")
    with pytest.raises(BodParseError, match=r"SyncSalesOrder/ApplicationArea/BODID"):
        parse_bod(xml)
    xml = fixture("SyncShipment").replace(b'<ShippedQuantity unitCode="EA">2</ShippedQuantity>', b"")
    with pytest.raises(BodParseError, match=r"Shipment/ShipmentItem\[1\]/ShippedQuantity"):
        parse_bod(xml)


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<SyncSalesOrder", "not well-formed"),
        (b"<SyncSalesOrder/>", "namespace"),
        (
            fixture("SyncSalesOrder").replace(b'<TotalAmount currencyID="EUR">149.80', b"<TotalAmount>lots"),
            "TotalAmount is not a number",
        ),
    ],
)
def test_malformed_documents(xml: bytes, message: str) -> None:
    with pytest.raises(BodParseError, match=message):
        parse_bod(xml)
