"""The codec server, called as the Temporal UI calls it, and what Temporal stores when payloads
are encrypted: none of the plaintext, neither order data nor M3's error texts."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf import json_format
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.connections import Connections
from clients.payload_codec import EncryptionCodec
from clients.temporal_connection import connect
from sandbox.serve import ServerThread, free_port
from settings import Settings, SettingsError
from starter.receiver import create_receiver_app
from starter.secrets import GENERATORS, with_demo_payload_keys, with_demo_secrets
from starter.stack import EmbeddedStack
from tests.conftest import TEMPORAL_BIN, Stack, edge_settings
from tests.test_order_to_cash import demo_order
from worker import build_worker
from workflows.models import CancelOrder, OrderToCashInput, OrderView, SkipStep, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

UI_ORIGIN = "http://localhost:8233"
SECRET = "codec-test-secret-0123456789abcdefghijklmnop"
KEY = base64.b64encode(bytes(range(32))).decode()
# What the UI's fetch sends (src/lib/services/data-encoder.ts): JSON, the namespace, its origin.
UI_HEADERS = {"content-type": "application/json", "x-namespace": "default", "origin": UI_ORIGIN}
ISSUER = "https://idp.example.test/"
AUDIENCE = "temporal-ui"


def codec_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "payload_keys": SecretStr(f"k1:{KEY}"),
        "codec_secret": SecretStr(SECRET),
        **overrides,
    }
    return edge_settings(tmp_path, **values)


async def _client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver"
    ) as client:
        yield client


@pytest.fixture
async def codec(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The receiver app (the codec server is part of it) with payload keys and a codec secret."""
    async for client in _client_for(create_receiver_app(codec_settings(tmp_path))):
        yield client


def as_json(payloads: list[Payload]) -> str:
    """Payloads as the UI posts them: protobuf JSON, base64 metadata values and data."""
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_json(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"CustomerName": "Pedal Partners Ltd"}')


# --- the protocol as the UI speaks it -------------------------------------------------------------


async def test_the_ui_preflight_is_answered_for_its_origin_only(codec: httpx.AsyncClient) -> None:
    preflight = {
        "origin": UI_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-namespace",
    }
    answer = await codec.options(f"/codec/{SECRET}/decode", headers=preflight)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed and "x-namespace" in allowed and "authorization" in allowed
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "origin" in answer.headers["vary"].lower()

    other = await codec.options("/codec/decode", headers={**preflight, "origin": "https://evil.example"})
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers


async def test_decode_and_encode_as_the_ui_calls_them(codec: httpx.AsyncClient) -> None:
    encoded = await codec.post(f"/codec/{SECRET}/encode", content=as_json([PLAIN]), headers=UI_HEADERS)
    assert encoded.status_code == 200, encoded.text
    assert encoded.headers["access-control-allow-origin"] == UI_ORIGIN
    assert encoded.headers["content-type"].startswith("application/json")
    body = encoded.json()
    assert set(body) == {"payloads"} and base64.b64decode(body["payloads"][0]["metadata"]["encoding"]) == (
        b"binary/encrypted"
    )
    assert b"Pedal Partners" not in base64.b64decode(body["payloads"][0]["data"])

    decoded = await codec.post(f"/codec/{SECRET}/decode", content=encoded.text, headers=UI_HEADERS)
    assert decoded.status_code == 200, decoded.text
    assert from_json(decoded.text) == [PLAIN]
    # What the UI does with the answer: base64 data -> the JSON it shows.
    assert json.loads(base64.b64decode(decoded.json()["payloads"][0]["data"])) == {
        "CustomerName": "Pedal Partners Ltd"
    }


async def test_nothing_is_decoded_without_the_secret(codec: httpx.AsyncClient) -> None:
    (sealed,) = await EncryptionCodec({"k1": base64.b64decode(KEY)}).encode([PLAIN])
    body = as_json([sealed])
    for path, headers in [
        ("/codec/decode", UI_HEADERS),  # no credentials at all
        ("/codec/not-the-secret/decode", UI_HEADERS),
        ("/codec/decode", {**UI_HEADERS, "authorization": "Bearer not-the-secret"}),
        ("/codec/decode", {**UI_HEADERS, "authorization": f"Basic {SECRET}"}),
    ]:
        refused = await codec.post(path, content=body, headers=headers)
        assert refused.status_code == 401, (path, refused.text)
        assert "Pedal" not in refused.text and refused.headers["www-authenticate"].startswith("Bearer")
        # The UI can still read the refusal (and say so) instead of a CORS error.
        assert refused.headers["access-control-allow-origin"] == UI_ORIGIN

    # The right secret from a page of another origin is refused as well.
    other = await codec.post(
        f"/codec/{SECRET}/decode", content=body, headers={**UI_HEADERS, "origin": "https://x.test"}
    )
    assert other.status_code == 403

    # The CLI (temporal --codec-endpoint .../codec --codec-auth "Bearer <secret>") sends no Origin.
    cli = await codec.post(
        "/codec/decode",
        content=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {SECRET}"},
    )
    assert cli.status_code == 200 and from_json(cli.text) == [PLAIN]


async def test_bad_requests_are_told_apart(codec: httpx.AsyncClient) -> None:
    base = f"/codec/{SECRET}"
    assert (await codec.post(f"{base}/decode", content="{not json", headers=UI_HEADERS)).status_code == 400
    assert (await codec.post(f"{base}/explode", content="{}", headers=UI_HEADERS)).status_code == 404
    text_plain = {**UI_HEADERS, "content-type": "text/plain"}
    assert (
        await codec.post(f"{base}/decode", content=as_json([PLAIN]), headers=text_plain)
    ).status_code == 415
    (foreign,) = await EncryptionCodec({"k0": os.urandom(32)}).encode([PLAIN])
    unknown = await codec.post(f"{base}/decode", content=as_json([foreign]), headers=UI_HEADERS)
    assert unknown.status_code == 400 and "k0" in unknown.text
    huge = await codec.post(f"{base}/decode", content=b"x" * (9 * 1024 * 1024), headers=UI_HEADERS)
    assert huge.status_code == 413


async def test_the_codec_is_off_without_a_payload_key_and_a_weak_secret_stops_the_receiver(
    tmp_path: Path,
) -> None:
    async for client in _client_for(
        create_receiver_app(edge_settings(tmp_path, codec_secret=SecretStr(SECRET)))
    ):
        off = await client.post(f"/codec/{SECRET}/decode", content=as_json([PLAIN]), headers=UI_HEADERS)
        assert off.status_code == 404 and "not configured" in off.text
    with pytest.raises(SettingsError, match="M3BNG_CODEC_SECRET is malformed"):
        create_receiver_app(codec_settings(tmp_path, codec_secret=SecretStr("short")))
    with pytest.raises(SettingsError, match="go together"):
        create_receiver_app(codec_settings(tmp_path, codec_oauth_issuer=ISSUER))


async def test_a_production_ui_passes_its_users_access_token(tmp_path: Path) -> None:
    """temporal-ui with codec.passAccessToken sends "Authorization: Bearer <the user's JWT>"."""
    key = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "use": "sig", "alg": "RS256"})
    idp = FastAPI()

    @idp.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return dict(KeySet([key]).as_dict(private=False))

    def token(**claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "operator", "exp": now + 300, **claims}
        return jwt.encode({"alg": "RS256", "kid": "idp-1"}, payload, key)

    with ServerThread(idp) as server:
        settings = codec_settings(
            tmp_path,
            codec_secret=SecretStr(""),  # JWTs only: no secret path, no static token
            codec_cors_origins=["https://temporal.example.test"],
            codec_oauth_issuer=ISSUER,
            codec_oauth_audience=AUDIENCE,
            codec_oauth_jwks_url=f"{server.url}/jwks",
        )
        (sealed,) = await EncryptionCodec({"k1": base64.b64decode(KEY)}).encode([PLAIN])
        headers = {**UI_HEADERS, "origin": "https://temporal.example.test"}
        async for client in _client_for(create_receiver_app(settings)):
            ok = await client.post(
                "/codec/decode",
                content=as_json([sealed]),
                headers={**headers, "authorization": f"Bearer {token()}"},
            )
            assert ok.status_code == 200, ok.text
            assert from_json(ok.text) == [PLAIN]
            for bad in (token(aud="someone-else"), token(exp=int(time.time()) - 3600), token()[:-4] + "AAAA"):
                refused = await client.post(
                    "/codec/decode",
                    content=as_json([sealed]),
                    headers={**headers, "authorization": f"Bearer {bad}"},
                )
                assert refused.status_code == 401
            # No secret configured: no secret path either.
            assert (
                await client.post("/codec/x/decode", content=as_json([sealed]), headers=headers)
            ).status_code == 401


# --- the embedded stack points its UI at the codec server --------------------------------------


def test_the_demo_encrypts_and_points_the_embedded_ui_at_the_codec_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = {name: value for name, value in os.environ.items() if name not in GENERATORS}
    monkeypatch.setattr(os, "environ", environ)
    settings = with_demo_secrets(Settings(_env_file=None), tmp_path / "secrets.env")
    assert settings.payload_keys is not None and environ["M3BNG_PAYLOAD_KEYS"].startswith("demo-1:")
    secret = settings.codec_secret.get_secret_value()
    assert len(secret) >= 32 and environ["M3BNG_CODEC_SECRET"] == secret
    flags = EmbeddedStack(settings).ui_codec_flags()
    assert flags == ["--ui-codec-endpoint", f"http://127.0.0.1:8700/codec/{secret}"]

    # An operator's own single key is the one that encrypts, not the demo's ring.
    del environ["M3BNG_PAYLOAD_KEYS"]
    own = with_demo_secrets(Settings(_env_file=None, payload_key=SecretStr(KEY)), tmp_path / "secrets.env")
    assert own.payload_keys is None and own.payload_key is not None
    # Operator commands beside the embedded stack read with the demo's keys, unless configured.
    environ.pop("M3BNG_PAYLOAD_KEYS", None)
    cli = with_demo_payload_keys(Settings(_env_file=None), tmp_path / "secrets.env")
    assert cli.payload_keys == settings.payload_keys
    remote = Settings(_env_file=None, temporal_address="temporal.example.com:7233")
    assert with_demo_payload_keys(remote, tmp_path / "secrets.env").payload_keys is None
    # Without a payload key the UI needs no codec server.
    assert EmbeddedStack(Settings(_env_file=None, codec_secret=SecretStr(SECRET))).ui_codec_flags() == []


async def test_the_dev_server_ui_is_told_the_codec_endpoint() -> None:
    """What the embedded UI reads at start-up (/api/v1/settings) names our endpoint."""
    endpoint = f"http://127.0.0.1:8700/codec/{SECRET}"
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        ui=True,
        ui_port=ui_port,
        dev_server_extra_args=["--ui-codec-endpoint", endpoint],
    )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(50):
                try:
                    answer = await http.get(f"http://127.0.0.1:{ui_port}/api/v1/settings")
                    if answer.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        assert answer.json()["Codec"]["Endpoint"] == endpoint
    finally:
        await env.shutdown()


# --- end to end: an order on the real dev server, with an encrypting worker and client -----------

TASK_QUEUE = "m3bng-codec-tests"


async def raw_history(client: Client, workflow_id: str) -> list[HistoryEvent]:
    """The history as Temporal stores and serves it, undecoded."""
    events: list[HistoryEvent] = []
    token = b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                next_page_token=token,
            )
        )
        events.extend(page.history.events)
        token = page.next_page_token
        if not token:
            return events


async def test_temporal_stores_no_plaintext_and_the_ui_reads_it_through_the_codec(
    stack: Stack, tmp_path: Path
) -> None:
    encrypted = stack.settings.model_copy(
        update={
            "payload_keys": SecretStr(f"k1:{base64.b64encode(os.urandom(32)).decode()},k2:{KEY}"),
            "codec_secret": SecretStr(SECRET),
            "task_queue": TASK_QUEUE,
        }
    )
    order = demo_order(39101)
    # TRAILER-KID is active but stocked nowhere: M3 refuses the line, the order parks with M3's text.
    order["Lines"].append({"LineNumber": 98, "SKU": "TRAILER-KID", "Quantity": "1", "UnitPrice": "199.00"})
    secrets_in_clear = [
        order["CustomerName"].encode(),  # Pedal Partners Ltd
        order["Email"].encode(),
        order["BillingAddress"]["Line1"].encode(),
        b"does not exist in warehouse",  # M3's error text (WBA0203)
        b"skip is not possible there",  # a refused update's message
    ]
    workflow_id = order_workflow_id(order["OrderID"])

    client = await connect(encrypted)
    connections = Connections.from_settings(encrypted)
    try:
        async with build_worker(client, connections, TASK_QUEUE):
            handle = await client.start_workflow(
                OrderToCashWorkflow.run,
                OrderToCashInput(bng_order_id=order["OrderID"], payload=order),
                id=workflow_id,
                task_queue=TASK_QUEUE,
            )
            await stack.place_order(order)  # its webhook finds the workflow running

            async def parked() -> OrderView | None:
                view = await handle.query(OrderToCashWorkflow.status)
                if view.stage is Stage.NEEDS_ATTENTION and view.attention and view.attention.m3_transaction:
                    return view
                return None

            view = await _eventually(parked, timeout=60)
            # Operators read everything as before, through a client with the same converter.
            assert view.attention is not None and view.attention.m3_transaction == "AddBatchLine"
            assert "does not exist in warehouse" in view.attention.summary
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(OrderToCashWorkflow.skip, SkipStep(reason=" "))
            assert "skip is not possible there" in str(refused.value.cause)
            # A client without the keys sees only that there was an error.
            with pytest.raises(WorkflowUpdateFailedError) as opaque:
                await stack.client.get_workflow_handle(workflow_id).execute_update(
                    OrderToCashWorkflow.skip, SkipStep(reason=" ")
                )
            assert "skip is not possible" not in str(opaque.value.cause)
            await handle.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="codec test"))
    finally:
        await connections.aclose()

    # What Temporal stores, fetched by a client that does not decode.
    events = await raw_history(stack.client, workflow_id)
    stored = b"".join(event.SerializeToString() for event in events)
    for text in secrets_in_clear:
        assert text not in stored, f"{text!r} is stored in plaintext"
    started = next(e for e in events if e.HasField("workflow_execution_started_event_attributes"))
    input_payloads = list(started.workflow_execution_started_event_attributes.input.payloads)
    assert input_payloads and all(p.metadata["encoding"] == b"binary/encrypted" for p in input_payloads)
    failures = [
        e.activity_task_failed_event_attributes.failure
        for e in events
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert failures and all(f.message == "Encoded failure" for f in failures)

    # The UI's view of the same history: it posts the stored payloads to the codec endpoint.
    async for codec in _client_for(create_receiver_app(encrypted)):
        answer = await codec.post(
            f"/codec/{SECRET}/decode", content=as_json(input_payloads), headers=UI_HEADERS
        )
        assert answer.status_code == 200, answer.text
        shown = base64.b64decode(answer.json()["payloads"][0]["data"])
        assert b"Pedal Partners Ltd" in shown and order["Email"].encode() in shown

        attributes = [f.encoded_attributes for f in failures]
        answer = await codec.post(f"/codec/{SECRET}/decode", content=as_json(attributes), headers=UI_HEADERS)
        assert answer.status_code == 200, answer.text
        messages = [json.loads(base64.b64decode(p["data"]))["message"] for p in answer.json()["payloads"]]
        assert any("does not exist in warehouse" in message for message in messages), messages


async def _eventually(probe: Any, *, timeout: float) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    last_error: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            if (found := await probe()) is not None:
                return found
        except Exception as error:  # not started yet
            last_error = error
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out; last error: {last_error!r}")
