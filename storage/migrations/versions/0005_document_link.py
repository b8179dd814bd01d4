"""Document links: BNG purchase orders, supplier invoices, journals, refunds and goods receipts
and the M3 records made from them.

Revision ID: 0005_document_link
Revises: 0004_dead_letter
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_document_link"
down_revision: str | None = "0004_dead_letter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "document_link",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("bng_id", sa.String(128), nullable=False),
        sa.Column("cono", sa.Integer(), nullable=False),
        sa.Column("m3_key", sa.String(64), nullable=True),
        sa.Column("m3_extra", sa.String(64), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_link")),
        sa.UniqueConstraint("kind", "bng_id", name=op.f("uq_document_link_kind_bng_id")),
    )
    op.create_index(op.f("ix_document_link_kind_cono_m3_key"), "document_link", ["kind", "cono", "m3_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_document_link_kind_cono_m3_key"), table_name="document_link")
    op.drop_table("document_link")
