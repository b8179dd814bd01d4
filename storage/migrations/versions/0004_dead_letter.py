"""Dead letters: authenticated events the receiver could not route, kept for replay.

Revision ID: 0004_dead_letter
Revises: 0003_payment_batch
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_dead_letter"
down_revision: str | None = "0003_payment_batch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("id", Id, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("business_key", sa.String(128), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_encoding", sa.String(16), server_default="text", nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("replay_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_replay_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_replay_outcome", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("discard_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_dead_letter_source_event_id")),
    )
    op.create_index(op.f("ix_dead_letter_status"), "dead_letter", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letter_status"), table_name="dead_letter")
    op.drop_table("dead_letter")
