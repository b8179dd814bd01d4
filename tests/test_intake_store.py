"""The intake inbox table (storage/inbox.py) on SQLite and PostgreSQL: rows are written already
leased, claimed again only once the lease ran out, and two forwarders never claim the same row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage import inbox
from storage.db import make_engine, make_session_factory, upgrade_schema
from storage.inbox import NewEntry
from tests.storage.conftest import postgres_schema

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
        upgrade_schema(engine)
        yield make_session_factory(engine)
        engine.dispose()
        return
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        yield make_session_factory(engine)
        engine.dispose()


def entries(count: int) -> list[NewEntry]:
    return [
        NewEntry("bng-webhook", f"msg_{number}", f"BNG-{number}", f'{{"n": {number}}}', NOW)
        for number in range(count)
    ]


def test_rows_are_written_leased_and_claimed_again_only_after_the_lease(
    sessions: sessionmaker[Session],
) -> None:
    lease_until = NOW + timedelta(seconds=15)
    with sessions.begin() as session:
        written = inbox.add_many(session, entries(3), lease_until=lease_until)
    assert [row.event_id for row in written] == ["msg_0", "msg_1", "msg_2"]
    assert len({row.id for row in written}) == 3

    later = NOW + timedelta(seconds=5)
    with sessions.begin() as session:
        assert inbox.claim_expired(session, now=later, lease_until=later, limit=10) == []
        assert inbox.depth(session) == 3

    expired = NOW + timedelta(seconds=16)
    with sessions.begin() as session:
        claimed = inbox.claim_expired(
            session, now=expired, lease_until=expired + timedelta(seconds=15), limit=2
        )
    assert [row.id for row in claimed] == [row.id for row in written[:2]]  # oldest first
    assert claimed[0].received_at == NOW and claimed[0].body == '{"n": 0}'
    with sessions.begin() as session:  # the two are leased anew; the third is still free
        (third,) = inbox.claim_expired(session, now=expired, lease_until=expired, limit=10)
    assert third.id == written[2].id

    with sessions.begin() as session:
        inbox.retry_later(session, third.id, error="UNAVAILABLE", at=expired + timedelta(seconds=2))
        inbox.remove(session, [row.id for row in claimed])
        assert inbox.depth(session) == 1
    with sessions.begin() as session:
        assert (
            inbox.claim_expired(session, now=expired + timedelta(seconds=1), lease_until=expired, limit=9)
            == []
        )
        (again,) = inbox.claim_expired(
            session, now=expired + timedelta(seconds=3), lease_until=expired + timedelta(seconds=9), limit=9
        )
    assert (again.id, again.attempts) == (third.id, 1)


def test_a_released_row_is_claimable_at_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        written = inbox.add_many(session, entries(2), lease_until=NOW + timedelta(minutes=5))
        inbox.release(session, [written[1].id], now=NOW)
    with sessions.begin() as session:
        (claimed,) = inbox.claim_expired(session, now=NOW, lease_until=NOW + timedelta(seconds=15), limit=5)
    assert claimed.id == written[1].id


def test_two_forwarders_claiming_at_once_get_different_rows() -> None:
    """PostgreSQL: FOR UPDATE SKIP LOCKED passes over the rows another open claim holds."""
    with postgres_schema() as url:
        engine = make_engine(url)
        try:
            upgrade_schema(engine)
            sessions = make_session_factory(engine)
            with sessions.begin() as session:
                inbox.add_many(session, entries(4), lease_until=NOW)
            with sessions.begin() as first, sessions.begin() as second:
                mine = inbox.claim_expired(first, now=NOW, lease_until=NOW + timedelta(seconds=15), limit=2)
                theirs = inbox.claim_expired(
                    second, now=NOW, lease_until=NOW + timedelta(seconds=15), limit=4
                )
            assert len(mine) == 2 and len(theirs) == 2
            assert not {row.id for row in mine} & {row.id for row in theirs}
        finally:
            engine.dispose()
