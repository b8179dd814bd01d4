"""ARS040MI payment batches against invoices the lifecycle created; ARS200MI shows the open amount."""

from __future__ import annotations

import httpx

from tests.sandbox_m3.conftest import place_order, v2_record


def _invoiced_order(m3: httpx.Client, admin: httpx.Client) -> dict[str, str]:
    _, orno = place_order(m3, "BNG-PAY", [("LOCK-U", "2")])
    for _ in range(4):
        admin.post(f"/orders/{orno}/advance").raise_for_status()
    return v2_record(m3, "OIS350MI", "LstInvHeadByCo", ORNO=orno)


def test_posting_a_payment_batch_lowers_the_open_amount(m3: httpx.Client, admin: httpx.Client) -> None:
    invoice = _invoiced_order(m3, admin)  # 2 x 34.50 = 69.00 + 19% = 82.11
    key = {"CUNO": "C000000001", "CINO": invoice["IVNO"], "INYR": invoice["YEA4"]}
    before = v2_record(m3, "ARS200MI", "GetInvoice", **key)

    v2_record(m3, "ARS040MI", "AddBatchHead", PBID="4711", BOPE="BNG", DIVI="AAA")
    v2_record(m3, "ARS040MI", "AddBatchLine", PBID="4711", TRNO="1", PYAM="50.00", **key)
    v2_record(m3, "ARS040MI", "ControlBatch", PBID="4711")
    after = v2_record(m3, "ARS200MI", "GetInvoice", **key)

    assert (before["CUAM"], before["OPAM"]) == ("82.11", "82.11")
    assert (after["CUAM"], after["OPAM"]) == ("82.11", "32.11")
    again = m3.get("/v2/execute/ARS040MI/ControlBatch", params={"PBID": "4711"})
    assert again.status_code == 400
    assert again.json()["errorMessage"] == "Payment batch 4711 is already posted"


def test_payment_batch_errors(m3: httpx.Client, admin: httpx.Client) -> None:
    invoice = _invoiced_order(m3, admin)
    v2_record(m3, "ARS040MI", "AddBatchHead", PBID="1", BOPE="BNG")
    line = {"PBID": "1", "TRNO": "1", "CUNO": "C000000001", "CINO": invoice["IVNO"], "INYR": invoice["YEA4"]}
    v2_record(m3, "ARS040MI", "AddBatchLine", PYAM="1", **line)

    same_batch = m3.get("/execute/ARS040MI/AddBatchHead", params={"PBID": "1", "BOPE": "BNG"}).json()
    same_line = m3.get("/execute/ARS040MI/AddBatchLine", params={**line, "PYAM": "1"}).json()
    wrong_customer = m3.get(
        "/execute/ARS040MI/AddBatchLine", params={**line, "TRNO": "2", "CUNO": "C000000002", "PYAM": "1"}
    ).json()

    assert (same_batch["@code"], same_batch["@field"], same_batch["Message"].strip()) == (
        "XRE0103",
        "PBID",
        "Record already exists",
    )
    assert (same_line["@code"], same_line["@field"]) == ("XRE0103", "TRNO")
    assert wrong_customer["@field"] == "CINO"
    assert "does not exist for customer C000000002" in wrong_customer["Message"]
