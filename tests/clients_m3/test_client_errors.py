"""Every failure form maps to exactly one exception class, and business errors are never retried."""

from __future__ import annotations

import httpx
import pytest

from clients.m3 import (
    IonApiFile,
    M3AuthError,
    M3BusinessError,
    M3Client,
    M3PartialListError,
    M3ProtocolError,
    M3RateLimitedError,
    M3TransientError,
)
from clients.m3.errors import clean_message
from tests.clients_m3.conftest import M3_PATH, TOKEN_PATH, FakeGateway, Handler, recorded_response

GET_BASIC_DATA_V1 = f"{M3_PATH}/execute/CRS610MI/GetBasicData"
LST_LINE_V1 = f"{M3_PATH}/execute/OIS100MI/LstLine"
ADD_BATCH_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/AddBatchHead"
GET_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/GetHead"


async def test_v1_nok_at_http_200_is_a_business_error_called_once(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", GET_BASIC_DATA_V1, recorded_response("v1_crs610mi_getbasicdata_nok"))
    with pytest.raises(M3BusinessError) as info:
        await m3.execute_v1("CRS610MI", "GetBasicData", {"CUNO": "C999999999"})
    error = info.value
    assert type(error) is M3BusinessError
    assert (error.program, error.transaction) == ("CRS610MI", "GetBasicData")
    assert (error.code, error.field, error.error_type) == ("WCU0203", "CUNO", "ServerReturnedNOK")
    assert error.message == "Customer number C999999999 does not exist"
    assert (
        str(error)
        == "CRS610MI/GetBasicData: Customer number C999999999 does not exist (code=WCU0203, field=CUNO)"
    )
    assert len(gateway.calls(GET_BASIC_DATA_V1)) == 1
    assert sleeps == []


async def test_v1_partial_list_keeps_rows_received_before_the_error(
    m3: M3Client, gateway: FakeGateway
) -> None:
    gateway.add("GET", LST_LINE_V1, recorded_response("v1_ois100mi_lstline_partial"))
    with pytest.raises(M3PartialListError) as info:
        await m3.execute_v1("OIS100MI", "LstLine", {"ORNO": "1000000001"}, maxrecs=0)
    error = info.value
    assert error.records == [
        {"PONR": "1", "POSX": "0", "ITNO": "BIKE-RED-26", "ORQT": "2", "ORST": "33"},
        {"PONR": "2", "POSX": "0", "ITNO": "HELMET-M", "ORQT": "1", "ORST": "33"},
    ]
    assert (error.code, error.field) == ("XRE0103", "ITNO")
    # ODIN removes the copy of the field name from the text.
    assert error.message == "Record does not exist in item master for DISC-2019"
    assert len(gateway.calls(LST_LINE_V1)) == 1


async def test_v2_http_400_is_a_business_error_called_once(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", ADD_BATCH_HEAD_V2, recorded_response("v2_ois100mi_addbatchhead_400"))
    with pytest.raises(M3BusinessError) as info:
        await m3.execute("OIS100MI", "AddBatchHead", {"CUNO": "C999999999", "ORTP": "A01"})
    assert (info.value.code, info.value.field) == ("WCU0203", "CUNO")
    assert info.value.message == "Customer number C999999999 does not exist"
    assert len(gateway.calls(ADD_BATCH_HEAD_V2)) == 1
    assert sleeps == []


async def test_v2_http_200_with_failed_transaction_is_a_business_error(
    m3: M3Client, gateway: FakeGateway
) -> None:
    body = {
        "results": [
            {
                "transaction": "GetHead",
                "errorMessage": "Order number 9 does not exist      ",
                "errorCode": "OI00101",
                "errorField": "ORNO",
                "errorType": "ServerReturnedNOK",
            }
        ],
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": 0,
        "nrOfFailedTransactions": 1,
    }
    gateway.add("GET", GET_HEAD_V2, httpx.Response(200, json=body))
    with pytest.raises(M3BusinessError, match="Order number 9 does not exist") as info:
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "9"})
    assert info.value.field == "ORNO"


async def test_v2_terminated_call_is_a_business_error(m3: M3Client, gateway: FakeGateway) -> None:
    body = {
        "results": [],
        "wasTerminated": True,
        "terminationReason": "Program OIS100MI ended abnormally",
        "terminationErrorType": "ServerReturnedNOK",
        "nrOfFailedTransactions": 0,
    }
    gateway.add("GET", GET_HEAD_V2, httpx.Response(200, json=body))
    with pytest.raises(M3BusinessError, match="ended abnormally"):
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "9"})


@pytest.mark.parametrize("flag", ["false", "False", False])
async def test_v2_was_terminated_false_as_a_string_is_success(
    m3: M3Client, gateway: FakeGateway, flag: object
) -> None:
    # Public m3api-rest v2 samples send the flags and counts as strings.
    body = {
        "results": [{"transaction": "GetHead", "records": [{"ORNO": "1000000001  "}]}],
        "wasTerminated": flag,
        "nrOfSuccessfullTransactions": "1",
        "nrOfFailedTransactions": "0",
    }
    gateway.add("GET", GET_HEAD_V2, httpx.Response(200, json=body))
    assert await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"}) == [{"ORNO": "1000000001"}]


async def test_v2_was_terminated_true_as_a_string_is_a_business_error(
    m3: M3Client, gateway: FakeGateway
) -> None:
    body = {
        "results": [],
        "wasTerminated": "true",
        "terminationReason": "Program OIS100MI ended abnormally",
        "nrOfFailedTransactions": "0",
    }
    gateway.add("GET", GET_HEAD_V2, httpx.Response(200, json=body))
    with pytest.raises(M3BusinessError, match="ended abnormally"):
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "9"})


@pytest.mark.parametrize(
    ("path", "response"),
    [
        (
            f"{M3_PATH}/execute/OIS100MI/AddHead",
            httpx.Response(200, json={"@type": "TransactionNotFound", "Message": "x"}),
        ),
        (
            f"{M3_PATH}/v2/execute/OIS100MI/AddHead",
            httpx.Response(400, json={"errorType": "TransactionNotFound"}),
        ),
        (f"{M3_PATH}/v2/execute/OIS100MI/AddHead", httpx.Response(404, text="<html>Not Found</html>")),
        (f"{M3_PATH}/v2/execute/OIS100MI/AddHead", httpx.Response(200, text="<html>Login</html>")),
        (f"{M3_PATH}/v2/execute/OIS100MI/AddHead", httpx.Response(200, json=["not", "an", "object"])),
        (f"{M3_PATH}/v2/execute/OIS100MI/AddHead", httpx.Response(200, json={"unexpected": True})),
        (f"{M3_PATH}/v2/execute/OIS100MI/AddHead", httpx.Response(409, json={"nothing": "known"})),
    ],
    ids=["v1-not-found", "v2-not-found", "gateway-404", "html-page", "json-array", "no-results", "http-409"],
)
async def test_protocol_errors(
    m3: M3Client, gateway: FakeGateway, path: str, response: httpx.Response
) -> None:
    gateway.add("GET", path, response)
    call = m3.execute_v1 if "/v2/" not in path else m3.execute
    with pytest.raises(M3ProtocolError):
        await call("OIS100MI", "AddHead", {"CUNO": "C1"})
    assert len(gateway.calls(path)) == 1


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def _time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(
    ("answer", "status"),
    [(httpx.Response(502, text="Bad Gateway"), 502), (_refuse, None), (_time_out, None)],
    ids=["http-502", "connect-error", "read-timeout"],
)
async def test_5xx_timeout_and_connect_errors_are_transient(
    ionapi: IonApiFile, gateway: FakeGateway, answer: Handler | httpx.Response, status: int | None
) -> None:
    gateway.add("GET", GET_HEAD_V2, answer)
    async with M3Client(ionapi, max_attempts=1, transport=gateway.transport) as client:
        with pytest.raises(M3TransientError) as info:
            await client.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert type(info.value) is M3TransientError
    assert info.value.status_code == status


async def test_429_is_rate_limited_with_retry_after(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(429, headers={"Retry-After": "7"}))
    async with M3Client(ionapi, max_attempts=1, transport=gateway.transport) as client:
        with pytest.raises(M3RateLimitedError) as info:
            await client.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert info.value.retry_after == 7.0
    assert info.value.status_code == 429


async def test_401_refreshes_token_once_and_retries(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(401), recorded_response("v2_ois100mi_gethead_ok"))
    (head,) = await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert head["ORNO"] == "1000000001"
    assert len(gateway.calls(TOKEN_PATH)) == 2
    assert len(gateway.calls(GET_HEAD_V2)) == 2


async def test_second_401_or_403_is_an_auth_error(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(401), httpx.Response(403))
    with pytest.raises(M3AuthError):
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert len(gateway.calls(GET_HEAD_V2)) == 2
    assert len(gateway.calls(TOKEN_PATH)) == 2


def test_clean_message_removes_code_and_field_copies_and_padding() -> None:
    raw = "WCU0203  CUNO      Customer number ABC does not exist" + " " * 130
    assert clean_message(raw, code="WCU0203", field="CUNO") == "Customer number ABC does not exist"
    # Only whole tokens: "CUNOX" stays.
    assert clean_message("CUNOX is wrong ", code=None, field="CUNO") == "CUNOX is wrong"
