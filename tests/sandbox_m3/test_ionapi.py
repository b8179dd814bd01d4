"""The .ionapi file: its keys, and that a client following it reaches the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

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
