"""What routing an event produces, and the small pieces every route shares (dead letters, signals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from settings import Settings

Outcome = Literal["started", "accepted", "duplicate", "signalled", "ignored", "dead-letter"]


class Routed(BaseModel):
    """What became of one event. A dead letter also says what it was about, for the store."""

    outcome: Outcome
    workflow_id: str | None = None
    workflow_ids: list[str] = []
    detail: str = ""
    event_type: str = ""
    business_key: str | None = None
    event_id: str | None = None

    @property
    def dead(self) -> bool:
        return self.outcome == "dead-letter"


@dataclass(frozen=True)
class Router:
    """What routing needs: Temporal, the settings, and the store (for BODs named by M3 number)."""

    client: Client
    settings: Settings
    sessions: sessionmaker[Session]


def dead(
    event_type: str,
    reason: str,
    *,
    business_key: str | None = None,
    workflow_id: str | None = None,
    event_id: str | None = None,
) -> Routed:
    return Routed(
        outcome="dead-letter",
        event_type=event_type,
        business_key=business_key,
        workflow_id=workflow_id,
        event_id=event_id,
        detail=reason,
    )


async def signal(client: Client, workflow_id: str, signal: Any, arg: Any) -> str | None:
    """Signal a running workflow; None when done, else why it could not be (closed, not there)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(signal, arg)
        return None
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
    try:
        status = (await handle.describe()).status
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        return f"no workflow {workflow_id}"
    return f"workflow {workflow_id} is {status.name.lower() if status else 'closed'}"


def first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']} ({error.error_count()} error(s))"


def key(value: object) -> str | None:
    return value[:128] if isinstance(value, str) and value else None
