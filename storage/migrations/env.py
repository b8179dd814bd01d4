"""Alembic environment of the cross-reference store.

Configured in code, not by an alembic.ini: storage.db hands over an open connection in
``config.attributes["connection"]``, inside the transaction (and lock) it already holds.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table into a new one instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if context.is_offline_mode() or _connection is None:
    raise RuntimeError(
        "storage migrations run on a live connection: use storage.db.upgrade_schema "
        "or python -m storage.migrate"
    )
run_migrations(_connection)
