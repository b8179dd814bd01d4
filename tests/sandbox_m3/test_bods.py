"""The lifecycle publishes SyncSalesOrder/SyncShipment/SyncInvoice (and SyncInventoryCount for the
balances it moves) as IMS v3 multipart messages."""

from __future__ import annotations

import re
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.sandbox_m3.conftest import BodReceiver, place_order, v2_record

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bods"
NS = {"o": "http://schema.infor.com/InforOAGIS/2"}


def element_paths(xml: bytes) -> set[str]:
    """Every element path in the document, namespaces stripped."""

    def walk(element: ET.Element, prefix: str) -> set[str]:
        path = f"{prefix}/{element.tag.split('}')[1]}"
        return {path}.union(*(walk(child, path) for child in element))

    return walk(ET.fromstring(xml), "")


def user_area(root: ET.Element, header: str) -> dict[str, str]:
    values = root.findall(f".//o:{header}/o:UserArea/o:Property/o:NameValue", NS)
    return {value.attrib["name"]: value.text or "" for value in values}


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_lifecycle_to_77_publishes_bods_at_least_once_in_order(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    bods.fail_next = 1  # the first delivery attempt gets a 500; the message must still arrive
    admin.post("/config", json={"bod_endpoint": url}).raise_for_status()
    _, orno = place_order(m3, "BNG-10001", [("BIKE-RED-26", "2")])
    for _ in range(4):
        admin.post(f"/orders/{orno}/advance").raise_for_status()

    wait_until(lambda: len(bods.messages) == 9)
    # The sender records a delivery just after the receiver has it.
    wait_until(lambda: {m["status"] for m in admin.get("/outbox").json()} == {"sent"})

    assert bods.attempts == 10
    outbox = admin.get("/outbox").json()
    assert {m["status"] for m in outbox} == {"sent"}
    assert sorted(m["attempts"] for m in outbox) == [1, 1, 1, 1, 1, 1, 1, 1, 2]
    names = [m.parameters["documentName"] for m in bods.messages]
    assert names.count("SyncSalesOrder") == 5
    assert names.count("SyncShipment") == 1
    assert names.count("SyncInvoice") == 1
    # Allocation (ALQT up) and delivery (STQT and ALQT down) each report the balance.
    assert names.count("SyncInventoryCount") == 2

    for message in bods.messages:
        assert message.part_names == ["ParameterRequest", "MessagePayload"]
        assert message.content_types == {
            "ParameterRequest": "application/json",
            "MessagePayload": "application/octet-stream",
        }
        params = message.parameters
        assert params["fromLogicalId"] == "lid://infor.m3.m3"
        assert params["toLogicalId"] == "lid://infor.ims.m3bng"
        assert (params["encoding"], params["characterSet"]) == ("NONE", "UTF-8")
        assert (params["accountingEntity"], params["location"]) == ("100_AAA", "100")
        uuid.UUID(params["messageId"])
        name = params["documentName"]
        assert element_paths(message.payload) == element_paths((FIXTURES / f"{name}.xml").read_bytes()), name
        root = ET.fromstring(message.payload)
        assert root.tag == f"{{{NS['o']}}}{name}"
        assert root.findtext("o:ApplicationArea/o:Sender/o:LogicalID", namespaces=NS) == "lid://infor.m3.m3"
        assert root.findtext("o:ApplicationArea/o:Sender/o:ComponentID", namespaces=NS) == "M3BE"
        uuid.UUID(root.findtext("o:ApplicationArea/o:BODID", namespaces=NS))
        created = root.findtext("o:ApplicationArea/o:CreationDateTime", namespaces=NS) or ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created)
        assert root.findtext("o:DataArea/o:Sync/o:AccountingEntityID", namespaces=NS) == "100_AAA"
        action = root.find("o:DataArea/o:Sync/o:ActionCriteria/o:ActionExpression", NS)
        assert action is not None and action.attrib["actionCode"] == "Replace"

    orders = [
        ET.fromstring(m.payload) for m in bods.messages if m.parameters["documentName"] == "SyncSalesOrder"
    ]
    header = "o:DataArea/o:SalesOrder/o:SalesOrderHeader"
    # In order per document, despite the retried first message.
    assert [o.find(f"{header}/o:DocumentID/o:ID", NS).attrib["variationID"] for o in orders] == [  # type: ignore[union-attr]
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert [o.findtext(f"{header}/o:Status/o:Code", namespaces=NS) for o in orders] == [
        "Open",
        "Allocated",
        "Picking",
        "Shipped",
        "Invoiced",
    ]
    last = orders[-1]
    assert last.findtext(f"{header}/o:DocumentID/o:ID", namespaces=NS) == orno
    assert (
        last.findtext(f"{header}/o:CustomerPurchaseOrderReference/o:DocumentID/o:ID", namespaces=NS)
        == "BNG-10001"
    )
    assert last.findtext(f"{header}/o:TotalAmount", namespaces=NS) == "1498.00"
    assert user_area(last, "SalesOrderHeader") == {"m3.ORSL": "77", "m3.ORST": "77", "m3.ORTP": "A01"}

    [shipment] = [
        ET.fromstring(m.payload) for m in bods.messages if m.parameters["documentName"] == "SyncShipment"
    ]
    dlix = user_area(shipment, "ShipmentHeader")["m3.DLIX"]
    assert dlix == "5000000001"
    item = "o:DataArea/o:Shipment/o:ShipmentItem"
    assert shipment.findtext(f"{item}/o:ShippedQuantity", namespaces=NS) == "2"
    assert shipment.findtext(f"{item}/o:SalesOrderReference/o:DocumentID/o:ID", namespaces=NS) == orno

    [invoice] = [
        ET.fromstring(m.payload) for m in bods.messages if m.parameters["documentName"] == "SyncInvoice"
    ]
    ivno = invoice.findtext("o:DataArea/o:Invoice/o:InvoiceHeader/o:DocumentID/o:ID", namespaces=NS)
    assert ivno == "700000001"
    assert user_area(invoice, "InvoiceHeader") == {"m3.YEA4": str(time.gmtime().tm_year), "m3.CINO": ivno}
    invoice_header = "o:DataArea/o:Invoice/o:InvoiceHeader"
    assert invoice.findtext(f"{invoice_header}/o:TotalAmount", namespaces=NS) == "1782.62"
    assert invoice.findtext(f"{invoice_header}/o:TotalTaxAmount", namespaces=NS) == "284.62"
    assert invoice.findtext(f"{invoice_header}/o:ShipmentReference/o:DocumentID/o:ID", namespaces=NS) == dlix

    counts = [
        ET.fromstring(m.payload)
        for m in bods.messages
        if m.parameters["documentName"] == "SyncInventoryCount"
    ]
    count_header = "o:DataArea/o:InventoryCount/o:InventoryCountHeader"
    assert [c.findtext(f"{count_header}/o:DocumentID/o:ID", namespaces=NS) for c in counts] == [
        "100/BIKE-RED-26",
        "100/BIKE-RED-26",
    ]
    assert [user_area(c, "InventoryCountLine") for c in counts] == [
        {"m3.WHSL": "A-01-01", "m3.STQT": "500", "m3.ALQT": "2", "m3.AV01": "498"},
        {"m3.WHSL": "A-01-01", "m3.STQT": "498", "m3.ALQT": "0", "m3.AV01": "498"},
    ]


def test_messages_wait_in_the_outbox_until_an_endpoint_is_set(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    place_order(m3, "BNG-WAIT", [("LOCK-U", "1")])
    time.sleep(0.3)
    assert [m["status"] for m in admin.get("/outbox").json()] == ["pending"]

    admin.post("/config", json={"bod_endpoint": url}).raise_for_status()

    wait_until(lambda: len(bods.messages) == 1)
    assert bods.messages[0].parameters["documentName"] == "SyncSalesOrder"


def test_background_lifecycle_advances_open_orders(m3: httpx.Client, admin: httpx.Client) -> None:
    _, orno = place_order(m3, "BNG-AUTO", [("TUBE-28", "4")])

    admin.post("/config", json={"lifecycle_interval_seconds": 0.1}).raise_for_status()
    wait_until(lambda: v2_record(m3, "OIS100MI", "GetHead", ORNO=orno)["ORST"] == "77")
    admin.post("/config", json={"lifecycle_interval_seconds": None}).raise_for_status()

    assert admin.get(f"/orders/{orno}").json()["invoices"][0]["IVAM"] == "30.94"  # 26.00 + 4.94


def bod_id(payload: bytes) -> str:
    element = ET.fromstring(payload).find(".//{*}BODID")
    assert element is not None and element.text
    return element.text


def test_bod_posts_carry_the_configured_authorization(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    config = admin.post("/config", json={"bod_endpoint": url, "bod_authorization": "Bearer ims-abc"}).json()
    assert config["bod_authorization"] == "Bearer ims-abc"

    place_order(m3, "BNG-AUTH", [("LOCK-U", "1")])
    wait_until(lambda: len(bods.messages) == 1)
    admin.post("/config", json={"bod_authorization": None}).raise_for_status()
    v2_record(m3, "CRS610MI", "ChgBasicData", CUNO="C000000001", CUNM="Velo Shop Mitte")
    wait_until(lambda: len(bods.messages) == 2)

    assert bods.messages[0].headers["authorization"] == "Bearer ims-abc"
    assert "authorization" not in bods.messages[1].headers


def test_bod_redelivery_posts_a_delivered_bod_again(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    admin.post("/knobs", json={"bod_redelivery_rate": 1.0}).raise_for_status()
    admin.post("/config", json={"bod_endpoint": url}).raise_for_status()

    place_order(m3, "BNG-TWICE", [("LOCK-U", "1")])
    wait_until(lambda: len(bods.messages) == 2)
    time.sleep(0.3)

    first, second = bods.messages
    assert first.parameters == second.parameters  # same messageId, documentId, variationId
    assert first.payload == second.payload
    assert bod_id(first.payload) == bod_id(second.payload)
    assert [m["status"] for m in admin.get("/outbox").json()] == ["sent"]
    assert len(bods.messages) == 2
