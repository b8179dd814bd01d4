from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import httpx
import pytest

from clients.m3 import IonApiFile, IonApiTokenProvider, M3AuthError, M3Client, M3TransientError
from tests.clients_m3.conftest import M3_PATH, TOKEN_PATH, FakeGateway, recorded_response


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


class Clock:
    """Wall-clock seconds, as authlib's OAuth2Token reads them for ``expires_at``."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    return fake


@asynccontextmanager
async def provider_for(ionapi: IonApiFile, gateway: FakeGateway) -> AsyncIterator[IonApiTokenProvider]:
    provider = IonApiTokenProvider(ionapi, transport=gateway.transport)
    try:
        yield provider
    finally:
        await provider.aclose()


def token(access: str, *, expires_in: int = 7200, refresh: str | None = "rt-1") -> httpx.Response:
    body: dict[str, object] = {"access_token": access, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


async def test_password_grant_sends_service_account_form(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    async with provider_for(ionapi, gateway) as provider:
        assert await provider.get_token() == "eyJhbGciOiJSUzI1NiJ9.recorded-access-token.sig"
    (request,) = gateway.calls(TOKEN_PATH)
    assert str(request.url) == "https://mingle-sso.example.test/M3BNG_TST/as/token.oauth2"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {
        "grant_type": "password",
        "username": "M3BNG_TST#saak-Lq8w2Xe5",
        "password": "sask-DO-NOT-LOG-c0ffee42",
        "client_id": "M3BNG_TST~Xb3kq9ZpL0aR7v",
        "client_secret": "cs-DO-NOT-LOG-7f3a9c1e",
    }


async def test_token_is_cached_and_renewed_with_refresh_grant_near_expiry(
    ionapi: IonApiFile, gateway: FakeGateway, clock: Clock
) -> None:
    gateway.add("POST", TOKEN_PATH, token("at-1", expires_in=600), token("at-2", refresh="rt-2"))
    async with provider_for(ionapi, gateway) as provider:
        assert await provider.get_token() == "at-1"
        clock.now += 600 - 61  # 61 s left: still outside the 60 s margin
        assert await provider.get_token() == "at-1"
        assert len(gateway.calls(TOKEN_PATH)) == 1
        clock.now += 2  # 59 s left
        assert await provider.get_token() == "at-2"
    refresh = form(gateway.calls(TOKEN_PATH)[1])
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token"] == "rt-1"
    assert refresh["client_id"] == "M3BNG_TST~Xb3kq9ZpL0aR7v"
    assert "password" not in refresh


async def test_without_refresh_token_renewal_is_a_new_password_grant(
    ionapi: IonApiFile, gateway: FakeGateway, clock: Clock
) -> None:
    gateway.add("POST", TOKEN_PATH, token("at-1", expires_in=100, refresh=None), token("at-2", refresh=None))
    async with provider_for(ionapi, gateway) as provider:
        await provider.get_token()
        clock.now += 50
        assert await provider.get_token() == "at-2"
    assert [form(r)["grant_type"] for r in gateway.calls(TOKEN_PATH)] == ["password", "password"]


async def test_rejected_refresh_falls_back_to_password_grant(
    ionapi: IonApiFile, gateway: FakeGateway
) -> None:
    gateway.add(
        "POST",
        TOKEN_PATH,
        token("at-1"),
        httpx.Response(400, json={"error": "invalid_grant"}),
        token("at-3"),
    )
    async with provider_for(ionapi, gateway) as provider:
        await provider.get_token()
        provider.invalidate()
        assert await provider.get_token() == "at-3"
    grants = [form(r)["grant_type"] for r in gateway.calls(TOKEN_PATH)]
    assert grants == ["password", "refresh_token", "password"]


async def test_concurrent_callers_share_one_fetch(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    async def slow_token(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)
        return token("at-shared")

    gateway.add("POST", TOKEN_PATH, slow_token)
    async with provider_for(ionapi, gateway) as provider:
        tokens = await asyncio.gather(*(provider.get_token() for _ in range(8)))
    assert tokens == ["at-shared"] * 8
    assert len(gateway.calls(TOKEN_PATH)) == 1


async def test_refused_credentials_raise_auth_error_without_echoing_secrets(
    ionapi: IonApiFile, gateway: FakeGateway
) -> None:
    gateway.add("POST", TOKEN_PATH, httpx.Response(401, json={"error": "invalid_client"}))
    async with provider_for(ionapi, gateway) as provider:
        with pytest.raises(M3AuthError, match="invalid_client") as info:
            await provider.get_token()
    assert "DO-NOT-LOG" not in str(info.value)


async def test_token_endpoint_outage_is_transient(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    gateway.add("POST", TOKEN_PATH, httpx.Response(503, text="maintenance"))
    async with provider_for(ionapi, gateway) as provider:
        with pytest.raises(M3TransientError) as info:
            await provider.get_token()
    assert info.value.status_code == 503
    assert info.value.sent is False  # the M3 call that needed the token never left


async def test_revoke_posts_both_tokens_with_basic_auth(ionapi: IonApiFile, gateway: FakeGateway) -> None:
    gateway.add("POST", "/M3BNG_TST/as/revoke_token.oauth2", httpx.Response(200))
    async with provider_for(ionapi, gateway) as provider:
        await provider.get_token()
        await provider.revoke()
        revokes = gateway.calls("/M3BNG_TST/as/revoke_token.oauth2")
        assert [form(r) for r in revokes] == [
            {"token": "rt-recorded-refresh-token", "token_type_hint": "refresh_token"},
            {"token": "eyJhbGciOiJSUzI1NiJ9.recorded-access-token.sig", "token_type_hint": "access_token"},
        ]
        expected = httpx.BasicAuth("M3BNG_TST~Xb3kq9ZpL0aR7v", "cs-DO-NOT-LOG-7f3a9c1e")
        assert revokes[0].headers["authorization"] == expected._auth_header
        await provider.get_token()  # forgotten: a fresh grant
    assert len(gateway.calls(TOKEN_PATH)) == 2


async def test_client_fetches_one_token_for_many_calls(m3: M3Client, gateway: FakeGateway) -> None:
    gateway.add("GET", f"{M3_PATH}/v2/execute/OIS100MI/GetHead", recorded_response("v2_ois100mi_gethead_ok"))
    for _ in range(3):
        await m3.execute("OIS100MI", "GetHead", {"ORNO": "1000000001"})
    assert len(gateway.calls(TOKEN_PATH)) == 1
    api_calls = gateway.calls(f"{M3_PATH}/v2/execute/OIS100MI/GetHead")
    assert len(api_calls) == 3
    bearer = "Bearer eyJhbGciOiJSUzI1NiJ9.recorded-access-token.sig"
    assert {r.headers["authorization"] for r in api_calls} == {bearer}
