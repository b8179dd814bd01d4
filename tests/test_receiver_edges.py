"""The receiver's trusted edges: IMS authentication before the body, body limits, content types.

Most run in-process on an app that was not started: none of these requests may get as far as
Temporal or the store. The 20 MB ones also go over real HTTP to the stack's receiver.
"""

from __future__ import annotations

import json
import time
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr

from settings import SettingsError, check_receiver_settings
from starter.ims_auth import ImsAuthenticator
from starter.receiver import create_receiver_app
from tests.conftest import IMS_AUTHORIZATION, Stack, bod_xml, edge_settings, ims_message, raw_headers, signed

IMS_URL = "/ims/v3/multipartMessage"
WEBHOOK_URL = "/webhooks/bng"
ISSUER = "https://mingle-sso.example.test/M3BNG_TST/as"
AUDIENCE = "m3bng-ims"
BIG = 20 * 1024 * 1024


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_receiver_app(edge_settings(tmp_path))) as client:
        yield client


class Body:
    """A streamed request body that remembers whether anyone read it."""

    def __init__(self, size: int, chunk: int = 64 * 1024) -> None:
        self.size, self.chunk, self.sent = size, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.size:
            piece = min(self.chunk, self.size - self.sent)
            self.sent += piece
            yield b"x" * piece


# --- IMS authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-secret-wrong-secret",
        "Basic dXNlcjpwYXNz",
        "Bearer ÿ".encode("latin-1"),
    ],
)
async def test_ims_refuses_a_caller_without_the_secret_before_reading_the_body(
    edge: httpx.AsyncClient, authorization: str | bytes | None
) -> None:
    body = Body(4096)
    headers: dict[str, str | bytes] = {"content-type": "multipart/form-data; boundary=x"}
    if authorization is not None:
        headers["authorization"] = authorization
    response = await edge.post(IMS_URL, content=body, headers=raw_headers(headers))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="m3bng-ims"')
    assert body.sent == 0, "the body was read before the caller was authenticated"


async def test_ims_with_the_secret_gets_as_far_as_the_parser(edge: httpx.AsyncClient) -> None:
    response = await edge.post(
        IMS_URL,
        content=b"not multipart at all",
        headers={"content-type": "multipart/form-data; boundary=x", "authorization": IMS_AUTHORIZATION},
    )
    assert response.status_code == 400  # authenticated; IMS v3's "malformed message"


async def test_ims_ping_and_protocol_stay_open(edge: httpx.AsyncClient) -> None:
    assert (await edge.get("/ims/service/ping")).json() == {"status": "OK"}
    assert (await edge.get("/ims/service/protocol")).json()["version"] == "v3"


# --- IMS OAuth: JWT bearer tokens checked against a JWKS, issuer and audience --------------------


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "ion-1", "use": "sig", "alg": "RS256"})


def token(key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ION", "iat": now, "exp": now + 300, **claims}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key: RSAKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(KeySet([signing_key]).as_dict(private=False)))
    return path


@pytest.fixture
async def oauth_edge(tmp_path: Path, jwks_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = edge_settings(
        tmp_path,
        ims_auth_mode="oauth",
        ims_shared_secret=SecretStr(""),
        ims_oauth_issuer=ISSUER,
        ims_oauth_audience=AUDIENCE,
        ims_oauth_jwks_file=jwks_file,
    )
    async with client_for(create_receiver_app(settings)) as client:
        yield client


async def _ims_with_token(client: httpx.AsyncClient, bearer: str) -> httpx.Response:
    # text/plain: a caller that gets past authentication is stopped by the 415 that follows.
    headers = {"authorization": f"Bearer {bearer}".encode(), "content-type": b"text/plain"}
    return await client.post(IMS_URL, content=b"x", headers=raw_headers(headers))


async def test_ims_oauth_accepts_a_valid_token(oauth_edge: httpx.AsyncClient, signing_key: RSAKey) -> None:
    assert (await _ims_with_token(oauth_edge, token(signing_key))).status_code == 415


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"iss": "https://evil.example.test/as"},
        {"iss": None},
        {"aud": "someone-else"},
        {"aud": None},
    ],
    ids=["expired", "no-exp", "wrong-iss", "no-iss", "wrong-aud", "no-aud"],
)
async def test_ims_oauth_refuses_bad_claims(
    oauth_edge: httpx.AsyncClient, signing_key: RSAKey, claims: dict[str, Any]
) -> None:
    response = await _ims_with_token(oauth_edge, token(signing_key, **claims))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_ims_oauth_refuses_forged_and_unsigned_tokens(
    oauth_edge: httpx.AsyncClient, signing_key: RSAKey
) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "ion-1"})
    header, payload, _ = token(signing_key).split(".")
    claims = json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": 2**31}).encode()
    none_header = urlsafe_b64encode(b'{"alg":"none"}').decode()
    unsigned = f"{none_header}.{urlsafe_b64encode(claims).decode()}."
    for bad in (token(other), f"{header}.{payload}.", unsigned, "not-a-jwt", "a.b.c", "é" * 50, "x" * 10_000):
        assert (await _ims_with_token(oauth_edge, bad)).status_code == 401, bad[:40]


async def test_ims_oauth_reads_the_jwks_from_a_url_and_again_after_a_key_rotation(
    signing_key: RSAKey, tmp_path: Path
) -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "ion-2", "use": "sig", "alg": "RS256"})
    published: list[Any] = [signing_key]
    fetches = 0

    def jwks(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        return httpx.Response(200, json=KeySet(published).as_dict(private=False))

    settings = edge_settings(
        tmp_path,
        ims_auth_mode="oauth",
        ims_oauth_issuer=ISSUER,
        ims_oauth_audience=AUDIENCE,
        ims_oauth_jwks_url="https://mingle-sso.example.test/jwks",
    )
    check_receiver_settings(settings)
    auth = ImsAuthenticator(settings, http=httpx.AsyncClient(transport=httpx.MockTransport(jwks)))
    app = FastAPI()

    @app.post("/ims/check", dependencies=[Depends(auth)])
    async def check() -> dict[str, str]:
        return {"ok": "yes"}

    async with client_for(app) as client:

        async def call(key: RSAKey) -> int:
            response = await client.post("/ims/check", headers={"authorization": f"Bearer {token(key)}"})
            return response.status_code

        assert await call(signing_key) == 200
        assert await call(signing_key) == 200 and fetches == 1  # cached
        published = [signing_key, rotated]
        auth._keys_read_at -= 60  # past the minimum interval between two reads
        assert await call(rotated) == 200 and fetches == 2  # unknown kid: read again


# --- body size and content type ---------------------------------------------------------------


async def test_a_declared_20mb_body_is_refused_at_once(edge: httpx.AsyncClient) -> None:
    for url, headers in ((WEBHOOK_URL, signed(b"{}")[1]), (IMS_URL, ims_message(b"<x/>")[1])):
        body = Body(BIG)
        response = await edge.post(url, content=body, headers={**headers, "content-length": str(BIG)})
        assert response.status_code == 413, url
        assert body.sent == 0


async def test_a_streamed_body_is_cut_off_at_the_limit(edge: httpx.AsyncClient) -> None:
    for url, headers in ((WEBHOOK_URL, signed(b"{}")[1]), (IMS_URL, ims_message(b"<x/>")[1])):
        body = Body(BIG)  # no Content-Length: chunked
        response = await edge.post(url, content=body, headers=headers)
        assert response.status_code == 413, url
        assert body.sent <= 1024 * 1024 + body.chunk


async def test_wrong_content_types_get_415(edge: httpx.AsyncClient) -> None:
    body, headers = signed({"type": "order.created", "timestamp": "2026-11-24T10:00:00Z", "data": {}})
    response = await edge.post(WEBHOOK_URL, content=body, headers={**headers, "content-type": "text/plain"})
    assert response.status_code == 415
    body, headers = ims_message(bod_xml("SyncSalesOrder"))
    response = await edge.post(IMS_URL, content=body, headers={**headers, "content-type": "application/json"})
    assert response.status_code == 415


@pytest.fixture
def big_bodies() -> Iterator[bytes]:
    yield json.dumps({"type": "order.created", "data": {"pad": "x" * BIG}}).encode()


async def test_20mb_over_http_gets_413_signed_or_not_never_a_reset(stack: Stack, big_bodies: bytes) -> None:
    body, headers = signed(big_bodies)
    async with httpx.AsyncClient(base_url=stack.receiver_url, timeout=30) as http:
        for extra in ({}, {"webhook-signature": "v1,Zm9yZ2Vk"}):
            response = await http.post(WEBHOOK_URL, content=body, headers={**headers, **extra})
            assert response.status_code == 413
        # Chunked, no Content-Length: cut off while it streams.
        response = await http.post(WEBHOOK_URL, content=Body(BIG), headers=headers)
        assert response.status_code == 413
        ims_body, ims_headers = ims_message(b"<x>" + b"y" * BIG + b"</x>")
        assert (await http.post(IMS_URL, content=ims_body, headers=ims_headers)).status_code == 413
        # The connection is still good for the next request.
        assert (await http.get("/healthz")).status_code == 200


# --- secrets at start-up ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bng_webhook_secret": SecretStr("")}, "M3BNG_BNG_WEBHOOK_SECRET is not set"),
        ({"bng_webhook_secret": SecretStr("whsec_not base64!")}, "M3BNG_BNG_WEBHOOK_SECRET is malformed"),
        ({"bng_webhook_secret": SecretStr("c2hvcnQ=")}, "M3BNG_BNG_WEBHOOK_SECRET is malformed"),
        ({"ims_shared_secret": SecretStr("")}, "M3BNG_IMS_SHARED_SECRET is not set"),
        ({"ims_shared_secret": SecretStr("short")}, "M3BNG_IMS_SHARED_SECRET is malformed"),
        ({"ims_auth_mode": "oauth"}, "M3BNG_IMS_OAUTH_ISSUER is not set"),
    ],
)
def test_the_receiver_refuses_to_start_with_a_missing_or_malformed_secret(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        create_receiver_app(edge_settings(tmp_path, **overrides))
