"""The dead-letter store, on SQLite and PostgreSQL (the storage tests' session_factory)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage import deadletter
from storage.models import DeadLetterStatus, EventSource
from tests.storage.conftest import postgres_engine, session_factory

__all__ = ["postgres_engine", "session_factory"]  # fixtures, shared with tests/storage


def test_add_keeps_the_event_and_a_redelivery_finds_it(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        first = deadletter.add(
            session,
            source=EventSource.BNG_WEBHOOK,
            event_type="payment.captured",
            reason="no workflow order-BNG-1",
            body=b'{"type": "payment.captured"}',
            event_id="msg_1",
            business_key="BNG-1",
            headers={"webhook-id": "msg_1"},
        )
    with session_factory.begin() as session:
        again = deadletter.add(
            session,
            source="bng-webhook",
            event_type="payment.captured",
            reason="x",
            body=b"{}",
            event_id="msg_1",
        )
        assert again.id == first.id
        rows = deadletter.list_dead_letters(session, status=DeadLetterStatus.OPEN)
        assert [row.id for row in rows] == [first.id]
        assert rows[0].headers == {"webhook-id": "msg_1"} and rows[0].replay_count == 0


def test_bodies_that_are_not_text_are_kept_exactly(session_factory: sessionmaker[Session]) -> None:
    bodies = [b"\xff\xfe<x/>", b'{"a": "\x00"}', "Grüße".encode()]
    with session_factory.begin() as session:
        ids = [
            deadletter.add(session, source=EventSource.ION_BOD, event_type="x\x00y", reason="r", body=body).id
            for body in bodies
        ]
    with session_factory() as session:
        assert [deadletter.body_bytes(deadletter.get(session, i)) for i in ids] == bodies


def test_replays_are_counted_and_only_a_routed_one_closes_it(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        row_id = deadletter.add(
            session, source="ion-bod", event_type="SalesOrder", reason="r", body=b"<x/>"
        ).id
    with session_factory.begin() as session:
        row = deadletter.record_replay(
            session, row_id, outcome="dead-letter: still no workflow", routed=False
        )
        assert (row.status, row.replay_count) == ("open", 1)
    with session_factory.begin() as session:
        row = deadletter.record_replay(session, row_id, outcome="signalled", routed=True)
        assert (row.status, row.replay_count, row.last_replay_outcome) == ("replayed", 2, "signalled")
        assert row.last_replay_at is not None
    with session_factory.begin() as session, pytest.raises(deadletter.DeadLetterClosedError):
        deadletter.discard(session, row_id, reason="too late")


def test_discard_and_missing_ids(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        row_id = deadletter.add(session, source="ion-bod", event_type="Shipment", reason="r", body=b"<x/>").id
        deadletter.discard(session, row_id, reason="test data")
    with session_factory() as session:
        assert deadletter.get(session, row_id).status == "discarded"
        assert deadletter.list_dead_letters(session, status=DeadLetterStatus.OPEN) == []
        with pytest.raises(deadletter.DeadLetterNotFoundError):
            deadletter.get(session, 999_999)
