"""Writes are never resent once they may have reached M3; reads are, honouring Retry-After on 503."""

from __future__ import annotations

import httpx
import pytest

from clients.m3 import M3Client
from clients.m3.bulk import M3Transaction
from clients.m3.errors import M3AmbiguousWriteError, M3TransientError
from tests.clients_m3.conftest import M3_PATH, FakeGateway, recorded_response

ADD_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/AddBatchHead"
GET_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/GetHead"
BULK = f"{M3_PATH}/v2/execute"
HEAD = {"CUNO": "CUST01", "CUOR": "BNG-1", "ORTP": "A01"}


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def _reset(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("peer closed connection", request=request)


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    "lost",
    [
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
        httpx.Response(500),
        _read_timeout,
        _reset,
    ],
    ids=["502", "503", "504", "500", "read-timeout", "reset"],
)
async def test_a_write_whose_answer_is_lost_is_not_resent(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float], lost: httpx.Response | object
) -> None:
    gateway.add("GET", ADD_HEAD_V2, lost, recorded_response("v2_ois100mi_addbatchhead_400"))  # type: ignore[arg-type]
    with pytest.raises(M3AmbiguousWriteError):
        await m3.execute("OIS100MI", "AddBatchHead", HEAD, write=True)
    assert len(gateway.calls(ADD_HEAD_V2)) == 1
    assert sleeps == []


async def test_a_write_that_never_left_is_sent_again(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    ok = httpx.Response(200, json={"results": [{"transaction": "AddBatchHead", "records": [{"ORNO": "1"}]}]})
    gateway.add("GET", ADD_HEAD_V2, _refused, ok)
    await m3.execute("OIS100MI", "AddBatchHead", HEAD, write=True)
    assert len(gateway.calls(ADD_HEAD_V2)) == 2


async def test_a_write_refused_by_the_quota_is_sent_again_after_retry_after(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    ok = httpx.Response(200, json={"results": [{"transaction": "AddBatchHead", "records": [{"ORNO": "1"}]}]})
    gateway.add("GET", ADD_HEAD_V2, httpx.Response(429, headers={"Retry-After": "2"}), ok)
    await m3.execute("OIS100MI", "AddBatchHead", HEAD, write=True)
    assert sleeps == [2.0]


async def test_a_bulk_write_whose_answer_is_lost_is_not_resent(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("POST", BULK, httpx.Response(504), recorded_response("v2_bulk_ois100mi_addbatchline"))
    lines = [M3Transaction("AddBatchLine", {"ORNO": "1", "ITNO": "A", "ORQT": "1"})]
    with pytest.raises(M3AmbiguousWriteError):
        await m3.bulk("OIS100MI", lines, write=True)
    assert len(gateway.calls(BULK)) == 1


async def test_503_retry_after_is_honoured_for_reads(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add(
        "GET",
        GET_HEAD_V2,
        httpx.Response(503, headers={"Retry-After": "3"}),
        recorded_response("v2_ois100mi_gethead_ok"),
    )
    assert await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert sleeps == [3.0]


async def test_a_503_retry_after_too_long_to_wait_is_raised_with_it(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(503, headers={"Retry-After": "600"}))
    with pytest.raises(M3TransientError) as raised:
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert raised.value.retry_after == 600.0
    assert sleeps == []
