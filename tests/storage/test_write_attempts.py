"""The write protocol's record of started M3 writes, and its upkeep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from storage import xref
from storage.models import WriteAttempt
from storage.write_attempts import prune_settled, record_attempt

DAY_AGO = datetime.now(UTC) - timedelta(days=1)


def _record(sessions: sessionmaker[Session], *keys: str, at: datetime | None = None) -> None:
    with sessions() as session:
        for key in keys:
            assert record_attempt(session, key)
        if at is not None:
            session.execute(update(WriteAttempt).where(WriteAttempt.key.in_(keys)).values(created_at=at))
            session.commit()


def _order_keys(cuor: str, temp: str) -> tuple[str, str, str]:
    return (
        f"OIS100MI/AddBatchHead CUOR {cuor}",
        f"OIS100MI/AddBatchLine ORNO {temp}",
        f"OIS100MI/Confirm CUOR {cuor}",
    )


def _link(sessions: sessionmaker[Session], cuor: str, temp: str, orno: str | None) -> None:
    with sessions() as session:
        xref.link_order(
            session, bng_order_id=cuor, cono=100, workflow_id=f"order-{cuor}", temp_orno=temp, orno=orno
        )
        session.commit()


def _kept(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(WriteAttempt.key)))


def test_a_second_attempt_finds_the_first(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        assert record_attempt(session, "OIS100MI/AddBatchHead CUOR A")
        assert not record_attempt(session, "OIS100MI/AddBatchHead CUOR A")


def test_only_old_rows_of_confirmed_orders_are_pruned(session_factory: sessionmaker[Session]) -> None:
    confirmed_long_ago = _order_keys("BNG-1", "5000001")
    confirmed_just_now = _order_keys("BNG-2", "5000002")
    parked_long_ago = _order_keys("BNG-3", "5000003")  # head written, never confirmed
    _record(session_factory, *confirmed_long_ago, at=DAY_AGO - timedelta(hours=1))
    _record(session_factory, *confirmed_just_now)
    _record(session_factory, *parked_long_ago, at=DAY_AGO - timedelta(hours=1))
    _link(session_factory, "BNG-1", "5000001", "1000001")
    _link(session_factory, "BNG-2", "5000002", "1000002")
    _link(session_factory, "BNG-3", "5000003", None)

    with session_factory() as session:
        assert prune_settled(session, before=DAY_AGO) == 3

    assert _kept(session_factory) == {*confirmed_just_now, *parked_long_ago}
    with session_factory() as session:
        assert prune_settled(session, before=DAY_AGO) == 0
