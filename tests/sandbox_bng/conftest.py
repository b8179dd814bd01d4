"""A fresh BNG sandbox per test, seeded with the demo data, sending webhooks to a test receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from clients.bng.client import BngClient
from sandbox.bng.app import create_app
from sandbox.bng.config import BngSandboxConfig
from sandbox.serve import ServerThread
from tests.sandbox_bng.receiver import WebhookReceiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
API_KEY = "test-key-123"
CLIENT_ID, CLIENT_SECRET = "m3bng", "m3bng-secret"

MakeSandbox = Callable[..., ServerThread]


@pytest.fixture(scope="session")
def _shared_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(SECRET)
    with ServerThread(receiver.app()) as server:
        receiver.url = f"{server.url}/hook"
        yield receiver


@pytest.fixture
def receiver(_shared_receiver: WebhookReceiver) -> WebhookReceiver:
    """One receiver server for the whole run (starting servers is the slow part), emptied per test."""
    _shared_receiver.reset()
    return _shared_receiver


@pytest.fixture
def make_sandbox(receiver: WebhookReceiver) -> Iterator[MakeSandbox]:
    with ExitStack() as servers:

        def make(**overrides: Any) -> ServerThread:
            settings: dict[str, Any] = {
                "webhook_url": receiver.url,
                "webhook_secret": SECRET,
                "api_keys": [API_KEY],
                "seed_demo": True,
                "webhook_backoff_seconds": 0.05,
            }
            config = BngSandboxConfig(**(settings | overrides))
            return servers.enter_context(ServerThread(create_app(config)))

        yield make


@pytest.fixture
def sandbox(make_sandbox: MakeSandbox) -> ServerThread:
    return make_sandbox()


@pytest.fixture
def api(sandbox: ServerThread) -> Iterator[httpx.Client]:
    """Plain HTTP to the sandbox, authenticated with the API key."""
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": API_KEY}, timeout=10) as client:
        yield client


@pytest.fixture
async def bng(sandbox: ServerThread) -> AsyncIterator[BngClient]:
    async with BngClient(
        sandbox.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, backoff_base=0.01, backoff_max=5
    ) as client:
        yield client
