"""Which M3 writes some attempt has started: the write protocol's shortcut for first attempts."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import WriteAttempt


def record_attempt(session: Session, key: str) -> bool:
    """Record that a write is about to be sent; True if no attempt had been recorded before.

    Commits: the row must be durable before the write leaves, or a crash in between could
    leave an effect that no later attempt knows to look for.
    """
    session.add(WriteAttempt(key=key))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True
