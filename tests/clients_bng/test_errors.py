"""BNG answers map to precise exceptions; a transient answer carries BNG's Retry-After hint."""

from __future__ import annotations

import httpx
import pytest

from clients.bng.errors import (
    BngNotFoundError,
    BngRateLimitedError,
    BngTransientError,
    error_from_response,
)


def answer(status: int, **headers: str) -> httpx.Response:
    request = httpx.Request("GET", "http://bng.test/api/v1/orders/BNG-1")
    return httpx.Response(status, headers=headers, json={"message": "busy"}, request=request)


def test_429_carries_retry_after() -> None:
    error = error_from_response(answer(429, **{"Retry-After": "7"}))
    assert isinstance(error, BngRateLimitedError)
    assert (error.status_code, error.retry_after) == (429, 7.0)


def test_503_with_retry_after_carries_it_like_a_429() -> None:
    error = error_from_response(answer(503, **{"Retry-After": "12"}))
    assert type(error) is BngTransientError
    assert (error.status_code, error.retry_after) == (503, 12.0)
    assert "503" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_transient_answer_without_retry_after_has_none(status: int) -> None:
    error = error_from_response(answer(status))
    assert isinstance(error, BngTransientError)
    assert error.retry_after is None


def test_other_errors_have_no_retry_after_attribute_to_misread() -> None:
    assert isinstance(error_from_response(answer(404, **{"Retry-After": "5"})), BngNotFoundError)
