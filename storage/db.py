"""Engines and sessions for the cross-reference store: SQLite for one machine, PostgreSQL beyond."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from clients.startup import Patience

SQLITE_BUSY_TIMEOUT_MS = 10_000

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# What Base.metadata.create_all made before migrations existed is exactly this revision.
BASELINE_REVISION = "0001_initial"
BASELINE_TABLES = frozenset({"customer_xref", "order_xref", "received_event"})
# Any fixed 64-bit number, the same in every m3bng process sharing a PostgreSQL database.
MIGRATION_LOCK_KEY = 0x6D33_626E_6701


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = _normalize(make_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(parsed, echo=echo)
    return create_engine(parsed, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: rows returned by the repository stay readable after the commit.
    return sessionmaker(bind=engine, expire_on_commit=False)


def wait_for_database(engine: Engine, *, wait_seconds: float | None = None) -> None:
    """Return once the database accepts a connection, logging each failed attempt.

    Waits for as long as it takes unless ``wait_seconds`` is given; then the last
    OperationalError is raised.
    """
    patience = Patience(f"the database at {engine.url.render_as_string(hide_password=True)}", wait_seconds)
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            # Only reaching the database is retried: an OperationalError inside a migration
            # (e.g. SQLite's "no such table") is a bug that waiting cannot fix.
            delay = patience.next_delay(error.orig or error)
            if delay is None:
                raise
        time.sleep(delay)


def upgrade_schema(engine: Engine, revision: str = "head", *, wait_seconds: float | None = None) -> None:
    """Migrate the database to ``revision`` with Alembic; a no-op when it is there already.

    Waits for the database first (see ``wait_for_database``), so a process started before it
    does not exit. A database that ``create_all`` made before migrations existed (its tables, no
    alembic_version) is stamped at the baseline first, then upgraded, so old var/m3bng.db files
    keep their data. Safe when several processes start at once: see ``_migration_transaction``.
    """
    wait_for_database(engine, wait_seconds=wait_seconds)
    with _migration_transaction(engine) as config:
        command.upgrade(config, revision)


def downgrade_schema(engine: Engine, revision: str) -> None:
    with _migration_transaction(engine) as config:
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty or a pre-migration database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration in code (there is no alembic.ini), running on ``connection``."""
    config = Config()
    # The value goes through configparser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    # New revisions are named by their id, e.g. rev_id="0003_purchase_orders" -> 0003_purchase_orders.py.
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Config]:
    # One transaction around the whole migration, holding a lock that a second process waits on;
    # when it gets the lock, it finds the migration done and Alembic has nothing left to run.
    # PostgreSQL: an advisory lock that the commit releases (its DDL is transactional too).
    # SQLite: make_engine's BEGIN IMMEDIATE already holds the database's write lock.
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config = alembic_config(connection)
        if _is_pre_migration_schema(connection):
            command.stamp(config, BASELINE_REVISION)
        yield config


def _is_pre_migration_schema(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return False
    found = tables & BASELINE_TABLES
    if not found:
        return False  # an empty database: every migration runs
    if found != BASELINE_TABLES:
        raise RuntimeError(
            f"the database has {sorted(found)} but not {sorted(BASELINE_TABLES - found)}: "
            "neither empty nor a schema made before migrations; fix it by hand"
        )
    return True


def _normalize(url: URL) -> URL:
    # Plain "postgresql://" would pick psycopg2; this project ships psycopg 3.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _make_sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module, which would skip BEGIN before
        # SELECT and SAVEPOINT; SQLAlchemy emits BEGIN itself below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout
        # instead of failing with "database is locked" when a read transaction upgrades.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
