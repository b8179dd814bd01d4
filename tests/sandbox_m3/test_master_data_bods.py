"""Master-data changes publish SyncCustomerPartyMaster, SyncSupplierPartyMaster, SyncItemMaster and
SyncInventoryCount in the same transaction; the `master_data_bods` knob silences them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from clients.ion import (
    CustomerPartyMasterBod,
    InventoryCountBod,
    ItemMasterBod,
    SupplierPartyMasterBod,
    parse_bod,
)
from tests.sandbox_m3.conftest import BodReceiver, place_order, v2_record
from tests.sandbox_m3.master_data_helpers import v2_error
from tests.sandbox_m3.test_bods import element_paths, wait_until

FIXTURES = Path(__file__).parents[1] / "fixtures" / "bods"
ADDRESS = {"CUNO": "C000000099", "ADRT": "1", "ADID": "BNG", "CUA1": "Lagerweg 5", "PONO": "10245"}
ADDRESS |= {"CSCD": "DE", "TOWN": "Berlin"}
SUPPLIER = {
    "SUNO": "S000000001",
    "SUNM": "Rahmenwerk",
    "SUTY": "1",
    "CSCD": "DE",
    "LNCD": "DE",
    "CUCD": "EUR",
}
ITEM = {"STAT": "20", "ITNO": "BELL-9", "ITDS": "Bell", "UNMS": "EA", "ITTY": "FGD", "MABU": "2"}
ADJUST = {"E0PA": "BNG", "E065": "WMS", "WHLO": "300", "ITNO": "LOCK-U", "QLQT": "-3"}


def received(bods: BodReceiver, name: str) -> list[tuple[dict[str, object], bytes]]:
    return [(m.parameters, m.payload) for m in bods.messages if m.parameters["documentName"] == name]


def test_each_master_data_change_publishes_its_bod(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    admin.post("/config", json={"bod_endpoint": url}).raise_for_status()

    v2_record(m3, "CRS610MI", "Add", CUTM="TEMPLATE", CUNO="C000000099", CUNM="New Bikes", CUA1="Weg 1")
    v2_record(m3, "CRS610MI", "ChgBasicData", CUNO="C000000099", PHNO="+49 30 1")
    v2_record(m3, "CRS610MI", "ChgFinancial", CUNO="C000000099", CRL2="900")
    v2_record(m3, "CRS610MI", "AddAddress", **ADDRESS)
    v2_record(m3, "CRS610MI", "ChgAddress", **{**ADDRESS, "CUA1": "Hof 2"})
    v2_record(m3, "CRS620MI", "AddSupplier", **SUPPLIER)
    v2_record(m3, "CRS620MI", "UpdSupplier", SUNO="S000000001", STAT="90")
    v2_record(m3, "MMS200MI", "AddItmBasic", **ITEM)
    v2_record(m3, "MMS200MI", "UpdItmBasic", ITNO="BELL-9", STAT="80")
    v2_record(m3, "MMS850MI", "AddAdjust", **ADJUST)
    # NOKs publish nothing.
    v2_error(m3, "CRS610MI", "ChgFinancial", CUNO="C000000099", TXAP="7")
    v2_error(m3, "MMS850MI", "AddAdjust", **{**ADJUST, "QLQT": "-9999"})

    wait_until(lambda: len(bods.messages) == 10)
    time.sleep(0.3)
    assert len(bods.messages) == 10

    customers = received(bods, "SyncCustomerPartyMaster")
    parsed = [parse_bod(payload) for _, payload in customers]
    assert all(isinstance(bod, CustomerPartyMasterBod) for bod in parsed)
    assert [(p["documentId"], p["variationId"], p["location"]) for p, _ in customers] == [
        ("C000000099", str(n), "") for n in range(1, 6)
    ]
    assert [bod.action_code for bod in parsed] == ["Add", "Replace", "Replace", "Replace", "Replace"]
    first, last = parsed[0], parsed[-1]
    assert isinstance(first, CustomerPartyMasterBod) and isinstance(last, CustomerPartyMasterBod)
    assert (first.customer_number, first.name, first.status_code) == ("C000000099", "New Bikes", "20")
    assert (first.accounting_entity, first.location, first.variation_id) == ("100_AAA", None, 1)
    assert first.address is not None and first.address.lines == ["Weg 1"]
    assert first.addresses == []
    assert (last.phone, last.properties["m3.CRL2"]) == ("+49 30 1", "900")
    assert [(a.address_type, a.address_id, a.lines, a.city) for a in last.addresses] == [
        (1, "BNG", ["Hof 2"], "Berlin")
    ]

    suppliers = [parse_bod(payload) for _, payload in received(bods, "SyncSupplierPartyMaster")]
    assert [
        (b.supplier_number, b.action_code, b.status_code, b.variation_id)
        for b in suppliers
        if isinstance(b, SupplierPartyMasterBod)
    ] == [("S000000001", "Add", "20", 1), ("S000000001", "Replace", "90", 2)]

    items = [parse_bod(payload) for _, payload in received(bods, "SyncItemMaster")]
    assert [
        (b.item_number, b.action_code, b.status_code, b.description)
        for b in items
        if isinstance(b, ItemMasterBod)
    ] == [("BELL-9", "Add", "20", "Bell"), ("BELL-9", "Replace", "80", "Bell")]

    [(parameters, payload)] = received(bods, "SyncInventoryCount")
    assert (parameters["documentId"], parameters["location"]) == ("300/LOCK-U", "300")
    assert element_paths(payload) == element_paths((FIXTURES / "SyncInventoryCount.xml").read_bytes())
    count = parse_bod(payload)
    assert isinstance(count, InventoryCountBod)
    assert (count.warehouse, count.item_numbers) == ("300", ["LOCK-U"])
    assert (count.lines[0].quantity, count.lines[0].allocated_quantity) == (497, 0)


def test_the_knob_silences_master_data_bods_but_not_order_bods(
    m3: httpx.Client, admin: httpx.Client, receiver: tuple[BodReceiver, str]
) -> None:
    bods, url = receiver
    assert admin.get("/knobs").json()["master_data_bods"] is True
    admin.post("/config", json={"bod_endpoint": url}).raise_for_status()
    assert admin.post("/knobs", json={"master_data_bods": False}).json()["master_data_bods"] is False

    v2_record(m3, "CRS610MI", "ChgBasicData", CUNO="C000000001", CUNM="Drifted name")
    v2_record(m3, "CRS610MI", "ChgFinancial", CUNO="C000000001", CRL2="1")
    v2_record(m3, "CRS620MI", "AddSupplier", **SUPPLIER)
    v2_record(m3, "MMS200MI", "UpdItmBasic", ITNO="LOCK-U", ITDS="Drifted")
    v2_record(m3, "MMS850MI", "AddAdjust", **ADJUST)
    _, orno = place_order(m3, "BNG-DRIFT", [("LOCK-U", "1")])
    admin.post(f"/orders/{orno}/advance").raise_for_status()  # allocation: a balance change

    wait_until(lambda: len(bods.messages) == 2)
    time.sleep(0.3)
    assert [m.parameters["documentName"] for m in bods.messages] == ["SyncSalesOrder", "SyncSalesOrder"]
    # The change itself happened: that is the drift.
    assert v2_record(m3, "CRS610MI", "GetBasicData", CUNO="C000000001")["CUNM"] == "Drifted name"

    # null puts the knob back to its default, on.
    assert admin.post("/knobs", json={"master_data_bods": None}).json()["master_data_bods"] is True
    v2_record(m3, "MMS200MI", "UpdItmBasic", ITNO="LOCK-U", ITDS="Lock")
    wait_until(lambda: len(bods.messages) == 3)
    assert bods.messages[-1].parameters["documentName"] == "SyncItemMaster"


def test_reset_switches_the_knob_back_on(admin: httpx.Client) -> None:
    admin.post("/knobs", json={"master_data_bods": False}).raise_for_status()

    admin.post("/reset", json={"seed_demo": True}).raise_for_status()

    assert admin.get("/knobs").json()["master_data_bods"] is True
