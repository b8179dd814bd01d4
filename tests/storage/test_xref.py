"""The cross-reference repository, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from storage import xref
from storage.models import EntityLink, OrderXref, RunStatus, SyncRun
from storage.xref import (
    StaleSyncStateError,
    XrefConflictError,
    find_link,
    find_order_by_bng,
    find_order_by_m3,
    finish_run,
    latest_runs,
    link,
    link_order,
    links_by_bng_keys,
    links_by_m3_keys,
    record_synced,
    start_run,
)

Factory = sessionmaker[Session]
T = TypeVar("T")
THREADS = 8


def in_transaction(factory: Factory, work: Callable[[Session], T]) -> T:
    with factory.begin() as session:
        return work(session)


def count(factory: Factory, model: type[EntityLink | OrderXref | SyncRun]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def link_customer(session: Session, bng_key: str, m3_key: str, cono: int = 100) -> EntityLink:
    return link(session, "customer", cono=cono, bng_key=bng_key, m3_key=m3_key)


def read_link(factory: Factory, entity: str, bng_key: str, cono: int = 100) -> EntityLink:
    with factory() as session:
        row = find_link(session, entity, cono=cono, bng_key=bng_key)
        assert row is not None
        return row


@contextmanager
def selects(session: Session) -> Iterator[list[str]]:
    """The SELECT statements the session's engine runs inside the block (not BEGIN and such)."""
    seen: list[str] = []

    def remember(*args: Any) -> None:
        statement = args[2]  # (conn, cursor, statement, parameters, context, executemany)
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def run_in_threads(work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(THREADS)

    def start_together(index: int) -> T:
        barrier.wait(timeout=10)
        return work(index)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(start_together, range(THREADS)))  # re-raises any thread's exception


# --- links --------------------------------------------------------------------------------------


def test_link_and_find_round_trip(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        linked = link_customer(session, "CUST-1", "C0001")
    with session_factory() as session:
        by_bng = find_link(session, "customer", cono=100, bng_key="CUST-1")
        by_m3 = find_link(session, "customer", cono=100, m3_key="C0001")
        assert by_bng is not None and by_m3 is not None
        assert by_bng.id == by_m3.id == linked.id
        assert (by_bng.entity, by_bng.bng_key, by_bng.m3_cono, by_bng.m3_key) == (
            "customer",
            "CUST-1",
            100,
            "C0001",
        )
        assert (by_bng.version, by_bng.synced_state, by_bng.synced_at) == (0, None, None)
        assert by_bng.created_at is not None and by_bng.updated_at is not None
        assert find_link(session, "customer", cono=100, bng_key="CUST-2") is None
        assert find_link(session, "customer", cono=200, m3_key="C0001") is None
        # The link belongs to company 100: looked up in another company, the BNG record is unlinked.
        assert find_link(session, "customer", cono=200, bng_key="CUST-1") is None


@pytest.mark.parametrize("keys", [{}, {"bng_key": "CUST-1", "m3_key": "C0001"}])
def test_find_link_needs_exactly_one_key(session_factory: Factory, keys: dict[str, str]) -> None:
    with session_factory() as session, pytest.raises(ValueError, match="exactly one of bng_key and m3_key"):
        find_link(session, "customer", cono=100, **keys)


def test_relinking_the_same_pair_returns_the_same_row(session_factory: Factory) -> None:
    first = in_transaction(session_factory, lambda s: link_customer(s, "CUST-1", "C0001"))
    again = in_transaction(session_factory, lambda s: link_customer(s, "CUST-1", "C0001"))
    assert again.id == first.id
    assert count(session_factory, EntityLink) == 1


def test_same_m3_key_in_another_company_is_a_different_record(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link_customer(session, "CUST-1", "C0001", cono=100)
        link_customer(session, "CUST-2", "C0001", cono=200)
    assert count(session_factory, EntityLink) == 2


@pytest.mark.parametrize(
    ("bng_key", "cono", "m3_key", "message"),
    [
        ("CUST-1", 100, "C0002", "BNG customer 'CUST-1' is already linked to M3 customer 100/C0001"),
        ("CUST-1", 200, "C0001", "BNG customer 'CUST-1' is already linked to M3 customer 100/C0001"),
        ("CUST-2", 100, "C0001", "M3 customer 100/C0001 is already linked to BNG customer 'CUST-1'"),
    ],
)
def test_linking_either_side_elsewhere_is_a_conflict(
    session_factory: Factory, bng_key: str, cono: int, m3_key: str, message: str
) -> None:
    in_transaction(session_factory, lambda s: link_customer(s, "CUST-1", "C0001"))
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match=message):
        link_customer(session, bng_key, m3_key, cono=cono)
    assert count(session_factory, EntityLink) == 1


def test_entities_are_isolated(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        customer = link(session, "customer", cono=100, bng_key="K1", m3_key="X1")
        supplier = link(session, "supplier", cono=100, bng_key="K1", m3_key="X1")
        # K1 is linked to X1 as a customer; as an item it may point anywhere.
        item = link(session, "item", cono=100, bng_key="K1", m3_key="X2")
    assert len({customer.id, supplier.id, item.id}) == 3
    with session_factory() as session:
        found = find_link(session, "supplier", cono=100, m3_key="X1")
        assert found is not None and (found.id, found.entity) == (supplier.id, "supplier")
        assert find_link(session, "inventory", cono=100, bng_key="K1") is None
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="M3 item 100/X2"):
        link(session, "item", cono=100, bng_key="K2", m3_key="X2")
    assert count(session_factory, EntityLink) == 3


def test_links_by_keys_read_a_page_in_one_query(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        for n in range(1, 4):
            link(session, "item", cono=100, bng_key=f"SKU-{n}", m3_key=f"ITEM{n}")
        link(session, "item", cono=200, bng_key="SKU-9", m3_key="ITEM1")  # another company
        link(session, "supplier", cono=100, bng_key="SKU-4", m3_key="ITEM4")  # another entity
    with session_factory() as session:
        with selects(session) as by_m3_sql:
            by_m3 = links_by_m3_keys(session, "item", 100, ["ITEM1", "ITEM3", "ITEM4", "ITEM1", "NOPE"])
        with selects(session) as by_bng_sql:
            by_bng = links_by_bng_keys(session, "item", 100, ["SKU-2", "SKU-9", "SKU-4"])
        with selects(session) as empty_sql:
            assert links_by_m3_keys(session, "item", 100, []) == {}
        with pytest.raises(TypeError, match="not one string"):
            links_by_bng_keys(session, "item", 100, "SKU-1")
    assert {key: row.bng_key for key, row in by_m3.items()} == {"ITEM1": "SKU-1", "ITEM3": "SKU-3"}
    assert {key: row.m3_key for key, row in by_bng.items()} == {"SKU-2": "ITEM2"}
    assert (len(by_m3_sql), len(by_bng_sql), len(empty_sql)) == (1, 1, 0)


# --- synced state -------------------------------------------------------------------------------


def test_record_synced_links_then_updates_and_counts_versions(session_factory: Factory) -> None:
    first_state = {"name": "Widget", "unit": "EA"}
    with session_factory.begin() as session:
        created = record_synced(session, "item", cono=100, bng_key="SKU-1", m3_key="ITEM1", state=first_state)
    row = read_link(session_factory, "item", "SKU-1")
    assert (row.id, row.m3_key, row.version) == (created.id, "ITEM1", 1)
    assert row.synced_state == first_state
    assert row.synced_at is not None
    first_synced_at = row.synced_at

    second_state = {"name": "Widget XL", "unit": "EA"}
    with session_factory.begin() as session:
        record_synced(
            session,
            "item",
            cono=100,
            bng_key="SKU-1",
            m3_key="ITEM1",
            state=second_state,
            expected_version=1,
        )
    row = read_link(session_factory, "item", "SKU-1")
    assert (row.id, row.version, row.synced_state) == (created.id, 2, second_state)
    assert row.synced_at is not None and row.synced_at >= first_synced_at
    assert count(session_factory, EntityLink) == 1


def test_record_synced_on_an_existing_link_keeps_it(session_factory: Factory) -> None:
    linked = in_transaction(session_factory, lambda s: link_customer(s, "CUST-1", "C0001"))
    with session_factory.begin() as session:
        synced = record_synced(
            session,
            "customer",
            cono=100,
            bng_key="CUST-1",
            m3_key="C0001",
            state={"name": "ACME"},
            expected_version=0,
        )
    assert (synced.id, synced.version) == (linked.id, 1)


def test_stale_expected_version_is_refused_and_changes_nothing(session_factory: Factory) -> None:
    in_transaction(
        session_factory,
        lambda s: record_synced(s, "item", cono=100, bng_key="SKU-1", m3_key="ITEM1", state={"n": "1"}),
    )
    with (
        session_factory.begin() as session,
        pytest.raises(StaleSyncStateError, match="is at version 1, not 0"),
    ):
        record_synced(
            session, "item", cono=100, bng_key="SKU-1", m3_key="ITEM1", state={"n": "2"}, expected_version=0
        )
    row = read_link(session_factory, "item", "SKU-1")
    assert (row.version, row.synced_state) == (1, {"n": "1"})


def test_record_synced_on_a_conflicting_pair_is_a_conflict(session_factory: Factory) -> None:
    in_transaction(session_factory, lambda s: link(s, "item", cono=100, bng_key="SKU-1", m3_key="ITEM1"))
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="SKU-1"):
        record_synced(session, "item", cono=100, bng_key="SKU-1", m3_key="ITEM2", state={"n": "1"})
    assert read_link(session_factory, "item", "SKU-1").version == 0


def test_concurrent_record_synced_loses_no_update(session_factory: Factory) -> None:
    def sync(index: int) -> int:
        with session_factory.begin() as session:
            return record_synced(
                session, "item", cono=100, bng_key="SKU-R", m3_key="ITEMR", state={"n": str(index)}
            ).id

    ids = run_in_threads(sync)

    assert len(set(ids)) == 1
    row = read_link(session_factory, "item", "SKU-R")
    # Each sync incremented the version the one before it committed: none was lost.
    assert row.version == THREADS
    assert row.synced_state is not None and row.synced_state["n"] in {str(i) for i in range(THREADS)}
    assert count(session_factory, EntityLink) == 1


def test_concurrent_record_synced_with_the_same_expected_version_lets_one_win(
    session_factory: Factory,
) -> None:
    def sync(index: int) -> str:
        try:
            with session_factory.begin() as session:
                record_synced(
                    session,
                    "item",
                    cono=100,
                    bng_key="SKU-R",
                    m3_key="ITEMR",
                    state={"n": str(index)},
                    expected_version=0,
                )
        except StaleSyncStateError:
            return "stale"
        return "won"

    outcomes = run_in_threads(sync)

    assert sorted(outcomes) == ["stale"] * (THREADS - 1) + ["won"]
    assert read_link(session_factory, "item", "SKU-R").version == 1
    assert count(session_factory, EntityLink) == 1


def test_concurrent_conflicting_links_leave_one_and_refuse_the_rest(session_factory: Factory) -> None:
    def link_to_own_item(index: int) -> str:
        try:
            with session_factory.begin() as session:
                link(session, "item", cono=100, bng_key="SKU-R", m3_key=f"ITEM{index}")
        except XrefConflictError as error:
            assert "BNG item 'SKU-R' is already linked to M3 item 100/ITEM" in str(error)
            return "conflict"
        return "linked"

    outcomes = run_in_threads(link_to_own_item)

    assert sorted(outcomes) == ["conflict"] * (THREADS - 1) + ["linked"]
    assert count(session_factory, EntityLink) == 1


# --- reconciliation runs ------------------------------------------------------------------------


def test_a_run_starts_running_and_finishes_with_its_report(session_factory: Factory) -> None:
    started = in_transaction(session_factory, lambda s: start_run(s, "item", "cli"))
    with session_factory() as session:
        (running,) = latest_runs(session)
        assert (running.id, running.entity, running.trigger, running.status) == (
            started.id,
            "item",
            "cli",
            "running",
        )
        assert (running.finished_at, running.counts, running.differences, running.error) == (
            None,
            {},
            [],
            None,
        )

    differences = [{"key": "SKU-1", "field": "name", "bng": "A", "m3": "B"}]
    with session_factory.begin() as session:
        finish_run(
            session,
            started.id,
            status=RunStatus.COMPLETED,
            counts={"checked": 10, "different": 1},
            differences=differences,
        )
    with session_factory() as session:
        (done,) = latest_runs(session, "item")
        assert done.status == "completed"
        assert done.finished_at is not None and done.finished_at >= done.started_at
        assert (done.counts, done.differences, done.error) == (
            {"checked": 10, "different": 1},
            differences,
            None,
        )


def test_a_failed_run_keeps_its_error(session_factory: Factory) -> None:
    run_id = in_transaction(session_factory, lambda s: start_run(s, "supplier", "schedule").id)
    with session_factory.begin() as session:
        finish_run(session, run_id, status="failed", counts={"checked": 3}, differences=[], error="M3 down")
    with session_factory() as session:
        (failed,) = latest_runs(session)
        assert (failed.status, failed.counts, failed.error) == ("failed", {"checked": 3}, "M3 down")


def test_latest_runs_newest_first_by_entity_and_limit(session_factory: Factory) -> None:
    entities = ["item", "customer", "item", "supplier", "item"]
    ids = []
    for entity in entities:  # one transaction each, as separate runs would be
        with session_factory.begin() as session:
            ids.append(start_run(session, entity, "test").id)
    with session_factory() as session:
        assert [run.id for run in latest_runs(session)] == ids[::-1]
        assert [run.id for run in latest_runs(session, "item")] == [ids[4], ids[2], ids[0]]
        assert [run.id for run in latest_runs(session, "item", limit=2)] == [ids[4], ids[2]]
        assert latest_runs(session, "inventory") == []


def test_finish_run_refuses_bad_input(session_factory: Factory) -> None:
    run_id = in_transaction(session_factory, lambda s: start_run(s, "item", "test").id)
    with session_factory.begin() as session:
        with pytest.raises(ValueError, match="not running"):
            finish_run(session, run_id, status="running", counts={}, differences=[])
        with pytest.raises(ValueError, match="'done' is not a valid RunStatus"):
            finish_run(session, run_id, status="done", counts={}, differences=[])
        with pytest.raises(LookupError, match=f"no sync run {run_id + 1}"):
            finish_run(session, run_id + 1, status="completed", counts={}, differences=[])
    with session_factory() as session:
        assert latest_runs(session)[0].status == "running"


# --- orders and events --------------------------------------------------------------------------


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


# --- races --------------------------------------------------------------------------------------


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


def test_losing_a_link_race_returns_the_winners_row_or_a_conflict(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = in_transaction(session_factory, lambda s: link_customer(s, "CUST-1", "C0001"))
    lose_the_race_once(monkeypatch, "_existing_link")
    with session_factory.begin() as session:
        assert link_customer(session, "CUST-1", "C0001").id == winner.id
    # Committed between the lookup by BNG key and the lookup by M3 key: the same pair, no conflict.
    lose_the_race_once(monkeypatch, "_link_by_bng")
    with session_factory.begin() as session:
        assert link_customer(session, "CUST-1", "C0001").id == winner.id
    monkeypatch.undo()
    lose_the_race_once(monkeypatch, "_existing_link")
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="already linked to BNG"):
        link_customer(session, "CUST-2", "C0001")
    assert count(session_factory, EntityLink) == 1


def test_losing_a_link_race_inside_record_synced_still_records(
    session_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = in_transaction(session_factory, lambda s: link(s, "item", cono=100, bng_key="S", m3_key="I"))
    lose_the_race_once(monkeypatch, "_existing_link")
    with session_factory.begin() as session:
        synced = record_synced(
            session, "item", cono=100, bng_key="S", m3_key="I", state={"n": "1"}, expected_version=0
        )
    assert (synced.id, synced.version) == (winner.id, 1)
    assert count(session_factory, EntityLink) == 1


def test_concurrent_links_leave_one_row(session_factory: Factory) -> None:
    barrier = threading.Barrier(THREADS)

    def deliver(_: int) -> int:
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            return link_customer(session, "CUST-RACE", "C0099").id

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(deliver, range(THREADS)))  # re-raises any exception from a thread

    assert len(set(results)) == 1
    assert count(session_factory, EntityLink) == 1
