"""``Idempotency-Key`` on POSTs: the same key replays the first answer instead of acting twice.

Only successful answers are remembered, so a request that failed (a 422, an injected 503) can be
retried with the same key. Handlers are synchronous between the check and the store, so two
requests on the event loop cannot interleave there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sandbox.bng.db import IdempotencyRecord
from sandbox.bng.errors import ApiError


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join((method.encode(), path.encode(), body))).hexdigest()


def run_idempotent(
    sessions: sessionmaker[Session],
    *,
    client: str,
    key: str | None,
    request_fingerprint: str,
    action: Callable[[], tuple[int, Any]],
) -> JSONResponse:
    """Run ``action`` (returning status and JSON body) at most once per ``(client, key)``."""
    if key is None:
        status, body = action()
        return JSONResponse(body, status_code=status)
    with sessions() as session:
        record = session.scalars(
            select(IdempotencyRecord).where(IdempotencyRecord.client == client, IdempotencyRecord.key == key)
        ).first()
        if record is not None:
            if record.fingerprint != request_fingerprint:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "Idempotency-Key was already used for a different request",
                    errors=[{"field": "Idempotency-Key", "message": "reused with a different request"}],
                )
            return JSONResponse(
                record.body, status_code=record.status_code, headers={"Idempotent-Replayed": "true"}
            )
    status, body = action()
    if 200 <= status < 300:
        with sessions.begin() as session:
            session.add(
                IdempotencyRecord(
                    client=client, key=key, fingerprint=request_fingerprint, status_code=status, body=body
                )
            )
    return JSONResponse(body, status_code=status)
