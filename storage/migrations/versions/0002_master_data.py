"""Master data: one generic entity_link table (with the last synced state) and sync_run reports.

Revision ID: 0002_master_data
Revises: 0001_initial
Create Date: 2026-11-24

customer_xref rows become entity_link rows with entity 'customer'; bng_external_id is dropped
(BNG's ExternalID is read from BNG itself). Downgrading keeps the customer links only: links of
other entities and the synced state have no place in the old schema.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_master_data"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "entity_link",
        sa.Column("id", Id, nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("bng_key", sa.String(128), nullable=False),
        sa.Column("m3_cono", sa.Integer(), nullable=False),
        sa.Column("m3_key", sa.String(64), nullable=False),
        sa.Column("synced_state", sa.JSON(), nullable=True),
        sa.Column("synced_hash", sa.String(64), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_link")),
        sa.UniqueConstraint("entity", "bng_key", name=op.f("uq_entity_link_entity_bng_key")),
        sa.UniqueConstraint("entity", "m3_cono", "m3_key", name=op.f("uq_entity_link_entity_m3_cono_m3_key")),
    )
    op.create_table(
        "sync_run",
        sa.Column("id", Id, nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
    )
    op.execute(
        "INSERT INTO entity_link (entity, bng_key, m3_cono, m3_key, version, created_at, updated_at) "
        "SELECT 'customer', bng_customer_id, m3_cono, m3_cuno, 0, created_at, updated_at "
        "FROM customer_xref ORDER BY id"
    )
    op.drop_table("customer_xref")


def downgrade() -> None:
    op.create_table(
        "customer_xref",
        sa.Column("id", Id, nullable=False),
        sa.Column("bng_customer_id", sa.String(64), nullable=False),
        sa.Column("bng_external_id", sa.String(64), nullable=True),
        sa.Column("m3_cono", sa.Integer(), nullable=False),
        sa.Column("m3_cuno", sa.String(10), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_xref")),
        sa.UniqueConstraint("m3_cono", "m3_cuno", name=op.f("uq_customer_xref_m3_cono_m3_cuno")),
        sa.UniqueConstraint("bng_customer_id", name=op.f("uq_customer_xref_bng_customer_id")),
    )
    # A customer key longer than the old columns fails here (PostgreSQL) rather than being cut.
    op.execute(
        "INSERT INTO customer_xref (bng_customer_id, m3_cono, m3_cuno, created_at, updated_at) "
        "SELECT bng_key, m3_cono, m3_key, created_at, updated_at "
        "FROM entity_link WHERE entity = 'customer' ORDER BY id"
    )
    op.drop_table("sync_run")
    op.drop_table("entity_link")
