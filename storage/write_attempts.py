"""Which M3 writes some attempt has started: the write protocol's shortcut for first attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, literal, select, union_all
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import OrderXref, WriteAttempt

# The keys activities/m3_orders.py records for a customer order's batch entry.
_BY_CUSTOMER_ORDER = ("OIS100MI/AddBatchHead CUOR ", "OIS100MI/Confirm CUOR ")
_BY_BATCH_ORDER = "OIS100MI/AddBatchLine ORNO "


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


def prune_settled(session: Session, *, before: datetime) -> int:
    """Delete the rows of orders M3 has confirmed, recorded before ``before``; returns how many.

    A confirmed order's batch entry is never written again, except by a call re-run because its
    worker died before Temporal recorded the result: ``before`` must leave that time (minutes)
    to it. The rows of orders not confirmed stay, whatever their age: a parked order may be
    resumed any time, and its retry must know to look first.
    """
    confirmed = OrderXref.m3_orno.is_not(None)
    settled = union_all(
        *(select(literal(prefix) + OrderXref.bng_order_id).where(confirmed) for prefix in _BY_CUSTOMER_ORDER),
        select(literal(_BY_BATCH_ORDER) + OrderXref.m3_temp_orno).where(
            confirmed, OrderXref.m3_temp_orno.is_not(None)
        ),
    )
    result = session.execute(
        delete(WriteAttempt).where(WriteAttempt.created_at < before, WriteAttempt.key.in_(settled))
    )
    deleted = int(cast(CursorResult[Any], result).rowcount)
    session.commit()
    return deleted
