"""A fake ION API gateway for the M3 client: httpx.MockTransport serving recorded responses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.m3 import IonApiFile, M3Client, load_ionapi

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "m3"
TOKEN_PATH = "/M3BNG_TST/as/token.oauth2"
M3_PATH = "/M3BNG_TST/M3/m3api-rest"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def recorded_response(name: str, **headers: str) -> httpx.Response:
    response = recorded(name)["response"]
    return httpx.Response(response["status"], json=response["body"], headers=headers)


class FakeGateway:
    """Routes on method and path (no matrix params); queued answers are served in order, the last repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[httpx.Response | Handler]] = {}
        self.requests: list[httpx.Request] = []
        self.add("POST", TOKEN_PATH, recorded_response("token"))

    def add(self, method: str, path: str, *responses: httpx.Response | Handler) -> None:
        self.routes[(method, path)] = list(responses)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.split(";")[0] == path]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path.split(";")[0])
        if key not in self.routes:
            return httpx.Response(404, text="<html><body>Not Found</body></html>")
        queue = self.routes[key]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, httpx.Response):
            return answer
        result = answer(request)
        return result if isinstance(result, httpx.Response) else await result

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@pytest.fixture
def ionapi() -> IonApiFile:
    return load_ionapi(FIXTURES / "test.ionapi")


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def m3(ionapi: IonApiFile, gateway: FakeGateway, sleeps: list[float]) -> AsyncIterator[M3Client]:
    client = M3Client(ionapi, cono=100, divi="AAA", transport=gateway.transport)

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client._sleep = fake_sleep
    async with client:
        yield client
