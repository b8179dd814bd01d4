"""Request hygiene at the receiver's edge: a body-size limit and the expected content type.

The limit is a pure ASGI middleware so that it holds before any handler, parser or auth check
reads a byte: a ``Content-Length`` over the limit is refused at once, and a chunked body is
counted while it streams and cut off at the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clients import metrics


class RequestTooLargeError(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit. An HTTPException, so that
    FastAPI's own handler answers 413 wherever in the app the body was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes`` on paths starting with one of ``paths``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, paths: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.paths):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLargeError(self.max_bytes)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLargeError:
            # Only reached if the body was read outside FastAPI's exception handling.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = RequestTooLargeError(self.max_bytes)
        # The server (uvicorn) reads and discards the rest of the body after the response, so the
        # client is not reset while it is still sending.
        await JSONResponse({"detail": error.detail}, status_code=413)(scope, receive, send)


class EdgeMetricsMiddleware:
    """Counts every POST to ``paths`` as received, and as rejected (by reason) when it is answered
    with an error: the signature, IMS authentication, size and type checks all answer here.
    Outermost, so that it also sees what BodyLimitMiddleware refuses."""

    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith(self.paths):
            await self.app(scope, receive, send)
            return
        metrics.count_received(path)

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                metrics.count_rejected(path, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            metrics.count_rejected(path, 500)
            raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses those before they get here
    return None


def require_content_type(*accepted: str) -> Callable[[Request], None]:
    """A dependency: 415 unless the media type is one of ``accepted`` (``"multipart/"`` = any
    multipart type)."""

    def check(request: Request) -> None:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if not any(
            media_type == kind or (kind.endswith("/") and media_type.startswith(kind)) for kind in accepted
        ):
            raise HTTPException(
                status_code=415, detail=f"content type must be {' or '.join(accepted)}, got {media_type!r}"
            )

    return check
