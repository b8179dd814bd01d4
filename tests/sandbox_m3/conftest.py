"""One M3 sandbox on a real port for the whole suite, reset to the demo data before every test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.m3 import M3SandboxConfig, create_app
from sandbox.serve import ServerThread

CONFIG = M3SandboxConfig(outbox_initial_backoff_seconds=0.1)


@pytest.fixture(scope="session")
def m3_server() -> Iterator[ServerThread]:
    with ServerThread(create_app(CONFIG, seed_demo=True)) as server:
        yield server


@pytest.fixture
def admin(m3_server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{m3_server.url}/_sandbox", timeout=10) as client:
        client.post("/reset", json={"seed_demo": True}).raise_for_status()
        client.post(
            "/config",
            json={"bod_endpoint": None, "bod_authorization": None, "lifecycle_interval_seconds": None},
        )
        yield client


def fetch_token(base_url: str, config: M3SandboxConfig = CONFIG) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/{config.tenant}/as/token.oauth2",
        data={
            "grant_type": "password",
            "username": config.saak,
            "password": config.sask,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
    )
    response.raise_for_status()
    return dict(response.json())


@pytest.fixture
def m3(m3_server: ServerThread, admin: httpx.Client) -> Iterator[httpx.Client]:
    """Authorised client on the ION API gateway path: {iu}/{ti}/M3/m3api-rest."""
    token = fetch_token(m3_server.url)["access_token"]
    with httpx.Client(
        base_url=f"{m3_server.url}/{CONFIG.tenant}/M3/m3api-rest",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    ) as client:
        yield client


def v1_records(body: dict[str, Any]) -> list[dict[str, str]]:
    return [{nv["Name"]: nv["Value"] for nv in rec["NameValue"]} for rec in body["MIRecord"]]


def v2_record(client: httpx.Client, program: str, transaction: str, **fields: str) -> dict[str, str]:
    response = client.get(f"/v2/execute/{program}/{transaction}", params={**fields, "righttrim": "true"})
    assert response.status_code == 200, response.text
    records: list[dict[str, str]] = response.json()["results"][0]["records"]
    return records[0] if records else {}


def place_order(client: httpx.Client, cuor: str, lines: list[tuple[str, str]]) -> tuple[str, str]:
    """Batch entry + Confirm; returns (temporary ORNO, final ORNO)."""
    temporary = v2_record(client, "OIS100MI", "AddBatchHead", CUNO="C000000001", CUOR=cuor)["ORNO"]
    for itno, orqt in lines:
        v2_record(client, "OIS100MI", "AddBatchLine", ORNO=temporary, ITNO=itno, ORQT=orqt)
    final = v2_record(client, "OIS100MI", "Confirm", ORNO=temporary)["ORNO"]
    return temporary, final


@dataclass
class Received:
    parameters: dict[str, Any]
    payload: bytes
    part_names: list[str]
    content_types: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BodReceiver:
    """A tiny IMS endpoint: records every multipart message, and can answer 500 a few times."""

    fail_next: int = 0
    messages: list[Received] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/ims/v3/multipartMessage")
        async def receive(request: Request) -> JSONResponse:
            body = await request.body()
            with self.lock:
                self.attempts += 1
                if self.fail_next > 0:
                    self.fail_next -= 1
                    return JSONResponse({"error": "try later"}, status_code=500)
            # Parse the multipart body independently of the web framework.
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = BytesParser(policy=default).parsebytes(head + body)
            parts = {
                part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
            }
            parameters = parts["ParameterRequest"].get_payload(decode=True)
            payload = parts["MessagePayload"].get_payload(decode=True)
            assert isinstance(parameters, bytes) and isinstance(payload, bytes)
            received = Received(
                parameters=json.loads(parameters),
                payload=payload,
                part_names=[str(name) for name in parts],
                content_types={str(name): part.get_content_type() for name, part in parts.items()},
                headers=dict(request.headers),
            )
            with self.lock:
                self.messages.append(received)
            return JSONResponse({}, status_code=202)

        return app


@pytest.fixture
def receiver(admin: httpx.Client) -> Iterator[tuple[BodReceiver, str]]:
    bods = BodReceiver()
    with ServerThread(bods.app()) as server:
        url = f"{server.url}/ims/v3/multipartMessage"
        yield bods, url
        admin.post("/config", json={"bod_endpoint": None})


# Procure-to-pay helpers (PPS370MI, MHS850MI, APS450MI).
SUPPLIER = "S000000001"


def v2_error(client: httpx.Client, program: str, transaction: str, **fields: str) -> dict[str, Any]:
    """A single v2 call that M3 refuses: its error keys (HTTP 400)."""
    response = client.get(f"/v2/execute/{program}/{transaction}", params=fields)
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    return body


def add_supplier(client: httpx.Client, suno: str = SUPPLIER, stat: str = "20") -> str:
    v2_record(
        client,
        "CRS620MI",
        "AddSupplier",
        SUNO=suno,
        SUNM=f"Supplier {suno}",
        SUTY="0",
        CSCD="DE",
        LNCD="DE",
        CUCD="EUR",
        STAT=stat,
    )
    return suno


def place_po(
    client: httpx.Client,
    lines: list[tuple[int, str, str, str]],
    suno: str = SUPPLIER,
    yre1: str = "BNG-PO-1",
    finish: bool = True,
) -> tuple[str, str]:
    """PPS370MI StartEntry/AddHead/AddLine(PNLI, ITNO, ORQA, PUPR).../FinishEntry; (MSGN, PUNO)."""
    msgn = v2_record(client, "PPS370MI", "StartEntry", BAOR="BNG")["MSGN"]
    head = {"MSGN": msgn, "FACI": "100", "WHLO": "300", "SUNO": suno, "DWDT": "20260301", "YRE1": yre1}
    puno = v2_record(client, "PPS370MI", "AddHead", **head)["PUNO"]
    for pnli, itno, orqa, pupr in lines:
        fields = {"MSGN": msgn, "PUNO": puno, "PNLI": str(pnli), "ITNO": itno, "ORQA": orqa, "PUPR": pupr}
        v2_record(client, "PPS370MI", "AddLine", **fields)
    if finish:
        v2_record(client, "PPS370MI", "FinishEntry", MSGN=msgn)
    return msgn, puno


def receive_po(
    client: httpx.Client, puno: str, lines: list[tuple[int, str, str]], pmsn: str = "GR-1", sudo: str = "DN-1"
) -> str:
    """MHS850MI AddWhsHead/AddWhsLine(PNLI, ITNO, RVQA).../PrcWhsTran; the MSGN."""
    head = {"WHLO": "300", "QLFR": "20", "E0PA": "BNG", "E0PB": "BNG", "E065": "RECEIPT", "PMSN": pmsn}
    msgn = v2_record(client, "MHS850MI", "AddWhsHead", **head)["MSGN"]
    for pnli, itno, rvqa in lines:
        v2_record(
            client,
            "MHS850MI",
            "AddWhsLine",
            WHLO="300",
            MSGN=msgn,
            QLFR="20",
            RIDN=puno,
            RIDL=str(pnli),
            ITNO=itno,
            RVQA=rvqa,
            SUDO=sudo,
        )
    v2_record(client, "MHS850MI", "PrcWhsTran", MSGN=msgn)
    return msgn


def v2_records(client: httpx.Client, program: str, transaction: str, **fields: str) -> list[dict[str, str]]:
    response = client.get(f"/v2/execute/{program}/{transaction}", params={**fields, "righttrim": "true"})
    assert response.status_code == 200, response.text
    records: list[dict[str, str]] = response.json()["results"][0]["records"]
    return records
