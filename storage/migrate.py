"""Migrate the cross-reference store by hand; the worker and the receiver upgrade it at start-up.

    python -m storage.migrate [upgrade [REV]]   # default: to the newest revision
    python -m storage.migrate current
    python -m storage.migrate downgrade REV     # e.g. 0001_initial, or base (drops everything)

The database is settings' DATABASE_URL (default sqlite:///var/m3bng.db).

A new revision, from the models' difference to a database at head (then ruff --fix/format it):
    alembic.command.revision(storage.db.alembic_config(connection), "purchase orders",
                             autogenerate=True, rev_id="0003_purchase_orders")
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from settings import Settings
from storage.db import current_revision, downgrade_schema, make_engine, upgrade_schema


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m storage.migrate", description="Migrate the cross-reference store."
    )
    commands = parser.add_subparsers(dest="command")
    upgrade = commands.add_parser("upgrade", help="migrate up to REV (default: head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    commands.add_parser("current", help="print the revision the database is at")
    downgrade = commands.add_parser("downgrade", help="migrate down to REV")
    downgrade.add_argument("revision")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # Alembic says what it runs

    engine = make_engine(Settings().database_url)
    try:
        if args.command == "current":
            print(current_revision(engine) or "none (empty, or made before migrations)")
        elif args.command == "downgrade":
            downgrade_schema(engine, args.revision)
        else:
            upgrade_schema(engine, getattr(args, "revision", "head"))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
