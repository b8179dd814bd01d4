"""The sandbox tenant's tables (named after M3's where natural) and the store that guards them.

One lock serialises every unit of work: SQLite allows one writer anyway, and an in-memory database
is a single shared connection, so the lock is what makes concurrent requests safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Index, String, Text, func, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from sandbox.engine import sandbox_engine


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals on SQLite, which has no decimal type: stored as text."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


ZERO = Decimal("0")
DEFAULT_LOCATION = "A-01-01"


class Base(DeclarativeBase):
    type_annotation_map = {Decimal: DecimalText(), str: String(80)}


class NumberSeries(Base):
    """CSYNBR: M3's number series; one row per series, holding the next number to hand out."""

    __tablename__ = "CSYNBR"
    series: Mapped[str] = mapped_column(primary_key=True)
    next_value: Mapped[int]


class Customer(Base):
    __tablename__ = "OCUSMA"
    CUNO: Mapped[str] = mapped_column(primary_key=True)
    CUNM: Mapped[str] = mapped_column(default="")
    CUA1: Mapped[str] = mapped_column(default="")
    CUA2: Mapped[str] = mapped_column(default="")
    CUA3: Mapped[str] = mapped_column(default="")
    CUA4: Mapped[str] = mapped_column(default="")
    PONO: Mapped[str] = mapped_column(default="")
    TOWN: Mapped[str] = mapped_column(default="")
    CSCD: Mapped[str] = mapped_column(default="")
    PHNO: Mapped[str] = mapped_column(default="")
    MAIL: Mapped[str] = mapped_column(default="")
    YREF: Mapped[str] = mapped_column(default="")
    STAT: Mapped[str] = mapped_column(default="20")
    CUCD: Mapped[str] = mapped_column(default="EUR")
    LNCD: Mapped[str] = mapped_column(default="GB")
    CUTP: Mapped[int] = mapped_column(default=0)
    ORTP: Mapped[str] = mapped_column(default="A01")
    WHLO: Mapped[str] = mapped_column(default="100")
    TEPY: Mapped[str] = mapped_column(default="30")
    MODL: Mapped[str] = mapped_column(default="")
    TEDL: Mapped[str] = mapped_column(default="")
    # Financial data (CRS610MI GetFinancial/ChgFinancial): credit limits 1-3, tax applicable
    # (1 = yes), customer stop (0 = not stopped).
    CRLM: Mapped[Decimal] = mapped_column(default=ZERO)
    CRL2: Mapped[Decimal] = mapped_column(default=ZERO)
    CRL3: Mapped[Decimal] = mapped_column(default=ZERO)
    TXAP: Mapped[int] = mapped_column(default=1)
    BLCD: Mapped[int] = mapped_column(default=0)
    RGDT: Mapped[date | None]
    LMDT: Mapped[date | None]
    LMTS: Mapped[int] = mapped_column(default=0)


class CustomerAddress(Base):
    """OCUSAD: a customer's extra addresses, by address type (1 = delivery) and address number."""

    __tablename__ = "OCUSAD"
    CUNO: Mapped[str] = mapped_column(primary_key=True)
    ADRT: Mapped[int] = mapped_column(primary_key=True)
    ADID: Mapped[str] = mapped_column(primary_key=True)
    CUNM: Mapped[str] = mapped_column(default="")
    CUA1: Mapped[str] = mapped_column(default="")
    CUA2: Mapped[str] = mapped_column(default="")
    CUA3: Mapped[str] = mapped_column(default="")
    CUA4: Mapped[str] = mapped_column(default="")
    PONO: Mapped[str] = mapped_column(default="")
    TOWN: Mapped[str] = mapped_column(default="")
    CSCD: Mapped[str] = mapped_column(default="")
    PHNO: Mapped[str] = mapped_column(default="")
    YREF: Mapped[str] = mapped_column(default="")
    LMDT: Mapped[date | None]
    LMTS: Mapped[int] = mapped_column(default=0)


class Supplier(Base):
    """CIDMAS: supplier master (CRS620MI)."""

    __tablename__ = "CIDMAS"
    SUNO: Mapped[str] = mapped_column(primary_key=True)
    SUNM: Mapped[str] = mapped_column(default="")
    SUTY: Mapped[int] = mapped_column(default=0)
    ALSU: Mapped[str] = mapped_column(default="")
    STAT: Mapped[str] = mapped_column(default="20")
    LNCD: Mapped[str] = mapped_column(default="GB")
    PHNO: Mapped[str] = mapped_column(default="")
    CSCD: Mapped[str] = mapped_column(default="")
    ECAR: Mapped[str] = mapped_column(default="")
    VRNO: Mapped[str] = mapped_column(default="")
    CUCD: Mapped[str] = mapped_column(default="")
    TEPY: Mapped[str] = mapped_column(default="")
    PYME: Mapped[str] = mapped_column(default="")
    BUYE: Mapped[str] = mapped_column(default="")
    MODL: Mapped[str] = mapped_column(default="")
    TEDL: Mapped[str] = mapped_column(default="")
    RGDT: Mapped[date | None]
    LMDT: Mapped[date | None]
    LMTS: Mapped[int] = mapped_column(default=0)


class Item(Base):
    __tablename__ = "MITMAS"
    ITNO: Mapped[str] = mapped_column(primary_key=True)
    ITDS: Mapped[str] = mapped_column(default="")
    FUDS: Mapped[str] = mapped_column(default="")
    STAT: Mapped[str] = mapped_column(default="20")
    RESP: Mapped[str] = mapped_column(default="")
    UNMS: Mapped[str] = mapped_column(default="EA")
    ITGR: Mapped[str] = mapped_column(default="")
    ITCL: Mapped[str] = mapped_column(default="")
    ITTY: Mapped[str] = mapped_column(default="")
    MABU: Mapped[int] = mapped_column(default=2)
    PRVG: Mapped[str] = mapped_column(default="")
    # Real M3 keeps prices in price lists (OPRICE); a list price on the item is enough here.
    SAPR: Mapped[Decimal] = mapped_column(default=ZERO)
    LMDT: Mapped[date | None]


class Warehouse(Base):
    __tablename__ = "MITWHL"
    WHLO: Mapped[str] = mapped_column(primary_key=True)
    WHNM: Mapped[str] = mapped_column(default="")
    FACI: Mapped[str] = mapped_column(default="")


class Balance(Base):
    __tablename__ = "MITBAL"
    WHLO: Mapped[str] = mapped_column(primary_key=True)
    ITNO: Mapped[str] = mapped_column(primary_key=True)
    STQT: Mapped[Decimal] = mapped_column(default=ZERO)
    ALQT: Mapped[Decimal] = mapped_column(default=ZERO)
    PLQT: Mapped[Decimal] = mapped_column(default=ZERO)
    # The one balance identity (MITLOC) the sandbox keeps per item and warehouse: its location.
    WHSL: Mapped[str] = mapped_column(default=DEFAULT_LOCATION)


class _OrderHeadColumns:
    ORNO: Mapped[str] = mapped_column(primary_key=True)
    CUNO: Mapped[str]
    ORTP: Mapped[str] = mapped_column(default="")
    FACI: Mapped[str] = mapped_column(default="")
    WHLO: Mapped[str] = mapped_column(default="")
    RLDT: Mapped[date | None]
    CUOR: Mapped[str] = mapped_column(default="")
    ORDT: Mapped[date | None]
    MODL: Mapped[str] = mapped_column(default="")
    TEDL: Mapped[str] = mapped_column(default="")
    CUCD: Mapped[str] = mapped_column(default="")
    TEPY: Mapped[str] = mapped_column(default="")
    YREF: Mapped[str] = mapped_column(default="")
    STAT: Mapped[str] = mapped_column(default="")


class BatchHead(_OrderHeadColumns, Base):
    """OXHEAD: an order in batch entry, under its temporary number until Confirm."""

    __tablename__ = "OXHEAD"


class BatchLine(Base):
    __tablename__ = "OXLINE"
    ORNO: Mapped[str] = mapped_column(primary_key=True)
    PONR: Mapped[int] = mapped_column(primary_key=True)
    POSX: Mapped[int] = mapped_column(primary_key=True, default=0)
    ITNO: Mapped[str]
    ORQT: Mapped[Decimal] = mapped_column(default=ZERO)
    WHLO: Mapped[str] = mapped_column(default="")
    DWDT: Mapped[date | None]
    SAPR: Mapped[Decimal | None]
    ALUN: Mapped[str] = mapped_column(default="")


class OrderHead(_OrderHeadColumns, Base):
    """OOHEAD: a confirmed customer order."""

    __tablename__ = "OOHEAD"
    DIVI: Mapped[str] = mapped_column(default="")
    ORSL: Mapped[str] = mapped_column(default="22")
    ORST: Mapped[str] = mapped_column(default="22")
    NTAM: Mapped[Decimal] = mapped_column(default=ZERO)
    LMDT: Mapped[date | None]
    LMTS: Mapped[int] = mapped_column(default=0)


class OrderLine(Base):
    __tablename__ = "OOLINE"
    ORNO: Mapped[str] = mapped_column(primary_key=True)
    PONR: Mapped[int] = mapped_column(primary_key=True)
    POSX: Mapped[int] = mapped_column(primary_key=True, default=0)
    ITNO: Mapped[str]
    ORQT: Mapped[Decimal] = mapped_column(default=ZERO)
    SAPR: Mapped[Decimal] = mapped_column(default=ZERO)
    ALUN: Mapped[str] = mapped_column(default="EA")
    WHLO: Mapped[str] = mapped_column(default="")
    DWDT: Mapped[date | None]
    ORST: Mapped[str] = mapped_column(default="22")
    LNAM: Mapped[Decimal] = mapped_column(default=ZERO)
    DLIX: Mapped[int | None]


class Delivery(Base):
    """MHDISH: a delivery (picking list) created when an order reaches status 44."""

    __tablename__ = "MHDISH"
    DLIX: Mapped[int] = mapped_column(primary_key=True)
    CONN: Mapped[int] = mapped_column(default=0)
    RIDN: Mapped[str]  # the order number
    CUNO: Mapped[str]
    WHLO: Mapped[str] = mapped_column(default="")
    PGRS: Mapped[str] = mapped_column(default="05")
    PIST: Mapped[str] = mapped_column(default="05")
    IVNO: Mapped[int | None]


class Invoice(Base):
    __tablename__ = "OINVOH"
    IVNO: Mapped[int] = mapped_column(primary_key=True)
    YEA4: Mapped[int] = mapped_column(primary_key=True)
    DIVI: Mapped[str] = mapped_column(default="")
    ORNO: Mapped[str]
    DLIX: Mapped[int]
    CUNO: Mapped[str]
    IVDT: Mapped[date]
    DUDT: Mapped[date]
    CUCD: Mapped[str] = mapped_column(default="")
    AMT1: Mapped[Decimal] = mapped_column(default=ZERO)
    VTAM: Mapped[Decimal] = mapped_column(default=ZERO)
    IVAM: Mapped[Decimal] = mapped_column(default=ZERO)


class LedgerEntry(Base):
    """FSLEDG: the customer's open item for an invoice; payments lower OPAM."""

    __tablename__ = "FSLEDG"
    CUNO: Mapped[str] = mapped_column(primary_key=True)
    CINO: Mapped[str] = mapped_column(primary_key=True)
    INYR: Mapped[int] = mapped_column(primary_key=True)
    DIVI: Mapped[str] = mapped_column(default="")
    CUCD: Mapped[str] = mapped_column(default="")
    CUAM: Mapped[Decimal] = mapped_column(default=ZERO)
    VTAM: Mapped[Decimal] = mapped_column(default=ZERO)
    OPAM: Mapped[Decimal] = mapped_column(default=ZERO)
    IVDT: Mapped[date]
    DUDT: Mapped[date]


class PaymentBatchHead(Base):
    __tablename__ = "ARS040_BATCH_HEAD"
    PBID: Mapped[int] = mapped_column(primary_key=True)
    BOPE: Mapped[str]
    DIVI: Mapped[str] = mapped_column(default="")
    ACDT: Mapped[date | None]
    posted: Mapped[bool] = mapped_column(default=False)


class PaymentBatchLine(Base):
    __tablename__ = "ARS040_BATCH_LINE"
    PBID: Mapped[int] = mapped_column(primary_key=True)
    TRNO: Mapped[int] = mapped_column(primary_key=True)
    CINO: Mapped[str]
    INYR: Mapped[int]
    CUNO: Mapped[str]
    PYAM: Mapped[Decimal]
    CUCD: Mapped[str] = mapped_column(default="")
    PYNO: Mapped[str] = mapped_column(default="")


class PurchaseEntry(Base):
    """PPS370's interface message: 10 while lines are entered, 90 once transferred to MPHEAD."""

    __tablename__ = "PPS370_ENTRY"
    MSGN: Mapped[str] = mapped_column(primary_key=True)
    BAOR: Mapped[str] = mapped_column(default="")
    STAT: Mapped[str] = mapped_column(default="10")


class _PurchaseHeadColumns:
    PUNO: Mapped[str] = mapped_column(primary_key=True)
    FACI: Mapped[str] = mapped_column(default="")
    WHLO: Mapped[str] = mapped_column(default="")
    SUNO: Mapped[str] = mapped_column(default="")
    ORTY: Mapped[str] = mapped_column(default="")
    PUDT: Mapped[date | None]
    DWDT: Mapped[date | None]
    CUCD: Mapped[str] = mapped_column(default="")
    YRE1: Mapped[str] = mapped_column(default="")
    BUYE: Mapped[str] = mapped_column(default="")
    PURC: Mapped[str] = mapped_column(default="")
    OURR: Mapped[str] = mapped_column(default="")


class _PurchaseLineColumns:
    PUNO: Mapped[str] = mapped_column(primary_key=True)
    PNLI: Mapped[int] = mapped_column(primary_key=True)
    PNLS: Mapped[int] = mapped_column(primary_key=True, default=0)
    ITNO: Mapped[str]
    WHLO: Mapped[str] = mapped_column(default="")
    ORQA: Mapped[Decimal] = mapped_column(default=ZERO)
    PUPR: Mapped[Decimal] = mapped_column(default=ZERO)
    PUUN: Mapped[str] = mapped_column(default="EA")
    DWDT: Mapped[date | None]


class PurchaseEntryHead(_PurchaseHeadColumns, Base):
    """A PO head in the PPS370 interface, under its message number; PUNO is already reserved."""

    __tablename__ = "PPS370_HEAD"
    MSGN: Mapped[str]


class PurchaseEntryLine(_PurchaseLineColumns, Base):
    __tablename__ = "PPS370_LINE"
    MSGN: Mapped[str]


class PurchaseHead(_PurchaseHeadColumns, Base):
    """MPHEAD: a purchase order; PUSL/PUST are the lowest/highest status of its live lines."""

    __tablename__ = "MPHEAD"
    DIVI: Mapped[str] = mapped_column(default="")
    PUSL: Mapped[str] = mapped_column(default="20")
    PUST: Mapped[str] = mapped_column(default="20")
    NTAM: Mapped[Decimal] = mapped_column(default=ZERO)
    LMDT: Mapped[date | None]
    LMTS: Mapped[int] = mapped_column(default=0)


class PurchaseLine(_PurchaseLineColumns, Base):
    """MPLINE: one PO line; PUSL = PUST (the sandbox never splits a line into sub-statuses)."""

    __tablename__ = "MPLINE"
    PUSL: Mapped[str] = mapped_column(default="20")
    PUST: Mapped[str] = mapped_column(default="20")
    RVQA: Mapped[Decimal] = mapped_column(default=ZERO)
    IVQA: Mapped[Decimal] = mapped_column(default=ZERO)
    RCDT: Mapped[date | None]
    # Epoch seconds the line reached status 20: the confirmation clock starts there.
    placed_at: Mapped[float] = mapped_column(default=0.0)


class WarehouseMessage(Base):
    """MHS850's staged message head (MHIS-like): one per AddWhsHead."""

    __tablename__ = "MHS850_HEAD"
    MSGN: Mapped[str] = mapped_column(primary_key=True)
    WHLO: Mapped[str]
    QLFR: Mapped[str]
    E0PA: Mapped[str] = mapped_column(default="")
    E0PB: Mapped[str] = mapped_column(default="")
    E065: Mapped[str] = mapped_column(default="")
    PMSN: Mapped[str] = mapped_column(default="")
    SUDO: Mapped[str] = mapped_column(default="")
    # 10 entered, 90 processed.
    STAT: Mapped[str] = mapped_column(default="10")


class WarehouseMessageLine(Base):
    __tablename__ = "MHS850_LINE"
    MSGN: Mapped[str] = mapped_column(primary_key=True)
    MSLN: Mapped[int] = mapped_column(primary_key=True)
    PACN: Mapped[str] = mapped_column(default="")
    QLFR: Mapped[str]
    ITNO: Mapped[str] = mapped_column(default="")
    WHSL: Mapped[str] = mapped_column(default="")
    RVQA: Mapped[Decimal] = mapped_column(default=ZERO)
    PUUN: Mapped[str] = mapped_column(default="")
    RIDN: Mapped[str] = mapped_column(default="")
    RIDL: Mapped[int] = mapped_column(default=0)
    RIDX: Mapped[int] = mapped_column(default=0)
    SUDO: Mapped[str] = mapped_column(default="")
    # 10 entered, 90 processed, 98 processed with an error (MSID/MSGD say which).
    STAT: Mapped[str] = mapped_column(default="10")
    MSID: Mapped[str] = mapped_column(default="")
    MSGD: Mapped[str] = mapped_column(default="")
    REPN: Mapped[int | None]


class PurchaseReceipt(Base):
    """A posted PO receipt line (MPLIND-like): what PPS320MI/LstReceivedPO lists."""

    __tablename__ = "MPLIND"
    REPN: Mapped[int] = mapped_column(primary_key=True)
    PUNO: Mapped[str] = mapped_column(primary_key=True)
    PNLI: Mapped[int] = mapped_column(primary_key=True)
    PNLS: Mapped[int] = mapped_column(primary_key=True, default=0)
    ITNO: Mapped[str]
    WHLO: Mapped[str] = mapped_column(default="")
    RVQA: Mapped[Decimal] = mapped_column(default=ZERO)
    PUUN: Mapped[str] = mapped_column(default="")
    SUDO: Mapped[str] = mapped_column(default="")
    TRDT: Mapped[date | None]
    MSGN: Mapped[str] = mapped_column(default="")
    PMSN: Mapped[str] = mapped_column(default="")


class SupplierInvoiceHead(Base):
    """FAPIBH: a supplier invoice batch (APS450). SUPA 10 entered, 15 validated with errors, 20 validated."""

    __tablename__ = "FAPIBH"
    INBN: Mapped[int] = mapped_column(primary_key=True)
    DIVI: Mapped[str] = mapped_column(default="")
    SUNO: Mapped[str]
    SPYN: Mapped[str] = mapped_column(default="")
    SINO: Mapped[str] = mapped_column(default="")
    IBTP: Mapped[str] = mapped_column(default="20")
    IMCD: Mapped[str] = mapped_column(default="1")
    IVDT: Mapped[date]
    CUCD: Mapped[str] = mapped_column(default="")
    CUAM: Mapped[Decimal] = mapped_column(default=ZERO)
    VTAM: Mapped[Decimal] = mapped_column(default=ZERO)
    ACDT: Mapped[date | None]
    DUDT: Mapped[date | None]
    PUNO: Mapped[str] = mapped_column(default="")
    CORI: Mapped[str] = mapped_column(default="")
    SUPA: Mapped[int] = mapped_column(default=10)
    IBHE: Mapped[int] = mapped_column(default=0)
    IBLE: Mapped[int] = mapped_column(default=0)
    VONO: Mapped[int] = mapped_column(default=0)
    YEA4: Mapped[int] = mapped_column(default=0)
    # The last validation's findings, one per line ("" when it matched): sandbox inspection only.
    match_report: Mapped[str] = mapped_column(Text, default="")


class SupplierInvoiceLine(Base):
    """FAPIBL: one invoice batch line; RDTP 1 receipt line, 8 accounting line (2/3/5 kept as given)."""

    __tablename__ = "FAPIBL"
    INBN: Mapped[int] = mapped_column(primary_key=True)
    TRNO: Mapped[int] = mapped_column(primary_key=True)
    RDTP: Mapped[int]
    NLAM: Mapped[Decimal] = mapped_column(default=ZERO)
    PUNO: Mapped[str] = mapped_column(default="")
    PNLI: Mapped[int] = mapped_column(default=0)
    PNLS: Mapped[int] = mapped_column(default=0)
    IVQA: Mapped[Decimal] = mapped_column(default=ZERO)
    PUUN: Mapped[str] = mapped_column(default="")
    GRPR: Mapped[Decimal] = mapped_column(default=ZERO)
    ITNO: Mapped[str] = mapped_column(default="")
    REPN: Mapped[int] = mapped_column(default=0)
    SUDO: Mapped[str] = mapped_column(default="")
    AIT1: Mapped[str] = mapped_column(default="")
    AIT2: Mapped[str] = mapped_column(default="")
    VTXT: Mapped[str] = mapped_column(default="")
    IBLE: Mapped[int] = mapped_column(default=0)


class GlBatchHead(Base):
    """FGLINH: a GLS840 interface batch; gone once UpdBatch posted it."""

    __tablename__ = "FGLINH"
    DIVI: Mapped[str] = mapped_column(primary_key=True)
    KEY1: Mapped[str] = mapped_column(primary_key=True)
    INTN: Mapped[str]
    DESC: Mapped[str] = mapped_column(default="")
    USID: Mapped[str] = mapped_column(default="")


class GlBatchLine(Base):
    __tablename__ = "FGLINL"
    DIVI: Mapped[str] = mapped_column(primary_key=True)
    KEY1: Mapped[str] = mapped_column(primary_key=True)
    LINE: Mapped[int] = mapped_column(primary_key=True)
    PARM: Mapped[str] = mapped_column(Text, default="")


class GlVoucherLine(Base):
    """FGLEDG: one posted voucher line; a voucher is the lines sharing DIVI/YEA4/VONO."""

    __tablename__ = "FGLEDG"
    DIVI: Mapped[str] = mapped_column(primary_key=True)
    YEA4: Mapped[int] = mapped_column(primary_key=True)
    JRNO: Mapped[int] = mapped_column(primary_key=True)
    JSNO: Mapped[int] = mapped_column(primary_key=True)
    VSER: Mapped[str] = mapped_column(default="")
    VONO: Mapped[int]
    ACDT: Mapped[date]
    AIT1: Mapped[str] = mapped_column(default="")
    AIT2: Mapped[str] = mapped_column(default="")
    CUCD: Mapped[str] = mapped_column(default="")
    CUAM: Mapped[Decimal] = mapped_column(default=ZERO)
    VTXT: Mapped[str] = mapped_column(default="")
    # The interface's 30-character voucher description; GLS200MI shows its first 7 as VDSC.
    description: Mapped[str] = mapped_column(default="")
    KEY1: Mapped[str] = mapped_column(default="")
    RGDT: Mapped[date | None]


class BodVariation(Base):
    """The revision counter (variationID) of each published document."""

    __tablename__ = "sandbox_bod_variation"
    noun: Mapped[str] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(primary_key=True)
    variation: Mapped[int] = mapped_column(default=0)


OUTBOX_PENDING = Index("ix_sandbox_outbox_pending", "status", "document_name", "document_id", "id")


class OutboxMessage(Base):
    """A BOD waiting to be (or already) delivered to the IMS endpoint, at least once, in order."""

    __tablename__ = "sandbox_outbox"
    # The sender looks for pending messages after every commit that adds one: without this index
    # it read the whole outbox, every message ever sent included.
    __table_args__ = (OUTBOX_PENDING,)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    document_name: Mapped[str]
    document_id: Mapped[str]
    variation_id: Mapped[int]
    accounting_entity: Mapped[str]
    location: Mapped[str]
    message_id: Mapped[str]
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[float] = mapped_column(default=0.0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float]
    sent_at: Mapped[float | None]


class Store:
    """Engine, sessions and the lock around every unit of work."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = sandbox_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.lock = threading.RLock()
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine)
        OUTBOX_PENDING.create(self.engine, checkfirst=True)  # also on a file from before it

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.lock, self._sessions() as session, session.begin():
            yield session

    def reset(self) -> None:
        with self.lock:
            Base.metadata.drop_all(self.engine)
            Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def add_missing_columns(engine: Engine) -> None:
    """A tenant file from an older sandbox lacks the columns added since: add them, with their
    default, so `make run` keeps working on an existing var/m3-sandbox.db."""
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            existing = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in existing:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = column.default
                arg = getattr(default, "arg", None) if default is not None and default.is_scalar else None
                clause = "" if arg is None else f" DEFAULT {_sql_literal(arg)}"
                connection.execute(
                    text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{clause}')
                )


def next_number(session: Session, series: str, first: int) -> int:
    """Hand out the next number of a series, starting at `first`."""
    row = session.get(NumberSeries, series)
    if row is None:
        row = NumberSeries(series=series, next_value=first)
        session.add(row)
    value = row.next_value
    row.next_value = value + 1
    return value


def count(session: Session, model: type[Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
