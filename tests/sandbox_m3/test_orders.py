"""OIS100MI batch entry, Confirm, reading orders, and the lifecycle's effect on stock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.sandbox_m3.conftest import place_order, v1_records, v2_record


def test_batch_entry_and_confirm_give_a_final_order_number(m3: httpx.Client, admin: httpx.Client) -> None:
    temporary, final = place_order(m3, "BNG-10001", [("BIKE-RED-26", "2"), ("HELMET-M", "1")])

    assert temporary == "9000000001"
    assert final == "1000000001"
    head = v2_record(m3, "OIS100MI", "GetHead", ORNO=final)
    assert (head["CUNO"], head["CUOR"], head["ORSL"], head["ORST"]) == ("C000000001", "BNG-10001", "22", "22")
    assert head["NTAM"] == "1557.90"  # 2 x 749.00 + 59.90
    lines = m3.get("/v2/execute/OIS100MI/LstLine", params={"ORNO": final, "righttrim": "true"}).json()
    assert [(r["PONR"], r["ITNO"], r["ORQT"], r["ORST"]) for r in lines["results"][0]["records"]] == [
        ("1", "BIKE-RED-26", "2", "22"),
        ("2", "HELMET-M", "1", "22"),
    ]
    # The batch entry is gone once confirmed.
    gone = m3.get("/v2/execute/OIS100MI/LstBatchLine", params={"ORNO": temporary})
    assert gone.status_code == 400
    assert gone.json()["errorField"] == "ORNO"
    assert [c["outcome"] for c in admin.get("/calls", params={"transaction": "AddBatchHead"}).json()] == [
        "ok"
    ]


def test_lst_batch_head_filters_by_cuor(m3: httpx.Client) -> None:
    v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000001", CUOR="BNG-A")
    v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000002", CUOR="BNG-B")

    body = m3.get("/v2/execute/OIS100MI/LstBatchHead", params={"CUOR": "BNG-B", "righttrim": "true"}).json()

    assert [(r["ORNO"], r["CUNO"]) for r in body["results"][0]["records"]] == [("9000000002", "C000000002")]


def test_unknown_and_blocked_items_are_nok_on_itno(m3: httpx.Client) -> None:
    orno = v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000001")["ORNO"]

    unknown = m3.get(
        "/execute/OIS100MI/AddBatchLine", params={"ORNO": orno, "ITNO": "SCOOTER-X", "ORQT": "1"}
    )
    blocked = m3.get(
        "/execute/OIS100MI/AddBatchLine", params={"ORNO": orno, "ITNO": "BIKE-OLD-24", "ORQT": "1"}
    )

    assert unknown.json()["@field"] == "ITNO"
    assert unknown.json()["Message"].strip() == "Item number SCOOTER-X does not exist"
    assert blocked.json()["@field"] == "ITNO"
    assert "BIKE-OLD-24" in blocked.json()["Message"]


def test_duplicate_line_number_and_confirm_without_lines(m3: httpx.Client) -> None:
    orno = v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000001")["ORNO"]
    empty = m3.get("/execute/OIS100MI/Confirm", params={"ORNO": orno}).json()
    v2_record(m3, "OIS100MI", "AddBatchLine", ORNO=orno, ITNO="LOCK-U", ORQT="1", PONR="10")

    duplicate = m3.get(
        "/execute/OIS100MI/AddBatchLine", params={"ORNO": orno, "ITNO": "LOCK-U", "ORQT": "1", "PONR": "10"}
    ).json()

    assert (empty["@type"], empty["@field"]) == ("ServerReturnedNOK", "ORNO")
    assert (duplicate["@code"], duplicate["@field"]) == ("XRE0103", "PONR")
    assert duplicate["Message"].strip() == "Record already exists"


def test_del_batch_head_removes_head_and_lines(m3: httpx.Client) -> None:
    orno = v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000001", CUOR="BNG-DEL")["ORNO"]
    v2_record(m3, "OIS100MI", "AddBatchLine", ORNO=orno, ITNO="LOCK-U", ORQT="1")

    v2_record(m3, "OIS100MI", "DelBatchHead", ORNO=orno)

    listed = m3.get("/v2/execute/OIS100MI/LstBatchHead", params={"CUOR": "BNG-DEL"}).json()
    assert listed["results"][0]["records"] == []


def test_del_head_only_before_allocation(m3: httpx.Client, admin: httpx.Client) -> None:
    _, deletable = place_order(m3, "BNG-D1", [("LOCK-U", "1")])
    _, allocated = place_order(m3, "BNG-D2", [("LOCK-U", "1")])
    admin.post(f"/orders/{allocated}/advance").raise_for_status()

    assert m3.get("/v2/execute/OIS100MI/DelHead", params={"ORNO": deletable}).status_code == 200
    refused = m3.get("/v2/execute/OIS100MI/DelHead", params={"ORNO": allocated})
    assert refused.status_code == 400
    assert refused.json()["errorMessage"] == f"Order number {allocated} has status 33 and cannot be deleted"
    assert m3.get("/v2/execute/OIS100MI/GetHead", params={"ORNO": deletable}).status_code == 400


def test_lifecycle_moves_stock_and_creates_delivery_and_invoice(
    m3: httpx.Client, admin: httpx.Client
) -> None:
    _, orno = place_order(m3, "BNG-LC", [("HELMET-L", "3")])

    statuses = [admin.post(f"/orders/{orno}/advance").json()["status"] for _ in range(2)]
    allocated = v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO="100", ITNO="HELMET-L")
    statuses += [admin.post(f"/orders/{orno}/advance").json()["status"] for _ in range(2)]
    delivered = v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO="100", ITNO="HELMET-L")
    finished = admin.post(f"/orders/{orno}/advance").json()

    assert statuses == ["33", "44", "66", "77"]
    assert (allocated["STQT"], allocated["ALQT"], allocated["AV01"]) == ("500", "3", "497")
    assert (delivered["STQT"], delivered["ALQT"]) == ("497", "0")
    assert finished["advanced"] is False
    head = v2_record(m3, "OIS100MI", "GetHead", ORNO=orno)
    assert (head["ORSL"], head["ORST"]) == ("77", "77")
    [invoice] = m3.get("/v2/execute/OIS350MI/LstInvHeadByCo", params={"ORNO": orno}).json()["results"][0][
        "records"
    ]
    assert (invoice["IVNO"], invoice["AMT1"], invoice["VTAM"], invoice["IVAM"]) == (
        "700000001",
        "179.70",
        "34.14",
        "213.84",
    )
    delivery = v2_record(m3, "MWS410MI", "GetHead", DLIX=invoice["DLIX"])
    assert (delivery["DLIX"], delivery["IVNO"], delivery["CUOR"]) == ("5000000001", "700000001", "BNG-LC")


def test_customer_add_auto_numbers_and_requires_a_template(m3: httpx.Client) -> None:
    added = m3.get(
        "/execute/CRS610MI/Add",
        params={"CUTM": "TEMPLATE", "CUNM": "New Rider", "CUA1": "Main St 1", "CSCD": "FR", "CUCD": "EUR"},
    )
    no_template = m3.get("/execute/CRS610MI/Add", params={"CUTM": "NOPE", "CUNM": "X", "CUA1": "Y"}).json()

    cuno = v1_records(added.json())[0]["CUNO"]
    assert cuno == "C000000004"
    fetched = v2_record(m3, "CRS610MI", "GetBasicData", CUNO=cuno)
    assert (fetched["CUNM"], fetched["CSCD"], fetched["STAT"]) == ("New Rider", "FR", "20")
    assert (no_template["@field"], no_template["Message"].strip()) == (
        "CUTM",
        "Customer template NOPE does not exist",
    )


def test_chg_basic_data_blocks_a_customer(m3: httpx.Client) -> None:
    v2_record(m3, "CRS610MI", "ChgBasicData", CUNO="C000000002", STAT="90")

    refused = m3.get("/v2/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000002"})

    assert refused.json()["errorMessage"] == "Customer number C000000002 is blocked"


def test_item_add_and_update(m3: httpx.Client) -> None:
    v2_record(
        m3,
        "MMS200MI",
        "AddItmBasic",
        STAT="20",
        ITNO="BELL-1",
        ITDS="Bell",
        RESP="ME",
        UNMS="EA",
        ITTY="FIN",
        MABU="2",
        PRVG="STD",
    )
    v2_record(m3, "MMS200MI", "UpdItmBasic", ITNO="BELL-1", ITDS="Brass bell")
    again = m3.get(
        "/v2/execute/MMS200MI/AddItmBasic",
        params={
            "STAT": "20",
            "ITNO": "BELL-1",
            "ITDS": "B",
            "RESP": "ME",
            "UNMS": "EA",
            "ITTY": "FIN",
            "MABU": "2",
            "PRVG": "STD",
        },
    )

    assert v2_record(m3, "MMS200MI", "GetItmBasic", ITNO="BELL-1")["ITDS"] == "Brass bell"
    assert (again.status_code, again.json()["errorCode"]) == (400, "XRE0103")


def test_concurrent_batch_entries_get_distinct_order_numbers(m3: httpx.Client) -> None:
    def add_head(index: int) -> str:
        return v2_record(m3, "OIS100MI", "AddBatchHead", CUNO="C000000001", CUOR=f"BNG-C{index}")["ORNO"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(add_head, range(24)))

    assert sorted(numbers) == [str(9000000001 + i) for i in range(24)]


def test_lst_head_lists_orders_of_a_customer(m3: httpx.Client) -> None:
    _, first = place_order(m3, "BNG-L1", [("LOCK-U", "1")])
    _, second = place_order(m3, "BNG-L2", [("LOCK-U", "1")])

    body = m3.get("/v2/execute/OIS100MI/LstHead", params={"CUNO": "C000000001", "cono": "100"}).json()

    records = body["results"][0]["records"]
    assert [(r["ORNO"], r["CUOR"].rstrip(), r["ORSL"], r["ORST"]) for r in records] == [
        (first, "BNG-L1", "22", "22"),
        (second, "BNG-L2", "22", "22"),
    ]
