"""MHS850MI staged PO receipts (QLFR 20) and PPS320MI/LstReceivedPO: posting, idempotency look-up,
refusals, and the SyncReceiveDelivery + SyncPurchaseOrder that follow."""

from __future__ import annotations

import httpx

from tests.sandbox_m3.conftest import add_supplier, place_po, receive_po, v2_error, v2_record, v2_records

HEAD = {"WHLO": "300", "QLFR": "20", "E0PA": "BNG", "E0PB": "BNG", "E065": "RECEIPT"}


def test_receipt_posts_quantities_status_stock_and_bods(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "20", "2.10")])
    stock_before = v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="TYRE-28")["STQT"]

    msgn = receive_po(m3, puno, [(1, "TYRE-28", "6"), (2, "TUBE-28", "20")], pmsn="GR-100", sudo="DN-77")

    whs_lines = v2_records(m3, "MHS850MI", "LstWhsLine", MSGN=msgn)
    assert [(r["MSLN"], r["RIDN"], r["RIDL"], r["STAT"], r["MSGD"]) for r in whs_lines] == [
        ("1", puno, "1", "90", ""),
        ("2", puno, "2", "90", ""),
    ]
    repn = whs_lines[0]["REPN"]
    assert whs_lines[1]["REPN"] == repn
    received = v2_records(m3, "PPS320MI", "LstReceivedPO", PUNO=puno)
    assert [(r["REPN"], r["PNLI"], r["ITNO"], r["RVQA"], r["PUUN"]) for r in received] == [
        (repn, "1", "TYRE-28", "6", "EA"),
        (repn, "2", "TUBE-28", "20", "EA"),
    ]
    lines = {r["PNLI"]: r for r in v2_records(m3, "PPS200MI", "LstLine", PUNO=puno)}
    assert (lines["1"]["RVQA"], lines["1"]["PUSL"], lines["2"]["RVQA"], lines["2"]["PUSL"]) == (
        "6",
        "50",
        "20",
        "50",
    )
    assert v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="TYRE-28")["STQT"] == str(
        int(stock_before) + 6
    )
    # The idempotency look: BNG's receipt id was the external message number.
    assert v2_record(m3, "MHS850MI", "GetMvxMsg", E0PB="BNG", PMSN="GR-100")["MSGN"] == msgn
    outbox = admin.get("/outbox").json()
    [delivery] = [m for m in outbox if m["documentName"] == "SyncReceiveDelivery"]
    assert delivery["documentId"] == repn
    assert [m["variationId"] for m in outbox if m["documentId"] == puno] == [1, 2]
    view = admin.get(f"/purchase-orders/{puno}").json()
    assert [(r["REPN"], r["SUDO"]) for r in view["receipts"]] == [(int(repn), "DN-77")] * 2


def test_receipt_refusals(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50")])
    msgn = v2_record(m3, "MHS850MI", "AddWhsHead", **HEAD, PMSN="GR-200")["MSGN"]
    line = {
        "WHLO": "300",
        "MSGN": msgn,
        "QLFR": "20",
        "RIDN": puno,
        "RIDL": "1",
        "ITNO": "TYRE-28",
        "RVQA": "1",
    }

    wrong_item = v2_error(m3, "MHS850MI", "AddWhsLine", **{**line, "ITNO": "TUBE-28"})
    no_order = v2_error(m3, "MHS850MI", "AddWhsLine", **{k: v for k, v in line.items() if k != "RIDN"})
    no_line = v2_error(m3, "MHS850MI", "AddWhsLine", **{**line, "RIDL": "9"})
    zero = v2_error(m3, "MHS850MI", "AddWhsLine", **{**line, "RVQA": "0"})
    other_qualifier = v2_error(m3, "MHS850MI", "AddWhsHead", **{**HEAD, "QLFR": "10"})
    same_pmsn = v2_error(m3, "MHS850MI", "AddWhsHead", **HEAD, PMSN="GR-200")
    empty = v2_error(m3, "MHS850MI", "PrcWhsTran", MSGN=msgn)
    unknown_pmsn = v2_error(m3, "MHS850MI", "GetMvxMsg", E0PB="BNG", PMSN="NOPE")

    assert (wrong_item["errorCode"], wrong_item["errorField"], wrong_item["errorMessage"]) == (
        "WIT0101",
        "ITNO",
        f"Item number TUBE-28 is not the item TYRE-28 of purchase order line {puno}/1",
    )
    assert (no_order["errorCode"], no_order["errorField"]) == ("WRI0102", "RIDN")
    assert no_line["errorMessage"] == f"Purchase order line {puno}/9/0 does not exist"
    assert zero["errorField"] == "RVQA"
    assert other_qualifier["errorField"] == "QLFR"
    assert (same_pmsn["errorCode"], same_pmsn["errorField"]) == ("XRE0103", "PMSN")
    assert empty["errorMessage"] == f"Message number {msgn} has no lines"
    assert unknown_pmsn["errorField"] == "PMSN"
    v2_record(m3, "MHS850MI", "AddWhsLine", **line)
    v2_record(m3, "MHS850MI", "PrcWhsTran", MSGN=msgn)
    again = v2_error(m3, "MHS850MI", "PrcWhsTran", MSGN=msgn)
    assert again["errorMessage"] == f"Message number {msgn} is already processed"


def test_a_line_that_fails_at_processing_carries_its_message(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "5", "2")])
    msgn = v2_record(m3, "MHS850MI", "AddWhsHead", **HEAD, PMSN="GR-300")["MSGN"]
    for pnli, itno in ((1, "TYRE-28"), (2, "TUBE-28")):
        v2_record(
            m3,
            "MHS850MI",
            "AddWhsLine",
            WHLO="300",
            MSGN=msgn,
            QLFR="20",
            RIDN=puno,
            RIDL=str(pnli),
            ITNO=itno,
            RVQA="1",
        )
    # Line 2 is deleted between staging and processing.
    v2_record(m3, "PPS200MI", "DltLine", PUNO=puno, PNLI="2")
    v2_record(m3, "MHS850MI", "PrcWhsTran", MSGN=msgn)

    first, second = v2_records(m3, "MHS850MI", "LstWhsLine", MSGN=msgn)
    assert (first["STAT"], second["STAT"], second["MSID"]) == ("90", "98", "WPL0410")
    assert second["MSGD"] == f"Purchase order line {puno}/2 has status 99 and cannot be changed"
    assert [r["PNLI"] for r in v2_records(m3, "PPS320MI", "LstReceivedPO", PUNO=puno)] == ["1"]


def test_lost_answer_on_prc_whs_tran_is_found_by_the_external_message_number(
    m3: httpx.Client, admin: httpx.Client
) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50")])
    admin.post(
        "/faults",
        json={"program": "MHS850MI", "transaction": "PrcWhsTran", "status": 502, "after_commit": True},
    ).raise_for_status()
    msgn = v2_record(m3, "MHS850MI", "AddWhsHead", **HEAD, PMSN="GR-400")["MSGN"]
    v2_record(m3, "MHS850MI", "AddWhsLine", WHLO="300", MSGN=msgn, QLFR="20", RIDN=puno, RIDL="1", RVQA="4")

    assert m3.get("/v2/execute/MHS850MI/PrcWhsTran", params={"MSGN": msgn}).status_code == 502

    found = v2_record(m3, "MHS850MI", "GetMvxMsg", E0PB="BNG", PMSN="GR-400")["MSGN"]
    [line] = v2_records(m3, "MHS850MI", "LstWhsLine", MSGN=found)
    assert (line["STAT"], line["RVQA"]) == ("90", "4")
    assert v2_record(m3, "PPS200MI", "GetLine", PUNO=puno, PNLI="1")["RVQA"] == "4"
