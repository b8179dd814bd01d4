"""The Alembic migrations of the store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from storage.db import (
    MIGRATION_LOCK_KEY,
    MIGRATIONS_DIR,
    current_revision,
    downgrade_schema,
    make_engine,
    make_session_factory,
    upgrade_schema,
)
from storage.models import Base, EntityLink
from storage.xref import find_link, link, record_synced
from tests.storage import legacy_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
BASELINE = "0001_initial"


@contextmanager
def engine_on(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_differences(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would change to make the database match ``metadata``; [] if it does."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def model_tables() -> set[str]:
    return set(Base.metadata.tables)


def test_the_revisions_are_one_line_from_0001_to_head() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert [rev.revision for rev in script.walk_revisions()] == [
        "0007_write_attempt",
        "0006_intake_inbox",
        "0005_document_link",
        "0004_dead_letter",
        "0003_payment_batch",
        "0002_master_data",
        "0001_initial",
    ]
    assert HEAD == "0007_write_attempt"


def test_upgrade_of_an_empty_database_gives_exactly_the_models(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        upgrade_schema(engine)
        assert current_revision(engine) == HEAD
        assert tables(engine) == model_tables() | {"alembic_version"}
        assert schema_differences(engine, Base.metadata) == []


def test_upgrading_again_does_nothing(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        upgrade_schema(engine)
        with make_session_factory(engine).begin() as session:
            link(session, "customer", cono=100, bng_key="CUST-1", m3_key="C0001")
        upgrade_schema(engine)
        assert current_revision(engine) == HEAD
        with make_session_factory(engine)() as session:
            assert find_link(session, "customer", cono=100, bng_key="CUST-1") is not None


def test_revision_0001_is_the_schema_create_all_made(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        upgrade_schema(engine, BASELINE)
        assert current_revision(engine) == BASELINE
        assert tables(engine) == set(legacy_schema.metadata.tables) | {"alembic_version"}
        assert schema_differences(engine, legacy_schema.metadata) == []


def test_a_legacy_create_all_database_is_stamped_and_keeps_its_links(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        legacy_schema.metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                insert(legacy_schema.customer_xref).values(
                    bng_customer_id="CUST-1", bng_external_id="C0001", m3_cono=100, m3_cuno="C0001"
                )
            )
            connection.execute(
                insert(legacy_schema.order_xref).values(
                    bng_order_id="BNG-1", m3_cono=100, m3_orno="1000042", workflow_id="order-BNG-1"
                )
            )
            connection.execute(insert(legacy_schema.received_event).values(source="ion-bod", event_id="b1"))
        assert current_revision(engine) is None

        upgrade_schema(engine)

        assert current_revision(engine) == HEAD
        assert tables(engine) == model_tables() | {"alembic_version"}
        assert schema_differences(engine, Base.metadata) == []
        with Session(engine) as session:
            (row,) = session.scalars(select(EntityLink)).all()
            assert (row.entity, row.bng_key, row.m3_cono, row.m3_key, row.version) == (
                "customer",
                "CUST-1",
                100,
                "C0001",
                0,
            )
            assert (row.synced_state, row.synced_hash, row.synced_at) == (None, None, None)
            assert row.created_at is not None
            found = find_link(session, "customer", cono=100, m3_key="C0001")
            assert found is not None and found.id == row.id
            orders = session.execute(select(legacy_schema.order_xref.c.bng_order_id)).scalars().all()
            events = session.execute(select(legacy_schema.received_event.c.event_id)).scalars().all()
            assert (orders, events) == (["BNG-1"], ["b1"])


def test_a_partial_legacy_database_is_refused(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        legacy_schema.order_xref.create(engine)
        with pytest.raises(RuntimeError, match=r"not \['customer_xref', 'received_event'\]"):
            upgrade_schema(engine)
        assert tables(engine) == {"order_xref"}  # rolled back, nothing half done


def test_downgrade_to_0001_and_upgrade_again(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        upgrade_schema(engine)
        with make_session_factory(engine).begin() as session:
            link(session, "customer", cono=100, bng_key="CUST-1", m3_key="C0001")
            record_synced(session, "customer", cono=100, bng_key="CUST-2", m3_key="C0002", state={"n": "x"})
            link(session, "item", cono=100, bng_key="SKU-1", m3_key="ITEM1")

        downgrade_schema(engine, BASELINE)

        assert current_revision(engine) == BASELINE
        assert schema_differences(engine, legacy_schema.metadata) == []
        with engine.connect() as connection:
            customers = connection.execute(
                select(legacy_schema.customer_xref.c.bng_customer_id, legacy_schema.customer_xref.c.m3_cuno)
            ).all()
        # Only customers have a place in the old schema.
        assert sorted(tuple(c) for c in customers) == [("CUST-1", "C0001"), ("CUST-2", "C0002")]

        upgrade_schema(engine)

        assert current_revision(engine) == HEAD
        assert schema_differences(engine, Base.metadata) == []
        with make_session_factory(engine)() as session:
            keys = session.execute(select(EntityLink.entity, EntityLink.bng_key, EntityLink.m3_key)).all()
        assert sorted(tuple(k) for k in keys) == [
            ("customer", "CUST-1", "C0001"),
            ("customer", "CUST-2", "C0002"),
        ]


def test_downgrade_to_base_drops_everything(empty_database_url: str) -> None:
    with engine_on(empty_database_url) as engine:
        upgrade_schema(engine)
        downgrade_schema(engine, "base")
        assert tables(engine) <= {"alembic_version"}
        assert current_revision(engine) is None


@contextmanager
def holding_the_migration_lock(url: str) -> Iterator[Callable[[str], int]]:
    """Hold the lock upgrade_schema takes; yields a count of the backends of one application
    name that wait for it (PostgreSQL only: SQLite cannot show its waiters, so 0 there)."""
    with engine_on(url) as engine, engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE
        if engine.dialect.name != "postgresql":
            yield lambda _name: 0
            return
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        with engine_on(url) as observer:

            def waiting(application_name: str) -> int:
                with observer.connect() as watch:
                    return watch.scalar(WAITING_FOR_ADVISORY_LOCK, {"name": application_name}) or 0

            yield waiting


WAITING_FOR_ADVISORY_LOCK = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = :name"
)


def test_two_processes_starting_at_once_migrate_once(empty_database_url: str) -> None:
    # The receiver and the worker start together: both upgrade, one waits, then finds head.
    name = f"m3bng-migrate-{uuid.uuid4().hex[:8]}"
    url = make_url(empty_database_url)
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"application_name": name})
    env = {**os.environ, "DATABASE_URL": url.render_as_string(hide_password=False)}

    def migrate(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "storage.migrate", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    upgrades: list[subprocess.Popen[str]] = []
    try:
        with holding_the_migration_lock(empty_database_url) as waiting:
            upgrades = [migrate("upgrade"), migrate("upgrade")]
            if url.get_backend_name() == "postgresql":
                # Both must be queued on the lock, so that they really race once it is free.
                deadline = time.monotonic() + 30
                while waiting(name) < 2:
                    assert time.monotonic() < deadline, "the upgrades never waited for the migration lock"
                    time.sleep(0.1)
            else:
                time.sleep(2)  # SQLite: let both start and queue on BEGIN IMMEDIATE (busy_timeout)
        outputs = [process.communicate(timeout=60)[0] for process in upgrades]
    finally:
        for process in upgrades:
            process.kill()
            process.wait()

    assert [process.returncode for process in upgrades] == [0, 0], outputs
    # Exactly one of the two ran the migrations; the other found the head already there.
    ran = [output for output in outputs if "Running upgrade 0001_initial -> 0002_master_data" in output]
    assert len(ran) == 1, outputs

    current = migrate("current")
    assert current.communicate(timeout=60)[0].strip().splitlines()[-1] == HEAD
    assert current.returncode == 0
    with engine_on(empty_database_url) as engine:
        assert schema_differences(engine, Base.metadata) == []
