"""Fresh databases for the storage tests, once on SQLite and once on PostgreSQL.

PostgreSQL tests run in a schema of their own (via search_path), dropped at the end, so they
neither see nor leave data in the shared test database. Every schema is made by the migrations,
exactly as the worker and the receiver make it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory, upgrade_schema
from storage.models import Base

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped afterwards; skips (or fails under
    CI=true) when PostgreSQL is not there."""
    url = postgres_url()
    schema = f"m3bng_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(_with_connect_timeout(url))
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL not reachable at {url}: {error.orig or error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield _with_connect_timeout(url, search_path=schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    with postgres_schema() as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def session_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        # A nested folder that does not exist yet: make_engine must create it.
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'xref.db'}")
        upgrade_schema(engine)
        yield make_session_factory(engine)
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_engine")
    yield make_session_factory(engine)
    with engine.begin() as connection:
        names = ", ".join(table.name for table in Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for the migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with postgres_schema() as url:
        yield url


def _with_connect_timeout(url: str, *, search_path: str | None = None) -> str:
    query = {"connect_timeout": "3"}
    if search_path is not None:
        query["options"] = f"-csearch_path={search_path}"
    return make_url(url).update_query_dict(query).render_as_string(hide_password=False)
