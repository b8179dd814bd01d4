"""Warehouse balances: MMS060MI balance identities and MMS850MI/AddAdjust stock adjustments."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox_m3.conftest import place_order, v2_record
from tests.sandbox_m3.master_data_helpers import v2_error, v2_rows

ADJUST = {"PRFL": "*EXE", "E0PA": "BNG", "E065": "WMS", "WHLO": "300", "ITNO": "LOCK-U", "RSCD": "WMS"}


def on_hand(m3: httpx.Client, whlo: str, itno: str) -> tuple[str, str, str]:
    record = v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO=whlo, ITNO=itno)
    return record["STQT"], record["ALQT"], record["AV01"]


def test_balance_ids_by_warehouse_and_by_item(m3: httpx.Client) -> None:
    rows = v2_rows(m3, "MMS060MI", "List", WHLO="100", ITNO="LOCK-U", maxrecs="2")
    assert [(r["ITNO"], r["WHSL"], r["STAS"], r["STQT"], r["ALQT"]) for r in rows] == [
        ("LOCK-U", "A-01-01", "2", "500", "0"),
        ("PUMP-FLOOR", "A-01-01", "2", "500", "0"),
    ]
    assert v2_rows(m3, "MMS060MI", "List", WHLO="100", WHSL="B-99-99") == []
    assert v2_rows(m3, "MMS060MI", "List", WHLO="100", BANO="LOT1") == []

    by_item = v2_rows(m3, "MMS060MI", "LstViaItem", ITNO="HELMET-M")
    assert [(r["WHLO"], r["ITNO"], r["STQT"]) for r in by_item] == [
        ("100", "HELMET-M", "500"),
        ("200", "HELMET-M", "500"),
        ("300", "HELMET-M", "500"),
    ]
    assert [r["WHLO"] for r in v2_rows(m3, "MMS060MI", "LstViaItem", ITNO="HELMET-M", WHLO="200")] == ["200"]
    assert v2_rows(m3, "MMS060MI", "LstViaItem", ITNO="TRAILER-KID") == []


def test_balance_id_noks(m3: httpx.Client) -> None:
    assert v2_error(m3, "MMS060MI", "List", WHLO="999")["errorCode"] == "WWH0203"
    assert v2_error(m3, "MMS060MI", "List")["errorField"] == "WHLO"
    assert v2_error(m3, "MMS060MI", "LstViaItem", ITNO="SCOOTER-X")["errorCode"] == "WIT0203"
    assert v2_error(m3, "MMS060MI", "LstViaItem", ITNO="LOCK-U", WHLO="999")["errorCode"] == "WWH0203"


def test_add_adjust_adds_and_removes_a_delta(m3: httpx.Client) -> None:
    record = v2_record(m3, "MMS850MI", "AddAdjust", **ADJUST, QLQT="12")
    assert record["CONO"] == "100"
    assert record["MSNR"]
    assert on_hand(m3, "300", "LOCK-U") == ("512", "0", "512")

    # To reach a counted quantity the caller sends counted - STQT.
    v2_record(m3, "MMS850MI", "AddAdjust", **ADJUST, QLQT=str(480 - 512))
    assert on_hand(m3, "300", "LOCK-U") == ("480", "0", "480")
    assert on_hand(m3, "100", "LOCK-U") == ("500", "0", "500")  # other warehouses untouched

    v2_record(m3, "MMS850MI", "AddAdjust", **{**ADJUST, "PRFL": "*CHK"}, QLQT="-480")
    assert on_hand(m3, "300", "LOCK-U")[0] == "480"  # *CHK only checks
    v2_record(m3, "MMS850MI", "AddAdjust", **{**ADJUST, "PRFL": ""}, QLQT="0.5", WHSL="A-01-01")
    assert on_hand(m3, "300", "LOCK-U")[0] == "480.5"


def test_add_adjust_never_goes_below_the_allocated_quantity(m3: httpx.Client, admin: httpx.Client) -> None:
    _, orno = place_order(m3, "BNG-ADJ", [("LOCK-U", "5")])
    admin.post(f"/orders/{orno}/advance").raise_for_status()  # 22 -> 33: allocates 5 in warehouse 100
    assert on_hand(m3, "100", "LOCK-U") == ("500", "5", "495")
    adjust = {**ADJUST, "WHLO": "100"}

    error = v2_error(m3, "MMS850MI", "AddAdjust", **adjust, QLQT="-496")
    assert (error["errorCode"], error["errorField"], error["errorMessage"]) == (
        "WQT0110",
        "QLQT",
        "On-hand balance 4 of item LOCK-U in warehouse 100 would be less than the allocated quantity 5",
    )
    v2_record(m3, "MMS850MI", "AddAdjust", **adjust, QLQT="-495")
    assert on_hand(m3, "100", "LOCK-U") == ("5", "5", "0")
    negative = v2_error(m3, "MMS850MI", "AddAdjust", **{**ADJUST, "ITNO": "TUBE-28"}, QLQT="-501")
    assert (negative["errorCode"], negative["errorMessage"]) == (
        "WQT0111",
        "On-hand balance -1 of item TUBE-28 in warehouse 300 would be negative",
    )


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"QLQT": "0"}, "WQT0102", "QLQT"),
        ({"QLQT": ""}, "XMA0001", "QLQT"),
        ({"QLQT": "1", "ITNO": ""}, "XMA0001", "ITNO"),
        ({"QLQT": "1", "E0PA": ""}, "XMA0001", "E0PA"),
        ({"QLQT": "1", "PRFL": "*RUN"}, "WPR0101", "PRFL"),
        ({"QLQT": "1", "WHLO": "999"}, "WWH0203", "WHLO"),
        ({"QLQT": "1", "ITNO": "SCOOTER-X"}, "WIT0203", "ITNO"),
        ({"QLQT": "1", "ITNO": "TRAILER-KID"}, "WBA0203", "ITNO"),
        ({"QLQT": "1", "WHSL": "B-99-99"}, "WLO0203", "WHSL"),
        ({"QLQT": "1", "BANO": "LOT1"}, "WLT0203", "BANO"),
    ],
)
def test_add_adjust_noks(m3: httpx.Client, fields: dict[str, str], code: str, field: str) -> None:
    error = v2_error(m3, "MMS850MI", "AddAdjust", **{**ADJUST, **fields})

    assert (error["errorCode"], error["errorField"]) == (code, field)
    assert on_hand(m3, "300", "LOCK-U")[0] == "500"
