"""Alembic migrations of the cross-reference store; run them with storage.db.upgrade_schema."""
