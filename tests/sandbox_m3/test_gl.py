"""GLS840MI journals through the sandbox's GLS850 interface BNGJOURNAL, and GLS200MI to find the
posted voucher by its date and voucher text (which starts with KEY1)."""

from __future__ import annotations

import httpx

from tests.sandbox_m3.conftest import v2_error, v2_record, v2_records

DAY = "20260115"


def parm(
    ait1: str, cuam: str, ait2: str = "", acdt: str = DAY, cucd: str = "EUR", vtxt: str = "", vdsc: str = ""
) -> str:
    """ACDT 1-8, AIT1 9-16, AIT2 17-24, CUCD 25-27, CUAM 28-44 (right-aligned), VTXT 45-84, VDSC 85-114."""
    return f"{acdt:<8}{ait1:<8}{ait2:<8}{cucd:<3}{cuam:>17}{vtxt:<40}{vdsc:<30}"


def add_batch(m3: httpx.Client, key1: str, lines: list[str]) -> None:
    v2_record(m3, "GLS840MI", "AddBatchHead", KEY1=key1, INTN="BNGJOURNAL", DESC="BNG journal", DIVI="AAA")
    for number, line in enumerate(lines, start=1):
        v2_record(m3, "GLS840MI", "AddBatchLine", KEY1=key1, LINE=str(number), PARM=line, DIVI="AAA")


def test_a_balanced_journal_is_posted_as_one_voucher(m3: httpx.Client, admin: httpx.Client) -> None:
    text = "JRN-1 Office supplies"
    add_batch(
        m3,
        "JRN-1",
        [
            parm("6110", "100.00", "900", vtxt=text, vdsc="Office"),
            parm("6540", "23.50", "900", vtxt=text),
            parm("1910", "-123.50", vtxt=text),
        ],
    )

    assert v2_record(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-1") == {"CONO": "100"}
    assert admin.get("/gl/batches").json()[0]["KEY1"] == "JRN-1"
    v2_record(m3, "GLS840MI", "UpdBatch", KEY1="JRN-1")

    rows = v2_records(m3, "GLS200MI", "LstVouchersByDt", FRDT=DAY, TODT=DAY, DIVI="AAA")
    assert [(r["AIT1"], r["AIT2"], r["CUAM"], r["DBCR"], r["VTXT"]) for r in rows] == [
        ("6110", "900", "100.00", "D", text),
        ("6540", "900", "23.50", "D", text),
        ("1910", "", "-123.50", "C", text),
    ]
    vono, yea4 = rows[0]["VONO"], rows[0]["YEA4"]
    assert {r["VONO"] for r in rows} == {vono} and yea4 == "2026"
    head = v2_record(m3, "GLS200MI", "GetVoucherHead", DIVI="AAA", YEA4=yea4, VONO=vono)
    assert (head["DSUM"], head["CSUM"], head["CUCD"], head["VDSC"]) == ("123.50", "-123.50", "EUR", "Office")
    assert len(v2_records(m3, "GLS200MI", "LstVoucherLines", DIVI="AAA", YEA4=yea4, VONO=vono)) == 3
    # The interface rows are gone: the batch cannot be posted twice, and its KEY1 is free again
    # (M3 keeps no history there), so a retry must look for the voucher first.
    assert admin.get("/gl/batches").json() == []
    assert (
        v2_error(m3, "GLS840MI", "UpdBatch", KEY1="JRN-1")["errorMessage"] == "Key value JRN-1 does not exist"
    )
    assert [v["KEY1"] for v in admin.get("/gl/vouchers").json()] == ["JRN-1"]
    assert v2_records(m3, "GLS200MI", "LstVouchersByDt", FRDT="20260116", TODT="20260131") == []
    missing = v2_error(m3, "GLS200MI", "GetVoucherHead", DIVI="AAA", YEA4="2026", VONO="1")
    assert missing["errorField"] == "VONO"


def test_ctrl_batch_names_each_failing_line(m3: httpx.Client, admin: httpx.Client) -> None:
    add_batch(
        m3,
        "JRN-2",
        [
            parm("6110", "100.00", "900"),
            parm("9999", "10.00"),
            parm("6110", "5.00", "555"),
            parm("1910", "-100.00", acdt="20251231"),
            parm("1910", "abc"),
        ],
    )

    error = v2_error(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-2")
    posting = v2_error(m3, "GLS840MI", "UpdBatch", KEY1="JRN-2")

    assert (error["errorField"], error["errorMessage"]) == (
        "KEY1",
        "Key value JRN-2 has errors: line 2: account 9999 does not exist; "
        "line 3: cost centre 555 does not exist; line 4: accounting date 20251231 is in a closed period; "
        "line 5: amount 'abc' is not numeric; currency EUR does not balance, difference 15.00",
    )
    assert posting["errorMessage"] == error["errorMessage"]
    assert admin.get("/gl/vouchers").json() == []


def test_unbalanced_and_mixed_dates(m3: httpx.Client, admin: httpx.Client) -> None:
    add_batch(m3, "JRN-3", [parm("6110", "100.00"), parm("1910", "-99.00", acdt="20260116")])
    error = v2_error(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-3")["errorMessage"]
    assert error == (
        "Key value JRN-3 has errors: line 2: accounting date 20260116 differs from line 1; "
        "currency EUR does not balance, difference 1.00"
    )


def test_batch_head_and_line_refusals(m3: httpx.Client, admin: httpx.Client) -> None:
    add_batch(m3, "JRN-4", [parm("6110", "1.00")])

    same_key = v2_error(m3, "GLS840MI", "AddBatchHead", KEY1="JRN-4", INTN="BNGJOURNAL", DESC="again")
    same_line = v2_error(m3, "GLS840MI", "AddBatchLine", KEY1="JRN-4", LINE="1", PARM=parm("1910", "-1.00"))
    no_head = v2_error(m3, "GLS840MI", "AddBatchLine", KEY1="NOPE", LINE="1", PARM=parm("1910", "-1.00"))
    interface = v2_error(m3, "GLS840MI", "AddBatchHead", KEY1="JRN-5", INTN="OTHER", DESC="x")
    short = v2_record(m3, "GLS840MI", "AddBatchLine", KEY1="JRN-4", LINE="2", PARM="20260115")
    short_error = v2_error(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-4")

    assert (same_key["errorCode"], same_key["errorField"], same_key["errorMessage"]) == (
        "XRE0103",
        "KEY1",
        "Record already exists",
    )
    assert (same_line["errorCode"], same_line["errorField"]) == ("XRE0103", "LINE")
    assert no_head["errorMessage"] == "Key value NOPE does not exist"
    assert interface["errorMessage"] == "Interface OTHER does not exist"
    assert short == {"CONO": "100"}
    assert "line 2: parameter has 8 positions, 44 needed" in short_error["errorMessage"]


def test_closed_period_follows_the_config(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/config", json={"gl_open_from": "2026-02-01"}).raise_for_status()
    try:
        add_batch(m3, "JRN-6", [parm("6110", "1.00"), parm("1910", "-1.00")])
        error = v2_error(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-6")["errorMessage"]
    finally:
        admin.post("/config", json={"gl_open_from": "2026-01-01"}).raise_for_status()
    assert "line 1: accounting date 20260115 is in a closed period" in error
    assert v2_record(m3, "GLS840MI", "CtrlBatch", KEY1="JRN-6") == {"CONO": "100"}


def test_lost_answer_on_upd_batch_voucher_found_by_its_text(m3: httpx.Client, admin: httpx.Client) -> None:
    add_batch(
        m3,
        "JRN-7",
        [parm("7010", "50.00", "100", vtxt="JRN-7 Salaries"), parm("1910", "-50.00", vtxt="JRN-7")],
    )
    admin.post(
        "/faults",
        json={"program": "GLS840MI", "transaction": "UpdBatch", "status": 503, "after_commit": True},
    ).raise_for_status()

    assert m3.get("/v2/execute/GLS840MI/UpdBatch", params={"KEY1": "JRN-7"}).status_code == 503

    rows = v2_records(m3, "GLS200MI", "LstVouchersByDt", FRDT=DAY, TODT=DAY)
    mine = {r["VONO"] for r in rows if r["VTXT"].startswith("JRN-7")}
    assert len(mine) == 1
    [call] = admin.get("/calls", params={"transaction": "UpdBatch"}).json()
    assert call["outcome"] == "lost_answer"
