"""The sandbox's SQLite tables: one JSON document per entity, plus the webhook outbox.

Keeping entities as JSON documents means the stored shape is exactly what the API serves; the
few columns beside the document (parent, updated_at) are there to filter and page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Engine, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from sandbox.engine import sandbox_engine


class Base(DeclarativeBase):
    pass


class Document(Base):
    """A customer, product, order, payment or inventory level, as BNG serves it."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kind", "key"), Index("ix_documents_kind_parent", "kind", "parent"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    # The owning order of a payment; None for top-level entities.
    parent: Mapped[str | None] = mapped_column(String(200), default=None)
    updated_at: Mapped[float] = mapped_column(Float)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class StatusHistory(Base):
    """Each status change an order received, in arrival order: what M3 told BNG, and when."""

    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON)


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    # Event types this endpoint wants; empty means all of them.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)


# The dispatcher reads the oldest pending messages in id order: with the index on
# next_attempt_at instead, SQLite sorted every pending row per round (150,000 in a bulk load).
OUTBOX_PENDING = Index("ix_outbox_pending_in_order", "delivered", "failed", "id")


class OutboxMessage(Base):
    """One webhook message for one endpoint, kept until delivered or given up (and after)."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (OUTBOX_PENDING,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    msg_id: Mapped[str] = mapped_column(String(64), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    # Messages with the same key (e.g. "order:BNG-10001") are delivered one after the other.
    ordering_key: Mapped[str | None] = mapped_column(String(255), default=None)
    # The exact bytes that get signed and sent, so a redelivery is byte-identical.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    deliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered: Mapped[bool] = mapped_column(default=False)
    failed: Mapped[bool] = mapped_column(default=False)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, default=None)


def make_engine(database_url: str) -> Engine:
    engine = sandbox_engine(database_url)
    Base.metadata.create_all(engine)
    OUTBOX_PENDING.create(engine, checkfirst=True)  # also on a file from before it
    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
