"""v2 bulk: body shape, chunking and positional results."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from clients.m3 import IonApiFile, M3BusinessError, M3Client, M3ProtocolError, M3Transaction
from tests.clients_m3.conftest import M3_PATH, FakeGateway, recorded_response

BULK = f"{M3_PATH}/v2/execute"


def lines(*items: str) -> list[M3Transaction]:
    return [
        M3Transaction(
            "AddBatchLine", {"ORNO": "1000000001", "ITNO": item, "ORQT": Decimal("2"), "SAPR": None}
        )
        for item in items
    ]


def ok(*ponrs: str) -> httpx.Response:
    results = [{"transaction": "AddBatchLine", "records": [{"PONR": p, "POSX": "0"}]} for p in ponrs]
    body = {
        "results": results,
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": len(ponrs),
        "nrOfFailedTransactions": 0,
    }
    return httpx.Response(200, json=body)


async def test_bulk_maps_results_by_position_with_one_failure(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("POST", BULK, recorded_response("v2_bulk_ois100mi_addbatchline"))
    results = await m3.bulk("OIS100MI", lines("BIKE-RED-26", "NOSUCHITEM", "HELMET-M"))
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].records == [{"PONR": "1", "POSX": "0", "ATNR": "0"}]
    assert results[2].records == [{"PONR": "3", "POSX": "0", "ATNR": "0"}]
    error = results[1].error
    assert isinstance(error, M3BusinessError)
    assert (error.program, error.transaction, error.code, error.field) == (
        "OIS100MI",
        "AddBatchLine",
        "WIT0103",
        "ITNO",
    )
    assert error.message == "Item number NOSUCHITEM does not exist"
    assert results[1].records == []
    assert len(gateway.calls(BULK)) == 1


async def test_bulk_body_keys_in_order_with_transactions_last(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("POST", BULK, recorded_response("v2_bulk_ois100mi_addbatchline"))
    items = lines("BIKE-RED-26", "NOSUCHITEM")
    items.append(
        M3Transaction("AddBatchLine", {"ORNO": "1000000001", "ITNO": "HELMET-M"}, selected_columns=["PONR"])
    )
    await m3.bulk("OIS100MI", items)
    (request,) = gateway.calls(BULK)
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert list(body) == [
        "program",
        "cono",
        "divi",
        "dateFormat",
        "excludeEmptyValues",
        "rightTrim",
        "maxReturnedRecords",
        "transactions",
    ]
    assert (body["program"], body["cono"], body["divi"], body["dateFormat"], body["rightTrim"]) == (
        "OIS100MI",
        100,
        "AAA",
        "YMD8",
        True,
    )
    assert body["transactions"][0] == {
        "transaction": "AddBatchLine",
        "record": {"CONO": "100", "DIVI": "AAA", "ORNO": "1000000001", "ITNO": "BIKE-RED-26", "ORQT": "2"},
    }
    assert body["transactions"][2]["selectedColumns"] == ["PONR"]
    # The raw bytes, too: the server streams "transactions", so it must be the last key on the wire.
    assert request.content.index(b'"transactions"') > request.content.index(b'"maxReturnedRecords"')


async def test_bulk_is_chunked_and_results_concatenated_in_order(
    ionapi: IonApiFile, gateway: FakeGateway
) -> None:
    gateway.add("POST", BULK, ok("1", "2"), ok("3", "4"), ok("5"))
    async with M3Client(ionapi, cono=100, bulk_chunk_size=2, transport=gateway.transport) as client:
        results = await client.bulk("OIS100MI", lines("A", "B", "C", "D", "E"))
    assert [r.records[0]["PONR"] for r in results] == ["1", "2", "3", "4", "5"]
    sent = [[t["record"]["ITNO"] for t in json.loads(r.content)["transactions"]] for r in gateway.calls(BULK)]
    assert sent == [["A", "B"], ["C", "D"], ["E"]]


async def test_terminated_bulk_marks_the_rest_not_processed(m3: M3Client, gateway: FakeGateway) -> None:
    body = {
        "results": [{"transaction": "AddBatchLine", "records": [{"PONR": "1"}]}],
        "wasTerminated": True,
        "terminationReason": "Order 1000000001 is locked",
        "nrOfSuccessfullTransactions": 1,
        "nrOfFailedTransactions": 0,
        "nrOfNotProcessedTransactions": 2,
    }
    gateway.add("POST", BULK, httpx.Response(200, json=body))
    results = await m3.bulk("OIS100MI", lines("A", "B", "C"))
    assert [r.ok for r in results] == [True, False, False]
    assert results[1].error is not None
    assert results[1].error.error_type == "NotProcessed"
    assert results[1].error.message == "not processed: Order 1000000001 is locked"


async def test_result_count_mismatch_is_a_protocol_error(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("POST", BULK, ok("1"))
    with pytest.raises(M3ProtocolError, match="1 results for 2"):
        await m3.bulk("OIS100MI", lines("A", "B"))


async def test_rejected_bulk_request_raises(m3: M3Client, gateway: FakeGateway) -> None:
    body = {"errorMessage": "Program XYZ999MI is not valid   ", "errorType": "ServerReturnedNOK"}
    gateway.add("POST", BULK, httpx.Response(400, json=body))
    with pytest.raises(M3BusinessError, match="is not valid"):
        await m3.bulk("XYZ999MI", [M3Transaction("Dummy", {})])
    assert len(gateway.calls(BULK)) == 1


async def test_empty_bulk_makes_no_call(m3: M3Client, gateway: FakeGateway) -> None:
    assert await m3.bulk("OIS100MI", []) == []
    assert gateway.requests == []


async def test_bulk_with_was_terminated_false_as_a_string_is_not_terminated(
    m3: M3Client, gateway: FakeGateway
) -> None:
    body = {
        "results": [{"transaction": "AddBatchLine", "records": [{"PONR": "1"}]}],
        "wasTerminated": "false",
        "nrOfSuccessfullTransactions": "1",
        "nrOfFailedTransactions": "0",
    }
    gateway.add("POST", BULK, httpx.Response(200, json=body))
    # Two transactions, one result: only a terminated call may answer short.
    with pytest.raises(M3ProtocolError, match="1 results for 2"):
        await m3.bulk("OIS100MI", lines("A", "B"))
