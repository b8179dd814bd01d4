"""The webhook outbox: events are written in the same transaction as the change they announce.

So an order is never stored without its ``order.created`` message, and a restart loses nothing:
the dispatcher (``delivery.py``) picks up whatever is still pending.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sandbox.bng.db import OutboxMessage, WebhookEndpoint

CONFIG_ENDPOINT_ID = "ep_config"


class DeliveryLogEntry(BaseModel):
    msg_id: str
    type: str
    endpoint_id: str
    ordering_key: str | None
    attempts: int
    deliveries: int
    last_status: int | None
    last_error: str | None
    delivered: bool
    failed: bool
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


def new_msg_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def subscribed(events: list[str], event_type: str) -> bool:
    """Empty means everything; ``order.*`` matches every order event."""
    if not events:
        return True
    return any(
        pattern in ("*", event_type) or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))
        for pattern in events
    )


def enqueue(session: Session, event_type: str, data: Any, *, ordering_key: str | None = None) -> str:
    """Queue one message for every endpoint subscribed to ``event_type``; returns its msg id."""
    msg_id = new_msg_id()
    envelope = {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": data}
    payload = json.dumps(envelope, separators=(",", ":"), default=str)
    now = time.time()
    for endpoint in session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)):
        if subscribed(endpoint.events, event_type):
            session.add(
                OutboxMessage(
                    msg_id=msg_id,
                    endpoint_id=endpoint.id,
                    event_type=event_type,
                    ordering_key=ordering_key,
                    payload=payload,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    return msg_id


def enqueue_many(session: Session, event_type: str, items: list[tuple[Any, str]]) -> None:
    """``enqueue`` for many events of one type (data, ordering key): the endpoints are read once
    and the messages inserted in one statement, as a batch API call needs."""
    endpoints = [
        endpoint.id
        for endpoint in session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
        if subscribed(endpoint.events, event_type)
    ]
    now = time.time()
    stamp = datetime.now(UTC).isoformat()
    rows = []
    for data, ordering_key in items:
        msg_id = new_msg_id()
        payload = json.dumps(
            {"type": event_type, "timestamp": stamp, "data": data}, separators=(",", ":"), default=str
        )
        rows += [
            {
                "msg_id": msg_id,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "ordering_key": ordering_key,
                "payload": payload,
                "created_at": now,
                "next_attempt_at": now,
            }
            for endpoint_id in endpoints
        ]
    if rows:
        session.execute(insert(OutboxMessage), rows)


def delivery_log(session: Session, *, event_type: str | None = None) -> list[DeliveryLogEntry]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if event_type:
        query = query.where(OutboxMessage.event_type == event_type)
    return [
        DeliveryLogEntry(
            msg_id=row.msg_id,
            type=row.event_type,
            endpoint_id=row.endpoint_id,
            ordering_key=row.ordering_key,
            attempts=row.attempts,
            deliveries=row.deliveries,
            last_status=row.last_status,
            last_error=row.last_error,
            delivered=row.delivered,
            failed=row.failed,
            created_at=datetime.fromtimestamp(row.created_at, UTC),
            delivered_at=datetime.fromtimestamp(row.delivered_at, UTC) if row.delivered_at else None,
            payload=json.loads(row.payload),
        )
        for row in session.scalars(query)
    ]


def schedule_redelivery(session: Session, msg_id: str) -> int:
    """Send ``msg_id`` again from scratch (same id, so receivers can still de-duplicate)."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.msg_id == msg_id)).all()
    for row in rows:
        row.delivered, row.failed, row.attempts = False, False, 0
        row.next_attempt_at = time.time()
    return len(rows)


def register_endpoint(
    session: Session,
    url: str,
    events: list[str],
    *,
    secret: str | None = None,
    endpoint_id: str | None = None,
) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id) if endpoint_id else None
    if endpoint is None:
        endpoint = WebhookEndpoint(id=endpoint_id or f"ep_{uuid.uuid4().hex[:16]}")
        session.add(endpoint)
    endpoint.url, endpoint.events, endpoint.secret = url, list(events), secret or new_secret()
    return endpoint
