"""Intake inbox: webhooks acknowledged durably and not yet handed to Temporal.

Revision ID: 0006_intake_inbox
Revises: 0005_document_link
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_intake_inbox"
down_revision: str | None = "0005_document_link"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_inbox",
        sa.Column("id", Id, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(128), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_inbox")),
    )
    op.create_index(op.f("ix_intake_inbox_lease_until"), "intake_inbox", ["lease_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_inbox_lease_until"), table_name="intake_inbox")
    op.drop_table("intake_inbox")
