"""Repository functions for the intake inbox (``InboxEntry``): see ``starter/intake.py``.

Same contract as ``storage.xref``: every function takes a ``Session`` and only flushes; the
caller owns the transaction. Claiming is safe with several receivers on one PostgreSQL database:
``FOR UPDATE SKIP LOCKED`` hands each row to one of them (SQLite's ``BEGIN IMMEDIATE``
serialises the claim instead; SQLAlchemy drops the clause there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from storage.models import InboxEntry

MAX_ERROR = 2000


@dataclass(frozen=True)
class NewEntry:
    """One acknowledged webhook, as the receiver writes it."""

    source: str
    event_id: str
    business_key: str | None
    body: str
    received_at: datetime


@dataclass(frozen=True)
class Claimed:
    """A row a forwarder holds until ``lease_until``."""

    id: int
    event_id: str
    body: str
    received_at: datetime
    lease_until: datetime
    attempts: int


def add_many(session: Session, entries: Sequence[NewEntry], *, lease_until: datetime) -> list[Claimed]:
    """Insert ``entries`` in one statement, already claimed by the writer until ``lease_until``."""
    rows = [
        {
            "source": entry.source,
            "event_id": entry.event_id[:255],
            "business_key": entry.business_key,
            "body": entry.body,
            "received_at": entry.received_at,
            "lease_until": lease_until,
            "attempts": 0,
        }
        for entry in entries
    ]
    statement = insert(InboxEntry).returning(InboxEntry.id, sort_by_parameter_order=True)
    ids = session.scalars(statement, rows).all()
    return [
        Claimed(id, entry.event_id, entry.body, entry.received_at, lease_until, 0)
        for id, entry in zip(ids, entries, strict=True)
    ]


def claim_expired(session: Session, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Take up to ``limit`` rows whose lease ran out (oldest first) and lease them anew."""
    query = (
        select(InboxEntry)
        .where(InboxEntry.lease_until <= now)
        .order_by(InboxEntry.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.scalars(query).all()
    for row in rows:
        row.lease_until = lease_until
    session.flush()
    return [
        Claimed(row.id, row.event_id, row.body, _aware(row.received_at), lease_until, row.attempts)
        for row in rows
    ]


def remove(session: Session, ids: Sequence[int]) -> None:
    """Forget rows whose workflow was started (or that were dead-lettered)."""
    if ids:
        session.execute(delete(InboxEntry).where(InboxEntry.id.in_(ids)))


def retry_later(session: Session, entry_id: int, *, error: str, at: datetime) -> None:
    """Count a failed attempt; the row is claimable again from ``at``."""
    session.execute(
        update(InboxEntry)
        .where(InboxEntry.id == entry_id)
        .values(attempts=InboxEntry.attempts + 1, last_error=error[:MAX_ERROR], lease_until=at)
    )


def release(session: Session, ids: Sequence[int], *, now: datetime) -> None:
    """Give rows back at once (a receiver shutting down), so the next forwarder need not wait."""
    if ids:
        session.execute(update(InboxEntry).where(InboxEntry.id.in_(ids)).values(lease_until=now))


def depth(session: Session) -> int:
    """Rows not yet forwarded, by any receiver."""
    return int(session.scalar(select(func.count()).select_from(InboxEntry)) or 0)


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the inbox writes UTC only.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def lease_from(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
