"""The schema as Base.metadata.create_all made it before migrations: customers, orders, events.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24

Databases created by create_all have exactly these tables and no alembic_version; upgrade_schema
stamps them at this revision instead of running it.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
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
    op.create_table(
        "order_xref",
        sa.Column("id", Id, nullable=False),
        sa.Column("bng_order_id", sa.String(64), nullable=False),
        sa.Column("m3_cono", sa.Integer(), nullable=False),
        sa.Column("m3_temp_orno", sa.String(10), nullable=True),
        sa.Column("m3_orno", sa.String(10), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_xref")),
        sa.UniqueConstraint("m3_cono", "m3_orno", name=op.f("uq_order_xref_m3_cono_m3_orno")),
        sa.UniqueConstraint("bng_order_id", name=op.f("uq_order_xref_bng_order_id")),
    )
    op.create_table(
        "received_event",
        sa.Column("id", Id, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_event")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_received_event_source_event_id")),
    )


def downgrade() -> None:
    op.drop_table("received_event")
    op.drop_table("order_xref")
    op.drop_table("customer_xref")
