"""ION API OAuth: the token endpoint and Bearer checks on every m3api-rest call."""

from __future__ import annotations

import time

import httpx

from sandbox.m3 import create_app
from sandbox.serve import ServerThread
from tests.sandbox_m3.conftest import CONFIG, fetch_token

GET_ITEM = f"/{CONFIG.tenant}/M3/m3api-rest/v2/execute/MMS200MI/GetItmBasic"


def test_password_grant_returns_bearer_token(m3_server: ServerThread) -> None:
    token = fetch_token(m3_server.url)

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == CONFIG.token_lifetime_seconds
    assert token["access_token"] and token["refresh_token"]


def test_missing_or_unknown_token_is_401(m3_server: ServerThread, admin: httpx.Client) -> None:
    missing = httpx.get(m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"})
    unknown = httpx.get(
        m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"}, headers={"Authorization": "Bearer nope"}
    )

    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_token"
    assert unknown.status_code == 401


def test_expired_token_is_401_and_refresh_gives_a_working_one(
    m3_server: ServerThread, admin: httpx.Client
) -> None:
    token = fetch_token(m3_server.url)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"}, headers=headers).status_code == 200

    admin.post("/expire-tokens").raise_for_status()
    expired = httpx.get(m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"}, headers=headers)
    refreshed = httpx.post(
        f"{m3_server.url}/{CONFIG.tenant}/as/token.oauth2",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(CONFIG.client_id, CONFIG.client_secret),  # client credentials as HTTP Basic
    )
    renewed = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}

    assert expired.status_code == 401
    assert refreshed.status_code == 200
    assert httpx.get(m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"}, headers=renewed).status_code == 200


def test_short_lived_token_expires_by_itself() -> None:
    config = CONFIG.model_copy(update={"token_lifetime_seconds": 1})
    with ServerThread(create_app(config)) as server:
        token = fetch_token(server.url, config)
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert token["expires_in"] == 1
        template = f"{server.url}/{config.tenant}/M3/m3api-rest/v2/execute/CRS610MI/GetBasicData"
        assert httpx.get(template, params={"CUNO": "TEMPLATE"}, headers=headers).status_code == 200
        time.sleep(1.1)
        assert httpx.get(template, params={"CUNO": "TEMPLATE"}, headers=headers).status_code == 401


def test_bad_credentials_and_revoke(m3_server: ServerThread, admin: httpx.Client) -> None:
    bad = httpx.post(
        f"{m3_server.url}/{CONFIG.tenant}/as/token.oauth2",
        data={
            "grant_type": "password",
            "username": CONFIG.saak,
            "password": "wrong",
            "client_id": CONFIG.client_id,
            "client_secret": CONFIG.client_secret,
        },
    )
    token = fetch_token(m3_server.url)["access_token"]
    revoke = httpx.post(
        f"{m3_server.url}/{CONFIG.tenant}/as/revoke_token.oauth2",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(CONFIG.client_id, CONFIG.client_secret),
    )
    after = httpx.get(
        m3_server.url + GET_ITEM, params={"ITNO": "LOCK-U"}, headers={"Authorization": f"Bearer {token}"}
    )

    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")
    assert revoke.status_code == 200
    assert after.status_code == 401
