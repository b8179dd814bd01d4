"""Payment batch numbers: one collision-free ARS040MI PBID per BNG payment.

Revision ID: 0003_payment_batch
Revises: 0002_master_data
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payment_batch"
down_revision: str | None = "0002_master_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payment_batch",
        sa.Column("id", Id, nullable=False),
        sa.Column("bng_payment_id", sa.String(128), nullable=False),
        sa.Column("m3_cono", sa.Integer(), nullable=False),
        sa.Column("pbid", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_batch")),
        sa.UniqueConstraint("bng_payment_id", name=op.f("uq_payment_batch_bng_payment_id")),
        sa.UniqueConstraint("m3_cono", "pbid", name=op.f("uq_payment_batch_m3_cono_pbid")),
    )


def downgrade() -> None:
    op.drop_table("payment_batch")
