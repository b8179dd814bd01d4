"""Parsing, trimming and URL form of single v1/v2 calls."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import httpx
import pytest
from structlog.testing import capture_logs

from clients.m3 import IonApiFile, M3Client, M3ProtocolError
from tests.clients_m3.conftest import M3_PATH, FakeGateway, recorded_response

GET_BASIC_DATA_V1 = f"{M3_PATH}/execute/CRS610MI/GetBasicData"
GET_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/GetHead"
LST_BY_NUMBER_V2 = f"{M3_PATH}/v2/execute/CRS610MI/LstByNumber"


async def test_v1_name_values_are_parsed_and_right_trimmed(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_BASIC_DATA_V1, recorded_response("v1_crs610mi_getbasicdata_ok"))
    (record,) = await m3.execute_v1("CRS610MI", "GetBasicData", {"CUNO": "C000000001"})
    assert record == {
        "CONO": "100",
        "DIVI": "AAA",
        "CUNO": "C000000001",
        "CUNM": "Jane Doe Cycling GmbH",
        "CUA1": "Hauptstrasse 1",
        "TOWN": "Berlin",
        "STAT": "20",
        "CUCD": "EUR",
        "LMDT": "20261124",
        "MAIL": "jane.doe@example.test",
    }


async def test_v2_flat_records_are_right_trimmed(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_HEAD_V2, recorded_response("v2_ois100mi_gethead_ok"))
    head = await m3.get_one("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert head["CUNO"] == "C000000001"
    assert head["CUOR"] == "BNG-10001"
    assert head["YREF"] == ""
    assert (head["ORSL"], head["ORST"], head["NTAM"]) == ("33", "33", "149.80")


async def test_v2_url_has_tenant_path_matrix_params_company_and_controls(
    m3: M3Client, gateway: FakeGateway
) -> None:
    gateway.add(
        "GET", LST_BY_NUMBER_V2, httpx.Response(200, json={"results": [], "nrOfFailedTransactions": 0})
    )
    records = await m3.execute(
        "CRS610MI",
        "LstByNumber",
        {
            "CUNO": "A B+C&D/é",
            "LMTS": None,
            "QTY": Decimal("1.50"),
            "BIG": Decimal("1E+2"),
            "DATE": date(2026, 11, 4),
        },
        maxrecs=5,
        returncols=["CUNO", "CUNM"],
    )
    assert records == []
    (request,) = gateway.calls(LST_BY_NUMBER_V2)
    assert request.url.host == "mingle-ionapi.example.test"
    assert request.url.raw_path.decode() == (
        "/M3BNG_TST/M3/m3api-rest/v2/execute/CRS610MI/LstByNumber;maxrecs=5;returncols=CUNO,CUNM"
        "?CONO=100&DIVI=AAA&CUNO=A%20B%2BC%26D%2F%C3%A9&QTY=1.50&BIG=100&DATE=20261104"
        "&dateformat=YMD8&righttrim=true"
    )
    assert request.url.params["CUNO"] == "A B+C&D/é"


async def test_v1_url_has_no_v2_segment_and_caller_cono_wins(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_BASIC_DATA_V1, recorded_response("v1_crs610mi_getbasicdata_ok"))
    await m3.execute_v1("CRS610MI", "GetBasicData", {"CONO": 200, "CUNO": "C1"})
    (request,) = gateway.calls(GET_BASIC_DATA_V1)
    assert request.url.raw_path.decode() == (
        "/M3BNG_TST/M3/m3api-rest/execute/CRS610MI/GetBasicData"
        "?DIVI=AAA&CONO=200&CUNO=C1&dateformat=YMD8&righttrim=true"
    )


async def test_without_configured_company_nothing_is_added(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_HEAD_V2, recorded_response("v2_ois100mi_gethead_ok"))
    async with M3Client(ionapi, transport=gateway.transport) as client:
        await client.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    (request,) = gateway.calls(GET_HEAD_V2)
    assert request.url.query.decode() == "ORNO=1&dateformat=YMD8&righttrim=true"


@pytest.mark.parametrize(
    ("value", "error"),
    [(True, TypeError), (1.5, TypeError), (datetime(2026, 1, 1), TypeError), (Decimal("NaN"), ValueError)],
)
async def test_ambiguous_values_are_rejected_before_any_call(
    m3: M3Client, gateway: FakeGateway, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await m3.execute("OIS100MI", "GetHead", {"ORNO": value})  # type: ignore[dict-item]
    assert gateway.requests == []


async def test_get_one_without_records_is_a_protocol_error(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add(
        "GET", GET_HEAD_V2, httpx.Response(200, json={"results": [{"transaction": "GetHead", "records": []}]})
    )
    with pytest.raises(M3ProtocolError, match="no record"):
        await m3.get_one("OIS100MI", "GetHead", {"ORNO": "1"})


async def test_logs_carry_field_names_never_values_or_tokens(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_BASIC_DATA_V1, recorded_response("v1_crs610mi_getbasicdata_ok"))
    with capture_logs() as logs:
        await m3.execute_v1(
            "CRS610MI", "GetBasicData", {"CUNO": "C000000001", "MAIL": "jane.doe@example.test"}
        )
    (call,) = [entry for entry in logs if entry["event"] == "m3.call"]
    assert call["program"] == "CRS610MI"
    assert call["transaction"] == "GetBasicData"
    assert call["fields"] == ["CUNO", "MAIL"]
    assert call["attempt"] == 1
    assert isinstance(call["duration_ms"], float)
    text = repr(logs)
    for secret in ("C000000001", "jane.doe", "recorded-access-token", "DO-NOT-LOG", "saak-"):
        assert secret not in text
