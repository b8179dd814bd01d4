"""BNG client credentials through authlib: the token request, a token outage, a refused secret, a 401."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import BngAuthError
from clients.bng.models import OrderStatus, OrderStatusUpdate

ORDER = {
    "OrderID": "BNG-1",
    "CustomerID": "C1",
    "OrderDate": "2026-11-27",
    "Lines": [{"LineNumber": 1, "SKU": "A", "Quantity": "1", "UnitPrice": "1"}],
}
Answer = Callable[[httpx.Request], httpx.Response]


def token(access: str = "at-1") -> Answer:
    return lambda request: httpx.Response(
        200, json={"access_token": access, "token_type": "Bearer", "expires_in": 3600}
    )


def status(code: int, **body: str) -> Answer:
    return lambda request: httpx.Response(code, json=body or ORDER)


class FakeBng:
    def __init__(self, tokens: list[Answer], api: list[Answer]) -> None:
        self.answers = {"/oauth/token": tokens, "api": api}
        self.seen: list[httpx.Request] = []
        # Read when sent: httpx resends the same Request object with a new Authorization header.
        self.bearers: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path != "/oauth/token":
            self.bearers.append(request.headers["authorization"])
        queue = self.answers["/oauth/token" if request.url.path == "/oauth/token" else "api"]
        return queue.pop(0)(request) if len(queue) > 1 else queue[0](request)

    def calls(self, token: bool) -> list[httpx.Request]:
        return [r for r in self.seen if (r.url.path == "/oauth/token") is token]

    def client(self) -> BngClient:
        return BngClient(
            "http://bng.test",
            client_id="m3bng",
            client_secret="s3cret",
            backoff_base=0,
            transport=httpx.MockTransport(self.handle),
        )


async def test_token_request_is_client_credentials_with_basic_auth() -> None:
    bng = FakeBng([token()], [status(200)])
    async with bng.client() as client:
        await client.get_order("BNG-1")
        await client.get_order("BNG-1")
    (request,) = bng.calls(token=True)
    assert dict(parse_qsl(request.content.decode())) == {"grant_type": "client_credentials"}
    assert request.headers["authorization"] == httpx.BasicAuth("m3bng", "s3cret")._auth_header
    assert bng.bearers == ["Bearer at-1", "Bearer at-1"]


async def test_a_token_outage_before_a_patch_is_retried_and_the_patch_sent_once() -> None:
    # The PATCH never left while the token endpoint failed: resending it is safe, not ambiguous.
    bng = FakeBng([status(503, error="maintenance"), token()], [status(200)])
    async with bng.client() as client:
        await client.update_order_status("BNG-1", OrderStatusUpdate(OrderStatus=OrderStatus.ACCEPTED))
    assert len(bng.calls(token=True)) == 2
    assert len(bng.calls(token=False)) == 1


async def test_refused_credentials_are_an_auth_error_and_nothing_is_sent() -> None:
    bng = FakeBng([status(401, error="invalid_client")], [status(200)])
    async with bng.client() as client:
        with pytest.raises(BngAuthError, match="invalid_client") as info:
            await client.get_order("BNG-1")
    assert "s3cret" not in str(info.value)
    assert bng.calls(token=False) == []


async def test_a_401_gets_one_fresh_token_and_one_resend() -> None:
    bng = FakeBng([token("at-1"), token("at-2")], [status(401, error="unauthorized"), status(200)])
    async with bng.client() as client:
        await client.get_order("BNG-1")
    assert bng.bearers == ["Bearer at-1", "Bearer at-2"]

    always = FakeBng([token()], [status(401, error="unauthorized")])
    async with always.client() as client:
        with pytest.raises(BngAuthError):
            await client.get_order("BNG-1")
    assert len(always.calls(token=True)) == 2
    assert len(always.calls(token=False)) == 2
