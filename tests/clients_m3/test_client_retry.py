"""Retries inside the client: transient failures with backoff, 429 with Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from clients.m3 import M3Client, M3RateLimitedError, M3TransientError
from clients.retry import RetryPolicy, full_jitter, parse_retry_after
from tests.clients_m3.conftest import M3_PATH, FakeGateway, recorded_response

GET_HEAD_V2 = f"{M3_PATH}/v2/execute/OIS100MI/GetHead"


async def test_503_then_200_succeeds_after_one_jittered_sleep(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(503), recorded_response("v2_ois100mi_gethead_ok"))
    (head,) = await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert head["ORNO"] == "1000000001"
    assert len(gateway.calls(GET_HEAD_V2)) == 2
    assert len(sleeps) == 1
    assert 0.0 <= sleeps[0] <= 0.5  # backoff_base for the first retry


async def test_connect_error_then_200_succeeds(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    gateway.add("GET", GET_HEAD_V2, refuse, recorded_response("v2_ois100mi_gethead_ok"))
    assert await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert len(gateway.calls(GET_HEAD_V2)) == 2
    assert len(sleeps) == 1


async def test_429_with_retry_after_sleeps_that_long_then_succeeds(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add(
        "GET",
        GET_HEAD_V2,
        httpx.Response(429, headers={"Retry-After": "1"}),
        recorded_response("v2_ois100mi_gethead_ok"),
    )
    assert await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert sleeps == [1.0]
    assert len(gateway.calls(GET_HEAD_V2)) == 2


async def test_429_longer_than_backoff_max_raises_at_once(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(M3RateLimitedError) as info:
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert info.value.retry_after == 120.0
    assert sleeps == []
    assert len(gateway.calls(GET_HEAD_V2)) == 1


async def test_persistent_5xx_gives_up_after_max_attempts(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    gateway.add("GET", GET_HEAD_V2, httpx.Response(504, text="Gateway Timeout"))
    with pytest.raises(M3TransientError) as info:
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert info.value.status_code == 504
    assert len(gateway.calls(GET_HEAD_V2)) == 4
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.0 <= slept <= 0.5 * 2 ** (attempt - 1)


def test_full_jitter_grows_exponentially_up_to_the_cap() -> None:
    top = [full_jitter(n, base=0.5, cap=20.0, rand=lambda: 1.0) for n in range(1, 9)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert full_jitter(3, base=0.5, cap=20.0, rand=lambda: 0.25) == 0.5


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Tue, 24 Nov 2026 10:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 24 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None


def test_one_policy_for_both_clients() -> None:
    policy = RetryPolicy(max_attempts=3, base=0.5, cap=20.0)
    assert policy.delay(1, rand=lambda: 1.0) == 0.5
    assert policy.delay(2, rand=lambda: 1.0) == 1.0
    assert policy.delay(3) is None  # the last attempt failed: raise
    assert policy.delay(1, retry_after=7.0) == 7.0  # the server's hint, within the cap
    assert policy.delay(1, retry_after=21.0) is None  # longer: Temporal reschedules the activity
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


async def test_429_with_http_date_is_honoured(
    m3: M3Client, gateway: FakeGateway, sleeps: list[float]
) -> None:
    far = "Wed, 01 Jan 2098 00:00:00 GMT"
    gateway.add("GET", GET_HEAD_V2, httpx.Response(429, headers={"Retry-After": far}))
    with pytest.raises(M3RateLimitedError) as info:
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1"})
    assert info.value.retry_after is not None and info.value.retry_after > 20.0
    assert sleeps == []
