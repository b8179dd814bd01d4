"""OAuth 2.0 client credentials and API keys, against the sandbox over HTTP."""

from __future__ import annotations

import asyncio

import httpx

from clients.bng.client import BngClient
from sandbox.serve import ServerThread
from tests.sandbox_bng.conftest import API_KEY, CLIENT_ID, CLIENT_SECRET


def test_api_refuses_calls_without_credentials(sandbox: ServerThread) -> None:
    response = httpx.get(f"{sandbox.url}/api/v1/orders")

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_refuses_unknown_token_and_unknown_key(sandbox: ServerThread) -> None:
    bad_token = httpx.get(f"{sandbox.url}/api/v1/orders", headers={"Authorization": "Bearer nope"})
    bad_key = httpx.get(f"{sandbox.url}/api/v1/orders", headers={"X-API-Key": "nope"})

    assert (bad_token.status_code, bad_key.status_code) == (401, 401)
    assert "token" in bad_token.json()["message"]
    assert "API key" in bad_key.json()["message"]


def test_token_from_form_credentials_opens_the_api(sandbox: ServerThread) -> None:
    token = httpx.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert token.headers["Cache-Control"] == "no-store"

    response = httpx.get(
        f"{sandbox.url}/api/v1/products/HELMET-M", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json()["Name"] == "Helmet size M"


def test_token_from_basic_credentials(sandbox: ServerThread) -> None:
    token = httpx.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert token.status_code == 200
    assert len(token.json()["access_token"]) > 20


def test_wrong_secret_and_wrong_grant_are_refused(sandbox: ServerThread) -> None:
    wrong_secret = httpx.post(
        f"{sandbox.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "guess")
    )
    wrong_grant = httpx.post(
        f"{sandbox.url}/oauth/token", data={"grant_type": "password"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )

    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    assert wrong_grant.status_code == 400 and wrong_grant.json()["error"] == "unsupported_grant_type"


def test_api_key_opens_the_api(sandbox: ServerThread) -> None:
    response = httpx.get(f"{sandbox.url}/api/v1/customers/CUST-1001", headers={"X-API-Key": API_KEY})

    assert response.status_code == 200
    assert response.json()["CompanyName"] == "Velo Shop Berlin"


async def test_client_with_api_key(sandbox: ServerThread) -> None:
    async with BngClient(sandbox.url, api_key=API_KEY) as bng:
        product = await bng.get_product("LOCK-U")
    assert product.Name == "U-lock"


async def test_client_caches_its_token_and_refreshes_after_a_401(
    sandbox: ServerThread, bng: BngClient
) -> None:
    await bng.get_customer("CUST-1001")
    await bng.get_customer("CUST-1002")
    # Two calls, one token: the cache works.
    assert httpx.post(f"{sandbox.url}/_sandbox/tokens/revoke").json() == {"revoked": 1}

    customer = await bng.get_customer("CUST-2001")

    assert customer.FirstName == "Anna"
    # The revoked token got a 401; the client fetched exactly one new token and retried.
    assert httpx.post(f"{sandbox.url}/_sandbox/tokens/revoke").json() == {"revoked": 1}


async def test_concurrent_calls_share_one_token(sandbox: ServerThread, bng: BngClient) -> None:
    customers = await asyncio.gather(*(bng.get_customer(cid) for cid in ["CUST-1001", "CUST-1002"] * 5))

    assert {customer.CustomerID for customer in customers} == {"CUST-1001", "CUST-1002"}
    assert httpx.post(f"{sandbox.url}/_sandbox/tokens/revoke").json() == {"revoked": 1}
