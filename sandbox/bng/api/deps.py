"""What every API route shares: authentication, rate limiting, paging and Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sandbox.bng.auth import Client
from sandbox.bng.idempotency import fingerprint, run_idempotent
from sandbox.bng.state import Sandbox


async def rate_limited_client(sandbox: Sandbox, client: Client) -> str:
    """The authenticated caller, once it is within its rate limit."""
    sandbox.limiter.check(client)
    return client


ApiClient = Annotated[str, Depends(rate_limited_client)]
api_dependencies = [Depends(rate_limited_client)]


class Paging(BaseModel):
    page: int | None = None
    page_size: int = 50
    cursor: str | None = None
    updated_since: datetime | None = None


def paging(
    page: Annotated[int | None, Query(ge=1, description="1-based page number")] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    updated_since: Annotated[datetime | None, Query(description="only entities changed since")] = None,
) -> Paging:
    return Paging(page=page, page_size=page_size, cursor=cursor, updated_since=updated_since)


PagingParams = Annotated[Paging, Depends(paging)]


def json(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code)


async def idempotent(
    request: Request, sandbox: Sandbox, client: str, action: Callable[[], tuple[int, Any]]
) -> JSONResponse:
    """Run a POST's ``action`` once per Idempotency-Key (when the caller sent one)."""
    return run_idempotent(
        sandbox.sessions,
        client=client,
        key=request.headers.get("Idempotency-Key"),
        request_fingerprint=fingerprint(request.method, request.url.path, await request.body()),
        action=action,
    )
