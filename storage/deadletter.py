"""Repository functions for dead letters: events the receiver authenticated but could not route.

Same contract as ``storage.xref``: every function takes a ``Session`` and only flushes; the
caller owns the transaction, e.g. ``with sessions.begin() as session: add(session, ...)``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DeadLetter, DeadLetterStatus, EventSource, utcnow

# What a dead letter keeps of a reason or an outcome: enough to read, never unbounded.
MAX_TEXT = 2000


class DeadLetterNotFoundError(LookupError):
    pass


class DeadLetterClosedError(ValueError):
    """The dead letter was replayed or discarded already."""


def add(
    session: Session,
    *,
    source: EventSource | str,
    event_type: str,
    reason: str,
    body: bytes,
    event_id: str | None = None,
    business_key: str | None = None,
    workflow_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> DeadLetter:
    """Keep one event; a redelivery of the same (source, event id) returns the row it made."""
    source = EventSource(source).value
    event_id = _clean(event_id, 255)
    if event_id is not None and (existing := _by_event_id(session, source, event_id)) is not None:
        return existing
    text, encoding = _as_text(body)
    row = DeadLetter(
        source=source,
        event_id=event_id,
        event_type=_clean(event_type, 128) or "",
        business_key=_clean(business_key, 128),
        workflow_id=_clean(workflow_id, 255),
        reason=_clean(reason, MAX_TEXT) or "",
        body=text,
        body_encoding=encoding,
        headers={_clean(k, 64) or "": _clean(v, 512) or "" for k, v in (headers or {}).items()},
        replay_count=0,
        status=DeadLetterStatus.OPEN.value,
    )
    try:
        with session.begin_nested():
            session.add(row)
        return row
    except IntegrityError:
        # The same delivery raced in on another connection: its row is the one.
        if event_id is None or (existing := _by_event_id(session, source, event_id)) is None:
            raise
        return existing


def body_bytes(row: DeadLetter) -> bytes:
    """The body exactly as it was received."""
    return base64.b64decode(row.body) if row.body_encoding == "base64" else row.body.encode()


def get(session: Session, dead_letter_id: int) -> DeadLetter:
    row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise DeadLetterNotFoundError(f"no dead letter {dead_letter_id}")
    return row


def list_dead_letters(
    session: Session, *, status: DeadLetterStatus | None = None, limit: int = 200
) -> Sequence[DeadLetter]:
    """Newest first."""
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status is not None:
        query = query.where(DeadLetter.status == status.value)
    return session.scalars(query).all()


def record_replay(session: Session, dead_letter_id: int, *, outcome: str, routed: bool) -> DeadLetter:
    """Count one replay; ``routed`` closes it as replayed, otherwise it stays open."""
    row = _open(session, dead_letter_id, lock=True)
    row.replay_count += 1
    row.last_replay_at = utcnow()
    row.last_replay_outcome = outcome[:MAX_TEXT]
    if routed:
        row.status = DeadLetterStatus.REPLAYED.value
    session.flush()
    return row


def discard(session: Session, dead_letter_id: int, *, reason: str) -> DeadLetter:
    row = _open(session, dead_letter_id, lock=True)
    row.status = DeadLetterStatus.DISCARDED.value
    row.discard_reason = reason[:MAX_TEXT]
    session.flush()
    return row


def _open(session: Session, dead_letter_id: int, *, lock: bool) -> DeadLetter:
    # FOR UPDATE on PostgreSQL, so two operators replaying at once count both; SQLite ignores it.
    query = select(DeadLetter).where(DeadLetter.id == dead_letter_id)
    row = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise DeadLetterNotFoundError(f"no dead letter {dead_letter_id}")
    if row.status != DeadLetterStatus.OPEN.value:
        raise DeadLetterClosedError(f"dead letter {dead_letter_id} is {row.status}")
    return row


def _by_event_id(session: Session, source: str, event_id: str) -> DeadLetter | None:
    return session.scalars(
        select(DeadLetter).where(DeadLetter.source == source, DeadLetter.event_id == event_id)
    ).one_or_none()


def _clean(value: str | None, length: int) -> str | None:
    """Fit a value from outside into a column: no NUL (PostgreSQL refuses it), at most ``length``."""
    return value.replace("\x00", "")[:length] if value is not None else None


def _as_text(body: bytes) -> tuple[str, str]:
    # PostgreSQL text cannot hold NUL; such a body (or one that is not UTF-8) is kept as base64.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = "\x00"
    if "\x00" in text:
        return base64.b64encode(body).decode("ascii"), "base64"
    return text, "text"
