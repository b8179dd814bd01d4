"""The schema as ``Base.metadata.create_all`` made it before migrations existed (frozen).

A copy of storage/models.py at that time, so the tests can make a database exactly like the
var/m3bng.db files already on users' machines, and check that revision 0001 is that schema.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
)

from storage.models import NAMING_CONVENTION

Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


customer_xref = Table(
    "customer_xref",
    metadata,
    Column("id", Id, primary_key=True),
    Column("bng_customer_id", String(64), nullable=False, unique=True),
    Column("bng_external_id", String(64)),
    Column("m3_cono", Integer, nullable=False),
    Column("m3_cuno", String(10), nullable=False),
    *_timestamps(),
    UniqueConstraint("m3_cono", "m3_cuno"),
)

order_xref = Table(
    "order_xref",
    metadata,
    Column("id", Id, primary_key=True),
    Column("bng_order_id", String(64), nullable=False, unique=True),
    Column("m3_cono", Integer, nullable=False),
    Column("m3_temp_orno", String(10)),
    Column("m3_orno", String(10)),
    Column("workflow_id", String(255), nullable=False),
    *_timestamps(),
    UniqueConstraint("m3_cono", "m3_orno"),
)

received_event = Table(
    "received_event",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("source", "event_id"),
)
