"""The m3api-rest wire format: v1, v2 and bulk, OK and NOK (m3-api.md §1)."""

from __future__ import annotations

import httpx

from tests.sandbox_m3.conftest import v1_records


def test_v1_ok_pads_alpha_fields_and_carries_metadata(m3: httpx.Client) -> None:
    response = m3.get("/execute/MMS200MI/GetItmBasic", params={"ITNO": "HELMET-M", "CONO": "100"})

    assert response.status_code == 200
    body = response.json()
    assert body["Program"] == "MMS200MI"
    assert body["Transaction"] == "GetItmBasic"
    fields = {f["@name"]: f for f in body["Metadata"]["Field"]}
    assert fields["ITDS"] == {"@name": "ITDS", "@type": "A", "@length": 30, "@description": "Name"}
    assert body["MIRecord"][0]["RowIndex"] == 0
    record = v1_records(body)[0]
    assert record["ITNO"] == "HELMET-M".ljust(15)
    assert record["ITDS"] == "Helmet size M".ljust(30)
    assert record["STAT"] == "20"
    assert record["MABU"] == "2"  # N-fields are strings too, unpadded


def test_v1_righttrim_and_matrix_params(m3: httpx.Client) -> None:
    response = m3.get(
        "/execute/CRS610MI/LstByNumber;maxrecs=2;returncols=CUNO,CUNM,STAT", params={"righttrim": "true"}
    )

    body = response.json()
    assert [f["@name"] for f in body["Metadata"]["Field"]] == ["CUNO", "CUNM", "STAT"]
    assert v1_records(body) == [
        {"CUNO": "C000000001", "CUNM": "Velo Shop Berlin", "STAT": "20"},
        {"CUNO": "C000000002", "CUNM": "Pedal Partners Ltd", "STAT": "20"},
    ]


def test_v1_excludempty_and_no_metadata(m3: httpx.Client) -> None:
    body = m3.get(
        "/execute/CRS610MI/GetBasicData;metadata=false;excludempty=true;returncols=CUNO,CUA2,TOWN",
        params={"CUNO": "C000000002", "righttrim": "true"},
    ).json()

    assert "Metadata" not in body
    assert v1_records(body) == [{"CUNO": "C000000002", "TOWN": "London"}]


def test_v1_nok_is_http_200_with_padded_message(m3: httpx.Client) -> None:
    response = m3.get("/execute/MMS200MI/GetItmBasic", params={"ITNO": "SCOOTER-X"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"@type", "@code", "@field", "@cfg", "Message"}
    assert body["@type"] == "ServerReturnedNOK"
    assert body["@code"] == "WIT0203"
    assert body["@field"] == "ITNO"
    assert body["@cfg"] is None
    assert body["Message"].rstrip() == "Item number SCOOTER-X does not exist"
    assert len(body["Message"]) == 130


def test_other_company_is_not_authorized(m3: httpx.Client) -> None:
    as_field = m3.get("/execute/CRS610MI/GetBasicData", params={"CUNO": "C000000001", "CONO": "200"}).json()
    as_matrix = m3.get("/execute/CRS610MI/GetBasicData;cono=300", params={"CUNO": "C000000001"}).json()

    assert (as_field["@code"], as_field["@field"]) == ("XAU0008", "CONO")
    assert as_field["Message"].rstrip() == "Not authorized for company 200"
    assert as_matrix["Message"].rstrip() == "Not authorized for company 300"


def test_unknown_transaction_missing_field_and_too_long(m3: httpx.Client) -> None:
    unknown = m3.get("/execute/OIS100MI/AddHead", params={"CUNO": "C000000001"}).json()
    missing = m3.get("/execute/OIS100MI/AddBatchLine", params={"ORNO": "9000000001"}).json()
    too_long = m3.get("/execute/CRS610MI/GetBasicData", params={"CUNO": "C0000000001234"}).json()

    assert unknown["@type"] == "TransactionNotFound"
    assert "AddHead" in unknown["Message"]
    assert (missing["@type"], missing["@field"]) == ("MandatoryInputFieldNotFound", "ITNO")
    assert (too_long["@type"], too_long["@field"]) == ("InputFieldTooLong", "CUNO")


def test_v2_ok_has_flat_records_and_counters(m3: httpx.Client) -> None:
    response = m3.get("/v2/execute/MMS200MI/GetItmWhsBal", params={"WHLO": "100", "ITNO": "LOCK-U"})

    assert response.status_code == 200
    body = response.json()
    assert body["wasTerminated"] is False
    assert body["nrOfSuccessfullTransactions"] == 1
    assert body["nrOfFailedTransactions"] == 0
    [result] = body["results"]
    assert result["transaction"] == "GetItmWhsBal"
    [record] = result["records"]
    assert (record["WHLO"], record["STQT"], record["ALQT"], record["AV01"]) == ("100", "500", "0", "500")


def test_v2_error_is_http_400_with_top_level_error(m3: httpx.Client) -> None:
    response = m3.get("/v2/execute/OIS100MI/AddBatchHead", params={"CUNO": "C000000003"})

    assert response.status_code == 400
    body = response.json()
    assert body["errorType"] == "ServerReturnedNOK"
    assert body["errorCode"] == "WCU0210"
    assert body["errorField"] == "CUNO"
    assert body["errorMessage"] == "Customer number C000000003 is blocked"
    assert body["nrOfFailedTransactions"] == 1


def test_bulk_continues_after_a_failed_transaction(m3: httpx.Client) -> None:
    response = m3.post(
        "/v2/execute",
        params={"righttrim": "true"},
        json={
            "program": "MMS200MI",
            "cono": 100,
            "transactions": [
                {
                    "transaction": "GetItmBasic",
                    "record": {"ITNO": "HELMET-M"},
                    "selectedColumns": ["ITNO", "ITDS"],
                },
                {"transaction": "GetItmBasic", "record": {"ITNO": "SCOOTER-X"}, "selectedColumns": []},
                {"transaction": "GetItmBasic", "record": {"ITNO": "LOCK-U"}, "selectedColumns": ["ITDS"]},
            ],
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["nrOfSuccessfullTransactions"], body["nrOfFailedTransactions"]) == (2, 1)
    first, failed, last = body["results"]
    assert first["records"] == [{"ITNO": "HELMET-M", "ITDS": "Helmet size M"}]
    assert failed["errorMessage"] == "Item number SCOOTER-X does not exist"
    assert (failed["errorCode"], failed["errorField"], failed["errorType"]) == (
        "WIT0203",
        "ITNO",
        "ServerReturnedNOK",
    )
    assert failed["notProcessed"] is False
    assert "records" not in failed
    assert last["records"] == [{"ITDS": "U-lock"}]


def test_direct_path_without_gateway_prefix_works_too(m3: httpx.Client) -> None:
    direct = str(m3.base_url).rstrip("/").replace("/M3BNG_TST/M3/m3api-rest", "/m3api-rest")
    response = httpx.get(
        f"{direct}/v2/execute/CRS610MI/GetBasicData",
        params={"CUNO": "C000000002", "righttrim": "true"},
        headers={"Authorization": m3.headers["Authorization"]},
    )

    assert response.json()["results"][0]["records"][0]["CUNM"] == "Pedal Partners Ltd"


def test_partial_list_failure_returns_rows_and_error_message(m3: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/knobs", json={"partial_list_error_after": 3}).raise_for_status()

    body = m3.get("/execute/MMS200MI/LstItmByItm;returncols=ITNO", params={"righttrim": "true"}).json()

    assert [r["ITNO"] for r in v1_records(body)] == ["BIKE-BLU-28", "BIKE-OLD-24", "BIKE-RED-26"]
    error = body["ErrorMessage"]
    assert error["@type"] == "ServerReturnedNOK"
    assert set(error) == {"@type", "@code", "@field", "@cfg", "Message"}
    assert "interrupted after 3 records" in error["Message"]
