"""The cross-reference repository, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage import xref
from storage.models import CustomerXref, EventSource, OrderXref, ReceivedEvent
from storage.xref import (
    XrefConflictError,
    find_customer,
    find_customer_by_cuno,
    find_order_by_bng,
    find_order_by_m3,
    link_customer,
    link_order,
    record_event,
)

Factory = sessionmaker[Session]
T = TypeVar("T")


def in_transaction(factory: Factory, work: Callable[[Session], T]) -> T:
    with factory.begin() as session:
        return work(session)


def count(factory: Factory, model: type[CustomerXref | OrderXref | ReceivedEvent]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_customer_link_and_find_round_trip(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        linked = link_customer(session, bng_customer_id="CUST-1", cono=100, cuno="C0001", external_id="CRM-9")
    with session_factory() as session:
        by_bng = find_customer(session, "CUST-1")
        by_m3 = find_customer_by_cuno(session, 100, "C0001")
        assert by_bng is not None and by_m3 is not None
        assert by_bng.id == by_m3.id == linked.id
        assert (by_bng.bng_customer_id, by_bng.bng_external_id, by_bng.m3_cono, by_bng.m3_cuno) == (
            "CUST-1",
            "CRM-9",
            100,
            "C0001",
        )
        assert by_bng.created_at is not None and by_bng.updated_at is not None
        assert find_customer(session, "CUST-2") is None
        assert find_customer_by_cuno(session, 200, "C0001") is None


def test_relinking_the_same_pair_returns_the_same_row(session_factory: Factory) -> None:
    first = in_transaction(
        session_factory, lambda s: link_customer(s, bng_customer_id="CUST-1", cono=100, cuno="C0001")
    )
    again = in_transaction(
        session_factory,
        lambda s: link_customer(s, bng_customer_id="CUST-1", cono=100, cuno="C0001", external_id="CRM-9"),
    )
    assert again.id == first.id
    assert again.bng_external_id == "CRM-9"
    assert count(session_factory, CustomerXref) == 1


def test_same_cuno_in_another_company_is_a_different_customer(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link_customer(session, bng_customer_id="CUST-1", cono=100, cuno="C0001")
        link_customer(session, bng_customer_id="CUST-2", cono=200, cuno="C0001")
    assert count(session_factory, CustomerXref) == 2


@pytest.mark.parametrize(
    ("bng_customer_id", "cono", "cuno", "message"),
    [
        ("CUST-1", 100, "C0002", "BNG customer 'CUST-1' is already linked to M3 customer 100/C0001"),
        ("CUST-2", 100, "C0001", "M3 customer 100/C0001 is already linked to BNG customer 'CUST-1'"),
    ],
)
def test_linking_either_side_elsewhere_is_a_conflict(
    session_factory: Factory, bng_customer_id: str, cono: int, cuno: str, message: str
) -> None:
    in_transaction(
        session_factory, lambda s: link_customer(s, bng_customer_id="CUST-1", cono=100, cuno="C0001")
    )
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match=message):
        link_customer(session, bng_customer_id=bng_customer_id, cono=cono, cuno=cuno)
    assert count(session_factory, CustomerXref) == 1


def test_order_link_is_an_upsert(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        created = link_order(
            session, bng_order_id="BNG-1", cono=100, workflow_id="order-BNG-1", temp_orno="T1"
        )
    with session_factory.begin() as session:
        confirmed = link_order(
            session, bng_order_id="BNG-1", cono=100, workflow_id="order-BNG-1-r2", orno="1000042"
        )
    assert confirmed.id == created.id
    with session_factory() as session:
        row = find_order_by_m3(session, 100, "1000042")
        assert row is not None
        assert (row.bng_order_id, row.m3_temp_orno, row.m3_orno, row.workflow_id) == (
            "BNG-1",
            "T1",
            "1000042",
            "order-BNG-1-r2",
        )
        assert find_order_by_bng(session, "BNG-1") is not None
        assert find_order_by_bng(session, "BNG-2") is None
        assert find_order_by_m3(session, 200, "1000042") is None
    assert count(session_factory, OrderXref) == 1


def test_orders_without_orno_do_not_collide(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link_order(session, bng_order_id="BNG-1", cono=100, workflow_id="w1")
        link_order(session, bng_order_id="BNG-2", cono=100, workflow_id="w2")
    assert count(session_factory, OrderXref) == 2


def test_order_conflicts(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link_order(session, bng_order_id="BNG-1", cono=100, workflow_id="w1", orno="1000042")
    with (
        session_factory.begin() as session,
        pytest.raises(XrefConflictError, match="already linked to BNG order 'BNG-1'"),
    ):
        link_order(session, bng_order_id="BNG-2", cono=100, workflow_id="w2", orno="1000042")
    with (
        session_factory.begin() as session,
        pytest.raises(XrefConflictError, match="already linked to M3 order 1000042"),
    ):
        link_order(session, bng_order_id="BNG-1", cono=100, workflow_id="w1", orno="1000043")
    with (
        session_factory.begin() as session,
        pytest.raises(XrefConflictError, match="belongs to M3 company 100"),
    ):
        link_order(session, bng_order_id="BNG-1", cono=200, workflow_id="w1")


def test_record_event_deduplicates(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        assert record_event(session, EventSource.BNG_WEBHOOK, "msg_1") is True
        assert record_event(session, "bng-webhook", "msg_1") is False
        # The same id from another source is another event.
        assert record_event(session, "ion-bod", "msg_1") is True
    with session_factory.begin() as session:
        assert record_event(session, "bng-webhook", "msg_1") is False
    assert count(session_factory, ReceivedEvent) == 2


def test_unknown_event_source_is_rejected(session_factory: Factory) -> None:
    with (
        session_factory.begin() as session,
        pytest.raises(ValueError, match="'kafka' is not a valid EventSource"),
    ):
        record_event(session, "kafka", "msg_1")


def lose_the_race_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the repository's pre-check miss a row once, as if another transaction committed it
    between the check and the insert."""
    real = getattr(xref, name)
    calls = 0

    def racing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return None if calls == 1 else real(*args, **kwargs)

    monkeypatch.setattr(xref, name, racing)


def test_losing_an_event_race_keeps_the_callers_transaction(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_transaction(session_factory, lambda s: record_event(s, "ion-bod", "bod-7"))
    lose_the_race_once(monkeypatch, "_event_seen")
    with session_factory.begin() as session:
        link_order(session, bng_order_id="BNG-1", cono=100, workflow_id="w1")
        assert record_event(session, "ion-bod", "bod-7") is False  # via IntegrityError and re-read
        link_customer(session, bng_customer_id="CUST-1", cono=100, cuno="C0001")
    assert (count(session_factory, ReceivedEvent), count(session_factory, OrderXref)) == (1, 1)
    assert count(session_factory, CustomerXref) == 1


def test_losing_a_link_race_returns_the_winners_row_or_a_conflict(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = in_transaction(
        session_factory, lambda s: link_customer(s, bng_customer_id="CUST-1", cono=100, cuno="C0001")
    )
    lose_the_race_once(monkeypatch, "_existing_customer_link")
    with session_factory.begin() as session:
        assert link_customer(session, bng_customer_id="CUST-1", cono=100, cuno="C0001").id == winner.id
    # Committed between the lookup by BNG id and the lookup by CUNO: the same pair, no conflict.
    lose_the_race_once(monkeypatch, "find_customer")
    with session_factory.begin() as session:
        assert link_customer(session, bng_customer_id="CUST-1", cono=100, cuno="C0001").id == winner.id
    monkeypatch.undo()
    lose_the_race_once(monkeypatch, "_existing_customer_link")
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="already linked to BNG"):
        link_customer(session, bng_customer_id="CUST-2", cono=100, cuno="C0001")
    assert count(session_factory, CustomerXref) == 1


def test_concurrent_link_and_record_leave_one_row_each(session_factory: Factory) -> None:
    threads = 8
    barrier = threading.Barrier(threads)

    def deliver(_: int) -> tuple[int, bool]:
        # Two races, each in its own transaction, so that neither serialises the other.
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            row_id = link_customer(session, bng_customer_id="CUST-RACE", cono=100, cuno="C0099").id
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            first_time = record_event(session, "bng-webhook", "msg_race")
        return row_id, first_time

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(deliver, range(threads)))  # re-raises any exception from a thread

    assert len({row_id for row_id, _ in results}) == 1
    assert sorted(first for _, first in results) == [False] * (threads - 1) + [True]
    assert count(session_factory, CustomerXref) == 1
    assert count(session_factory, ReceivedEvent) == 1
