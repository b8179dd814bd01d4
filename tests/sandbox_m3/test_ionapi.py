"""The .ionapi file: its keys, and that a client following it reaches the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from clients.m3 import M3Client, load_ionapi
from sandbox.m3 import write_ionapi
from sandbox.serve import ServerThread
from tests.sandbox_m3.conftest import CONFIG


def test_ionapi_file_has_the_keys_and_urls(tmp_path: Path, m3_server: ServerThread) -> None:
    path = write_ionapi(tmp_path / "var" / "m3.ionapi", CONFIG, m3_server.url)

    document = json.loads(path.read_text())

    assert set(document) == {
        "ti",
        "cn",
        "dt",
        "ci",
        "cs",
        "iu",
        "pu",
        "oa",
        "ot",
        "or",
        "ev",
        "v",
        "saak",
        "sask",
    }
    assert document["ti"] == "M3BNG_TST"
    assert document["iu"] == m3_server.url
    assert document["pu"] == f"{m3_server.url}/M3BNG_TST/as/"
    assert (document["ot"], document["or"], document["oa"]) == (
        "token.oauth2",
        "revoke_token.oauth2",
        "authorization.oauth2",
    )
    assert document["saak"].startswith("M3BNG_TST#")
    assert document["ci"].startswith("M3BNG_TST~")


def test_a_client_following_the_ionapi_file_gets_data(
    tmp_path: Path, m3_server: ServerThread, admin: httpx.Client
) -> None:
    ionapi = json.loads(write_ionapi(tmp_path / "m3.ionapi", CONFIG, m3_server.url).read_text())

    token = httpx.post(
        ionapi["pu"] + ionapi["ot"],
        data={"grant_type": "password", "username": ionapi["saak"], "password": ionapi["sask"]},
        auth=(ionapi["ci"], ionapi["cs"]),
    ).json()["access_token"]
    response = httpx.get(
        f"{ionapi['iu']}/{ionapi['ti']}/M3/m3api-rest/v2/execute/CRS610MI/GetBasicData",
        params={"CUNO": "C000000001", "righttrim": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.json()["results"][0]["records"][0]["CUNM"] == "Velo Shop Berlin"


class RecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/as/token.oauth2"):
            self.forms.append(dict(parse_qsl((await request.aread()).decode())))
        return await super().handle_async_request(request)


async def test_m3_client_renews_an_expired_token_with_the_refresh_grant(
    tmp_path: Path, m3_server: ServerThread, admin: httpx.Client
) -> None:
    # The real client (authlib underneath) over HTTP: a password grant, then after the sandbox
    # expired every access token, a 401 and one refresh grant; after a revocation, a password grant.
    transport = RecordingTransport()
    ionapi = load_ionapi(write_ionapi(tmp_path / "m3.ionapi", CONFIG, m3_server.url))
    async with M3Client(ionapi, cono=100, transport=transport) as m3:
        first = await m3.get_one("CRS610MI", "GetBasicData", {"CUNO": "C000000001"})
        assert admin.post("/expire-tokens").json()["expired"] >= 1
        again = await m3.get_one("CRS610MI", "GetBasicData", {"CUNO": "C000000001"})
        await m3.tokens.revoke()
        after_revoke = await m3.get_one("CRS610MI", "GetBasicData", {"CUNO": "C000000001"})

    assert first["CUNM"] == again["CUNM"] == after_revoke["CUNM"] == "Velo Shop Berlin"
    assert [form["grant_type"] for form in transport.forms] == ["password", "refresh_token", "password"]
    assert transport.forms[1]["client_id"] == CONFIG.client_id
