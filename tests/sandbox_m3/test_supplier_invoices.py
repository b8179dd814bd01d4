"""APS450MI supplier invoices and APS455MI/ValidByBatchNo: the three-way match with the sandbox's
tolerances, SUPA 10/15/20, the PO lines' invoiced quantity, duplicate SINO, and a lost AddHead."""

from __future__ import annotations

import json

import httpx

from tests.sandbox_m3.conftest import (
    SUPPLIER,
    add_supplier,
    place_po,
    receive_po,
    v2_error,
    v2_record,
    v2_records,
)


def _received_po(m3: httpx.Client) -> str:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "20", "2.10")])
    receive_po(m3, puno, [(1, "TYRE-28", "10"), (2, "TUBE-28", "20")])
    return puno


def _invoice(m3: httpx.Client, sino: str, cuam: str, vtam: str = "0", **extra: str) -> str:
    fields = {"SUNO": SUPPLIER, "IVDT": "20260310", "SINO": sino, "IBTP": "20", "IMCD": "1", "CUCD": "EUR"}
    return v2_record(m3, "APS450MI", "AddHead", **fields, CUAM=cuam, VTAM=vtam, **extra)["INBN"]


def _receipt_line(m3: httpx.Client, inbn: str, puno: str, pnli: int, ivqa: str, grpr: str) -> str:
    fields = {
        "INBN": inbn,
        "RDTP": "1",
        "PUNO": puno,
        "PNLI": str(pnli),
        "PNLS": "0",
        "IVQA": ivqa,
        "GRPR": grpr,
    }
    return v2_record(m3, "APS450MI", "AddLine", **fields)["TRNO"]


def _validate(m3: httpx.Client, inbn: str) -> dict[str, str]:
    v2_record(m3, "APS455MI", "ValidByBatchNo", INBN=inbn, DIVI="AAA")
    return v2_record(m3, "APS450MI", "GetHead", INBN=inbn)


def test_a_matching_invoice_is_validated_and_closes_the_po(m3: httpx.Client, admin: httpx.Client) -> None:
    puno = _received_po(m3)
    inbn = _invoice(m3, "INV-1", "151.13", "24.13", CORI="bng-si-1")  # 85.00 + 42.00 + 19% VAT
    _receipt_line(m3, inbn, puno, 1, "10", "8.50")
    _receipt_line(m3, inbn, puno, 2, "20", "2.10")

    assert v2_record(m3, "APS450MI", "GetHead", INBN=inbn)["SUPA"] == "10"
    head = _validate(m3, inbn)

    assert (head["SUPA"], head["IBHE"], head["IBLE"], head["CORI"], head["TLNA"]) == (
        "20",
        "0",
        "0",
        "bng-si-1",
        "127.00",
    )
    assert head["VONO"] != "0"
    lines = {r["PNLI"]: r for r in v2_records(m3, "PPS200MI", "LstLine", PUNO=puno)}
    assert [(lines[n]["IVQA"], lines[n]["PUSL"]) for n in ("1", "2")] == [("10", "85"), ("20", "85")]
    assert v2_record(m3, "PPS200MI", "GetHead", PUNO=puno)["PUSL"] == "85"
    versions = [m["variationId"] for m in admin.get("/outbox").json() if m["documentId"] == puno]
    assert versions == [1, 2, 3]  # placed, received, invoiced
    again = v2_error(m3, "APS455MI", "ValidByBatchNo", INBN=inbn)
    assert again["errorMessage"] == f"Invoice batch number {inbn} is already validated"
    assert (
        v2_error(m3, "APS450MI", "AddLine", INBN=inbn, RDTP="8", NLAM="1", AIT1="4090")["errorField"]
        == "INBN"
    )


def test_price_variance_out_of_tolerance_and_the_4090_line_that_fixes_it(
    m3: httpx.Client, admin: httpx.Client
) -> None:
    puno = _received_po(m3)
    # 9.00 instead of 8.50: 5.00 on the line (within 5.00) but 5.9 % (beyond 2 %): out.
    high = _invoice(m3, "INV-2", "90.00")
    trno = _receipt_line(m3, high, puno, 1, "10", "9.00")
    head = _validate(m3, high)
    [line] = v2_records(m3, "APS450MI", "LstLines", INBN=high)

    assert (head["SUPA"], head["IBHE"], head["IBLE"]) == ("15", "0", "1")
    assert (line["TRNO"], line["IBLE"], line["NLAM"]) == (trno, "1", "90.00")
    report = admin.get(f"/supplier-invoices/{high}").json()["match"]
    assert report[trno] == [
        "price 9.00 differs from the order price 8.50 by 0.50 per unit (5.00 on the line)"
    ]
    assert v2_record(m3, "PPS200MI", "GetLine", PUNO=puno, PNLI="1")["IVQA"] == "0"

    # The same invoice entered with the receipt line at the PO price and the difference on 4090.
    fixed = _invoice(m3, "INV-2B", "90.00")
    _receipt_line(m3, fixed, puno, 1, "10", "8.50")
    v2_record(
        m3, "APS450MI", "AddLine", INBN=fixed, RDTP="8", NLAM="5.00", AIT1="4090", VTXT="Price variance"
    )
    assert _validate(m3, fixed)["SUPA"] == "20"
    assert v2_record(m3, "PPS200MI", "GetLine", PUNO=puno, PNLI="1")["IVQA"] == "10"


def test_small_price_variance_is_within_tolerance(m3: httpx.Client, admin: httpx.Client) -> None:
    puno = _received_po(m3)
    inbn = _invoice(m3, "INV-3", "85.50")  # 8.55: 0.6 % and 0.50 on the line
    _receipt_line(m3, inbn, puno, 1, "10", "8.55")
    assert _validate(m3, inbn)["SUPA"] == "20"


def test_quantity_and_invoice_amount_variances(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    _, puno = place_po(m3, [(1, "TYRE-28", "10", "8.50"), (2, "TUBE-28", "20", "2.10")])
    receive_po(m3, puno, [(1, "TYRE-28", "6")])

    over = _invoice(m3, "INV-4", "61.60")
    over_line = _receipt_line(m3, over, puno, 1, "7", "8.50")  # 7 invoiced, 6 received
    not_received = _receipt_line(m3, over, puno, 2, "1", "2.10")
    amount = _invoice(m3, "INV-5", "80.00")  # lines 51.00: 29.00 off
    _receipt_line(m3, amount, puno, 1, "6", "8.50")

    over_head, amount_head = _validate(m3, over), _validate(m3, amount)
    report = admin.get(f"/supplier-invoices/{over}").json()["match"]

    assert (over_head["SUPA"], over_head["IBLE"]) == ("15", "1")
    assert report[over_line] == ["invoiced quantity 7 differs from the received, not invoiced quantity 6"]
    assert report[not_received] == [f"no received quantity left to invoice on line {puno}/2"]
    assert (amount_head["SUPA"], amount_head["IBHE"], amount_head["IBLE"]) == ("15", "1", "0")
    # A receipt later, the invoice at 15 is validated again and matches.
    receive_po(m3, puno, [(1, "TYRE-28", "1"), (2, "TUBE-28", "1")], pmsn="GR-2")
    over_again = _validate(m3, over)
    assert (over_again["SUPA"], over_again["IBLE"]) == ("20", "0")


def test_duplicate_sino_and_line_refusals(m3: httpx.Client, admin: httpx.Client) -> None:
    puno = _received_po(m3)
    add_supplier(m3, "S000000002")
    inbn = _invoice(m3, "INV-6", "85.00")

    duplicate = v2_error(
        m3, "APS450MI", "AddHead", SUNO=SUPPLIER, IVDT="20260310", SINO="INV-6", CUAM="85.00"
    )
    other = v2_record(m3, "APS450MI", "AddHead", SUNO="S000000002", IVDT="20260310", SINO="INV-6")["INBN"]
    wrong_supplier = v2_error(m3, "APS450MI", "AddLine", INBN=other, RDTP="1", PUNO=puno, PNLI="1", IVQA="1")
    wrong_item = v2_error(
        m3, "APS450MI", "AddLine", INBN=inbn, RDTP="1", PUNO=puno, PNLI="1", IVQA="1", ITNO="LOCK-U"
    )
    no_account = v2_error(m3, "APS450MI", "AddLine", INBN=inbn, RDTP="8", NLAM="5")
    bad_account = v2_error(m3, "APS450MI", "AddLine", INBN=inbn, RDTP="8", NLAM="5", AIT1="9999")
    bad_type = v2_error(m3, "APS450MI", "AddLine", INBN=inbn, RDTP="4")
    empty = v2_error(m3, "APS455MI", "ValidByBatchNo", INBN=inbn)

    assert (duplicate["errorField"], duplicate["errorMessage"]) == (
        "SINO",
        f"Supplier invoice number INV-6 already exists for supplier {SUPPLIER} in invoice batch {inbn}",
    )
    assert wrong_supplier["errorMessage"] == f"Purchase order number {puno} is not from supplier S000000002"
    assert wrong_item["errorCode"] == "WIT0101"
    assert (no_account["errorType"], no_account["errorField"]) == ("MandatoryInputFieldNotFound", "AIT1")
    assert bad_account["errorMessage"] == "Accounting dimension 9999 does not exist"
    assert bad_type["errorField"] == "RDTP"
    assert empty["errorMessage"] == f"Invoice batch number {inbn} has no lines"
    found = v2_records(m3, "APS450MI", "LstInvBySupInv", SUNO=SUPPLIER, SINO="INV-6")
    assert found == [{"INBN": inbn, "IBTP": "20", "SUPA": "10"}]
    assert v2_records(m3, "APS450MI", "LstInvBySupInv", SPYN=SUPPLIER, SUNO=SUPPLIER, SINO="NONE") == []


def test_lost_answer_on_add_head_commits_once(m3: httpx.Client, admin: httpx.Client) -> None:
    add_supplier(m3)
    admin.post(
        "/faults", json={"program": "APS450MI", "transaction": "AddHead", "status": 504, "after_commit": True}
    ).raise_for_status()
    fields = {"SUNO": SUPPLIER, "IVDT": "20260310", "SINO": "INV-LOST", "CUAM": "10", "CORI": "bng-si-9"}

    lost = m3.get("/v2/execute/APS450MI/AddHead", params=fields)
    retried = m3.get("/v2/execute/APS450MI/AddHead", params=fields)

    assert lost.status_code == 504
    assert retried.status_code == 400
    first, second = admin.get("/calls", params={"program": "APS450MI", "transaction": "AddHead"}).json()
    assert (first["outcome"], second["outcome"]) == ("lost_answer", "nok")
    inbn = first["response"]["INBN"]
    assert inbn in retried.json()["errorMessage"]
    [found] = v2_records(m3, "APS450MI", "LstInvBySupInv", SUNO=SUPPLIER, SINO="INV-LOST")
    assert found["INBN"] == inbn
    assert v2_record(m3, "APS450MI", "GetHead", INBN=inbn)["CORI"] == "bng-si-9"
    assert len(admin.get("/supplier-invoices").json()) == 1
    assert json.loads(json.dumps(admin.get(f"/supplier-invoices/{inbn}").json()["match"])) == {}
