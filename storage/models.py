"""Tables of the cross-reference store.

Migration-friendly on purpose: explicit table names and a naming convention, so every
constraint has a stable name an Alembic migration can refer to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventSource(StrEnum):
    BNG_WEBHOOK = "bng-webhook"
    ION_BOD = "ion-bod"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now()
    )


class EntityLink(Timestamps, Base):
    """A BNG record and the M3 record (company + key) it is synchronised with, for any entity.

    ``synced_state`` holds the canonical field values last written to both systems, so a
    reconciliation can tell which side changed since; ``version`` counts those writes and lets a
    caller detect that someone else synced in between (optimistic concurrency).
    """

    __tablename__ = "entity_link"
    __table_args__ = (
        UniqueConstraint("entity", "bng_key"),
        UniqueConstraint("entity", "m3_cono", "m3_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    bng_key: Mapped[str] = mapped_column(String(128))
    m3_cono: Mapped[int] = mapped_column(Integer)
    m3_key: Mapped[str] = mapped_column(String(64))
    synced_state: Mapped[dict[str, str] | None] = mapped_column(JSON)
    synced_hash: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    def __repr__(self) -> str:
        return f"EntityLink({self.entity} {self.bng_key!r} <-> {self.m3_cono}/{self.m3_key} v{self.version})"


class OrderXref(Timestamps, Base):
    """A BNG order, the M3 order made from it, and the workflow that did it."""

    __tablename__ = "order_xref"
    # NULL orders (not yet confirmed) never collide: NULLs are distinct in both databases.
    __table_args__ = (UniqueConstraint("m3_cono", "m3_orno"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bng_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    m3_cono: Mapped[int] = mapped_column(Integer)
    # OIS100MI AddBatchHead's ORNO; Confirm may return a different, final one.
    m3_temp_orno: Mapped[str | None] = mapped_column(String(10))
    m3_orno: Mapped[str | None] = mapped_column(String(10))
    workflow_id: Mapped[str] = mapped_column(String(255))

    def __repr__(self) -> str:
        return f"OrderXref({self.bng_order_id!r} <-> {self.m3_cono}/{self.m3_orno or self.m3_temp_orno})"


class PaymentBatch(Base):
    """The ARS040MI payment batch number (PBID) given to one BNG payment.

    PBIDs come from this table's own sequence inside a range reserved for m3bng, so two payments
    can never share one, and every attempt to post a payment uses the batch it was given first.
    """

    __tablename__ = "payment_batch"
    __table_args__ = (UniqueConstraint("m3_cono", "pbid"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bng_payment_id: Mapped[str] = mapped_column(String(128), unique=True)
    m3_cono: Mapped[int] = mapped_column(Integer)
    pbid: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"PaymentBatch({self.bng_payment_id!r} -> {self.m3_cono}/{self.pbid})"


class ReceivedEvent(Base):
    """One delivery seen from BNG or ION; the unique key turns redeliveries into no-ops."""

    __tablename__ = "received_event"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )


class SyncRun(Base):
    """One reconciliation of an entity: when, why, how it ended, and what it found."""

    __tablename__ = "sync_run"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING.value)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # A sample of what differed (small dicts); the caller caps it, so a report never grows unbounded.
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"SyncRun({self.id} {self.entity} {self.trigger} {self.status})"


class DeadLetterStatus(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


class DeadLetter(Base):
    """An authenticated event the receiver could not route, kept whole for an operator to replay.

    ``body`` is the event as received (a webhook's JSON, a BOD's XML); ``headers`` holds the few
    headers worth keeping (``webhook-id``…, never a signature or an Authorization header).
    """

    __tablename__ = "dead_letter"
    # A redelivery of the same event finds its row; NULL event ids never collide.
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(128))
    business_key: Mapped[str | None] = mapped_column(String(128))
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # "text" (UTF-8, as received), or "base64" for the rare body that is not UTF-8.
    body_encoding: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    replay_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_replay_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_replay_outcome: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeadLetterStatus.OPEN.value, index=True)
    discard_reason: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"DeadLetter({self.id} {self.source} {self.event_type} {self.business_key!r} {self.status})"


class DocumentKind(StrEnum):
    """The procure-to-pay and finance documents m3bng carries into M3."""

    PURCHASE_ORDER = "purchase_order"
    SUPPLIER_INVOICE = "supplier_invoice"
    JOURNAL = "journal"
    REFUND = "refund"
    GOODS_RECEIPT = "goods_receipt"


class DocumentLink(Timestamps, Base):
    """A BNG document, the M3 record made from it, and the workflow that carries it.

    ``m3_key`` is the M3 number that identifies the record (PUNO, INBN, the GLS840MI KEY1, a
    goods receipt's MSGN); NULL until M3 gave it. ``m3_extra`` is a second, kind-specific M3
    number: the PPS370MI MSGN of a purchase-order entry in progress, a journal's voucher...
    """

    __tablename__ = "document_link"
    __table_args__ = (
        UniqueConstraint("kind", "bng_id"),
        # The BOD routing's look-up by M3 number. link() refuses a second document on one number.
        Index("ix_document_link_kind_cono_m3_key", "kind", "cono", "m3_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    bng_id: Mapped[str] = mapped_column(String(128))
    cono: Mapped[int] = mapped_column(Integer)
    m3_key: Mapped[str | None] = mapped_column(String(64))
    m3_extra: Mapped[str | None] = mapped_column(String(64))
    workflow_id: Mapped[str] = mapped_column(String(255))

    def __repr__(self) -> str:
        extra = f" ({self.m3_extra})" if self.m3_extra else ""
        return f"DocumentLink({self.kind} {self.bng_id!r} <-> {self.cono}/{self.m3_key}{extra})"


class InboxEntry(Base):
    """A webhook the receiver acknowledged and has not yet handed to Temporal (starter/intake.py).

    Written before the 2xx, so an ack survives a crash; deleted once its workflow is started (or
    it is dead-lettered). ``lease_until`` is when a forwarder that claimed it (by writing it) may
    be presumed dead: until then no other forwarder takes it.
    """

    __tablename__ = "intake_inbox"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"InboxEntry({self.id} {self.source} {self.event_id!r} {self.business_key!r})"


class WriteAttempt(Base):
    """A write to M3 that some attempt has started (activities/exactly_once.first_attempt).

    Recorded, and committed, before the write is sent: while a write has no row, no attempt can
    have made its effect, so the first attempt writes without looking in M3 first.
    """

    __tablename__ = "write_attempt"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"WriteAttempt({self.key!r})"
