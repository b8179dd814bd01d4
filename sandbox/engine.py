"""The sandboxes' SQLAlchemy engine: in memory, or a SQLite file cheap to commit to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

IN_MEMORY = ("sqlite://", "sqlite:///:memory:")


def sandbox_engine(database_url: str) -> Engine:
    """An engine for an emulator's store.

    A file is put in WAL mode with ``synchronous=NORMAL``: it survives the sandbox's own crash,
    not a power cut, which an emulator does not need to. With SQLite's default (a rollback journal
    and an fsync per commit) the sandboxes' commits were a visible part of every bench figure.
    """
    if not database_url.startswith("sqlite"):
        return create_engine(database_url)
    connect_args = {"check_same_thread": False}
    if database_url in IN_MEMORY:
        # One shared connection, or every new connection would see its own empty database.
        return create_engine(database_url, connect_args=connect_args, poolclass=StaticPool)
    engine = create_engine(database_url, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
