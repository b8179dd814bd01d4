"""PPS370MI batch entry and PPS200MI: statuses, M3-style refusals, the confirmation clock, the
lost answer of PPS370MI/AddHead, and SyncPurchaseOrder on every change."""

from __future__ import annotations

import time

import httpx

from tests.sandbox_m3.conftest import (
    add_supplier,
    place_po,
    receive_po,
    v2_error,
    v2_record,
    v2_records,
)


def test_finish_entry_creates_the_po_with_lines_at_status_20(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    msgn, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "20", "2.10")])

    head = v2_record(m3, "PPS200MI", "GetHead", PUNO=puno)
    lines = v2_records(m3, "PPS200MI", "LstLine", PUNO=puno)
    line = v2_record(m3, "PPS200MI", "GetLine", PUNO=puno, PNLI="2", PNLS="0")

    assert (head["SUNO"], head["WHLO"], head["FACI"], head["YRE1"]) == (
        "S000000001",
        "300",
        "100",
        "BNG-PO-1",
    )
    assert (head["PUSL"], head["PUST"], head["CUCD"], head["NTAM"]) == ("20", "20", "EUR", "127.00")
    assert [(r["PNLI"], r["ITNO"], r["ORQA"], r["PUPR"], r["PUSL"]) for r in lines] == [
        ("1", "TYRE-28", "10", "8.50", "20"),
        ("2", "TUBE-28", "20", "2.10", "20"),
    ]
    assert (line["RVQA"], line["IVQA"], line["LNAM"]) == ("0", "0", "42.00")
    # The entry is transferred: it takes no more changes, and cannot be deleted.
    again = v2_error(m3, "PPS370MI", "FinishEntry", MSGN=msgn)
    assert (again["errorField"], again["errorMessage"]) == (
        "MSGN",
        f"Message number {msgn} has status 90 and cannot be changed",
    )
    assert v2_error(m3, "PPS370MI", "DeleteEntry", MSGN=msgn)["errorField"] == "MSGN"
    [published] = [m for m in admin.get("/outbox").json() if m["documentName"] == "SyncPurchaseOrder"]
    assert (published["documentId"], published["variationId"]) == (puno, 1)


def test_entry_refusals_and_delete_entry(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    add_supplier(m3, "S000000090", stat="90")
    msgn = v2_record(m3, "PPS370MI", "StartEntry", BAOR="BNG")["MSGN"]
    head = {"MSGN": msgn, "FACI": "100", "WHLO": "300", "SUNO": "S000000001", "DWDT": "20260301"}

    unknown = v2_error(m3, "PPS370MI", "AddHead", **{**head, "SUNO": "NOSUCH"})
    blocked = v2_error(m3, "PPS370MI", "AddHead", **{**head, "SUNO": "S000000090"})
    wrong_facility = v2_error(m3, "PPS370MI", "AddHead", **{**head, "FACI": "200"})
    no_date = v2_error(m3, "PPS370MI", "AddHead", **{k: v for k, v in head.items() if k != "DWDT"})
    puno = v2_record(m3, "PPS370MI", "AddHead", **head)["PUNO"]
    line = {"MSGN": msgn, "PUNO": puno, "PNLI": "1", "ITNO": "TYRE-28", "ORQA": "5"}
    no_item = v2_error(m3, "PPS370MI", "AddLine", **{**line, "ITNO": "SCOOTER-X"})
    unstocked = v2_error(m3, "PPS370MI", "AddLine", **{**line, "ITNO": "TRAILER-KID"})
    zero = v2_error(m3, "PPS370MI", "AddLine", **{**line, "ORQA": "0"})
    empty = v2_error(m3, "PPS370MI", "FinishEntry", MSGN=msgn)
    v2_record(m3, "PPS370MI", "AddLine", **line)
    duplicate = v2_error(m3, "PPS370MI", "AddLine", **line)
    v2_record(m3, "PPS370MI", "DeleteEntry", MSGN=msgn)

    assert (unknown["errorField"], unknown["errorMessage"]) == ("SUNO", "Supplier NOSUCH does not exist")
    assert blocked["errorMessage"] == "Supplier S000000090 is blocked"
    assert wrong_facility["errorMessage"] == "Warehouse 300 does not belong to facility 200"
    assert (no_date["errorType"], no_date["errorField"]) == ("MandatoryInputFieldNotFound", "DWDT")
    assert no_item["errorMessage"] == "Item number SCOOTER-X does not exist"
    assert unstocked["errorMessage"] == "Item number TRAILER-KID does not exist in warehouse 300"
    assert zero["errorField"] == "ORQA"
    assert empty["errorMessage"] == f"Purchase order number {puno} has no lines"
    assert (duplicate["errorCode"], duplicate["errorField"]) == ("XRE0103", "PNLI")
    # Deleted with its heads and lines: the reserved PUNO never becomes a purchase order.
    assert (
        v2_error(m3, "PPS370MI", "AddHead", **head)["errorMessage"] == f"Message number {msgn} does not exist"
    )
    assert v2_error(m3, "PPS200MI", "GetHead", PUNO=puno)["errorMessage"] == (
        f"Purchase order number {puno} does not exist"
    )


def test_status_rules_on_changes(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(
        m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "20", "2.10"), (3, "LOCK-U", "1", "20")]
    )
    receive_po(m3, puno, [(1, "TYRE-28", "4")])

    below_received = v2_error(m3, "PPS200MI", "UpdLine", PUNO=puno, PNLI="1", PNLS="0", ORQA="3")
    v2_record(m3, "PPS200MI", "UpdLine", PUNO=puno, PNLI="1", PNLS="0", ORQA="4", PUPR="8.40")
    received = v2_error(m3, "PPS200MI", "DltLine", PUNO=puno, PNLI="1", PNLS="0")
    v2_record(m3, "PPS200MI", "DltLine", PUNO=puno, PNLI="3")
    deleted = v2_error(m3, "PPS200MI", "UpdLine", PUNO=puno, PNLI="3", PNLS="0", ORQA="2")
    v2_record(m3, "PPS200MI", "AddLine", PUNO=puno, PNLI="4", ITNO="CHAIN-9S", ORQA="2", PUPR="15")
    v2_record(m3, "PPS200MI", "UpdHead", PUNO=puno, YRE1="BNG-PO-1B", DWDT="20260315")

    assert (
        below_received["errorMessage"] == "Ordered quantity 3 must not be less than the received quantity 4"
    )
    assert (
        received["errorMessage"]
        == f"Purchase order line {puno}/1 has received quantity and cannot be deleted"
    )
    assert deleted["errorMessage"] == f"Purchase order line {puno}/3 has status 99 and cannot be changed"
    lines = {r["PNLI"]: r for r in v2_records(m3, "PPS200MI", "LstLine", PUNO=puno)}
    assert (lines["1"]["ORQA"], lines["1"]["PUPR"], lines["1"]["RVQA"], lines["1"]["PUSL"]) == (
        "4",
        "8.40",
        "4",
        "50",
    )
    assert (lines["3"]["PUSL"], lines["4"]["PUSL"], lines["4"]["ITNO"]) == ("99", "20", "CHAIN-9S")
    head = v2_record(m3, "PPS200MI", "GetHead", PUNO=puno)
    assert (head["PUSL"], head["PUST"], head["YRE1"], head["DWDT"]) == ("20", "99", "BNG-PO-1B", "20260315")


def test_every_line_closed_refuses_add_line_and_upd_head(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "2", "8.50"), (2, "TUBE-28", "1", "2")])
    v2_record(m3, "PPS200MI", "DltLine", PUNO=puno, PNLI="1")
    v2_record(m3, "PPS200MI", "DltLine", PUNO=puno, PNLI="2")

    add = v2_error(m3, "PPS200MI", "AddLine", PUNO=puno, ITNO="CHAIN-9S", ORQA="1")
    upd = v2_error(m3, "PPS200MI", "UpdHead", PUNO=puno, YRE1="X")

    assert (
        add["errorMessage"]
        == upd["errorMessage"]
        == f"Purchase order number {puno} is completed and cannot be changed"
    )
    assert v2_record(m3, "PPS200MI", "GetHead", PUNO=puno)["PUSL"] == "99"


def test_search_head_by_your_reference_and_supplier(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    add_supplier(m3, "S000000002")
    _, first = place_po(m3, [(1, "TYRE-28", "1", "8")], yre1="BNG PO 7")
    _, second = place_po(m3, [(1, "TYRE-28", "1", "8")], suno="S000000002", yre1="BNG PO 8")

    by_reference = v2_records(m3, "PPS200MI", "SearchHead", SQRY="YRE1:'BNG PO 7' AND WHLO:300")
    by_supplier = v2_records(m3, "PPS200MI", "SearchHead", SQRY="SUNO:S000000002")
    bad = v2_error(m3, "PPS200MI", "SearchHead", SQRY="ITNO:TYRE-28")

    assert [r["PUNO"] for r in by_reference] == [first]
    assert [(r["PUNO"], r["PUSL"], r["POTC"]) for r in by_supplier] == [(second, "20", "20")]
    assert bad["errorField"] == "SQRY"


def test_confirmation_clock_and_advance(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, manual = place_po(m3, [(1, "TYRE-28", "1", "8")])
    advanced = admin.post(f"/purchase-orders/{manual}/advance").json()
    assert advanced == {"PUNO": manual, "advanced": True, "status": "35"}
    assert admin.post(f"/purchase-orders/{manual}/advance").json()["advanced"] is False

    admin.post("/config", json={"po_confirm_seconds": 0.2}).raise_for_status()
    try:
        _, clocked = place_po(m3, [(1, "TYRE-28", "1", "8")])
        deadline = time.monotonic() + 5
        while v2_record(m3, "PPS200MI", "GetHead", PUNO=clocked)["PUSL"] != "35":
            assert time.monotonic() < deadline, "the clock did not confirm the PO"
            time.sleep(0.1)
    finally:
        admin.post("/config", json={"po_confirm_seconds": 30}).raise_for_status()
    statuses = [m["variationId"] for m in admin.get("/outbox").json() if m["documentId"] == clocked]
    assert statuses == [1, 2]


def test_lost_answer_on_add_head_commits_once(m3: httpx.Client, admin: httpx.Client) -> None:
    """AddHead commits, the answer is lost: the PUNO is in the call log, the entry holds the head."""
    add_supplier(m3)
    admin.post(
        "/faults", json={"program": "PPS370MI", "transaction": "AddHead", "status": 504, "after_commit": True}
    ).raise_for_status()
    msgn = v2_record(m3, "PPS370MI", "StartEntry", BAOR="BNG")["MSGN"]
    head = {"MSGN": msgn, "FACI": "100", "WHLO": "300", "SUNO": "S000000001", "DWDT": "20260301"}

    lost = m3.get("/v2/execute/PPS370MI/AddHead", params=head)

    assert lost.status_code == 504
    [call] = admin.get("/calls", params={"program": "PPS370MI", "transaction": "AddHead"}).json()
    assert (call["outcome"], call["status"]) == ("lost_answer", 504)
    puno = call["response"]["PUNO"]
    # What m3bng does with an ambiguous interface write: drop the entry, start afresh.
    v2_record(m3, "PPS370MI", "DeleteEntry", MSGN=msgn)
    _, fresh = place_po(m3, [(1, "TYRE-28", "1", "8")])
    assert fresh != puno
    assert admin.get("/purchase-orders").json()[0]["PUNO"] == fresh
    assert len(admin.get("/purchase-orders").json()) == 1


def test_lost_answer_rate_covers_the_new_writes(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post(
        "/knobs", json={"lost_answer_rate": 1.0, "lost_answer_transactions": ["PPS370MI", "APS450MI"]}
    ).raise_for_status()

    start = m3.get("/v2/execute/PPS370MI/StartEntry", params={"BAOR": "BNG"})
    read = m3.get("/v2/execute/PPS200MI/GetHead", params={"PUNO": "4000000001"})

    assert start.status_code == 504
    assert read.status_code == 400  # reads never lose their answer
    [call] = admin.get("/calls", params={"transaction": "StartEntry"}).json()
    assert call["outcome"] == "lost_answer"
