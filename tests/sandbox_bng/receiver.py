"""A webhook receiver for the tests: records every request, checks its signature, fails on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

from clients.bng.webhooks import WebhookVerificationError, verify


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    verification_error: str | None
    answered: int

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.url = ""  # set once the server is listening
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._failures_left = 0

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._failures_left = 0

    def fail_next(self, count: int) -> None:
        """Answer the next ``count`` requests with a 500."""
        with self._lock:
            self._failures_left = count

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def accepted(self) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.answered == 204]

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deliveries = self.accepted()
            if predicate(deliveries):
                return deliveries
            time.sleep(0.02)
        raise AssertionError(f"condition not met in {timeout}s; received: {self.deliveries}")

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            error: str | None = None
            try:
                verify(self.secret, request.headers, body)
            except WebhookVerificationError as exc:
                error = str(exc)
            with self._lock:
                failing = self._failures_left > 0
                self._failures_left -= 1 if failing else 0
                status = 500 if failing else 401 if error else 204
                self._deliveries.append(Delivery(dict(request.headers), body, error, status))
            return Response(status_code=status)

        return app
