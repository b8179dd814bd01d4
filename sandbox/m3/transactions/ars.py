"""ARS040MI (customer payment batches) and ARS200MI (AR inquiry) over the customer ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from sandbox.m3 import messages
from sandbox.m3.db import LedgerEntry, PaymentBatchHead, PaymentBatchLine
from sandbox.m3.transactions.base import Context, Record, Row, mi


def _ledger_entry(ctx: Context, cuno: str, cino: str, inyr: int) -> LedgerEntry:
    entry = ctx.session.get(LedgerEntry, (cuno, cino, inyr))
    if entry is None:
        raise messages.invoice_not_found(cino, str(inyr), cuno)
    return entry


def _open_batch(ctx: Context, pbid: int) -> PaymentBatchHead:
    batch = ctx.session.get(PaymentBatchHead, pbid)
    if batch is None:
        raise messages.payment_batch_not_found(str(pbid))
    if batch.posted:
        raise messages.payment_batch_posted(str(pbid))
    return batch


@mi("ARS040MI", "AddBatchHead")
def add_batch_head(ctx: Context, record: Record) -> list[Row]:
    pbid = record.integer("PBID")
    if ctx.session.get(PaymentBatchHead, pbid) is not None:
        raise messages.record_already_exists("PBID")
    ctx.session.add(
        PaymentBatchHead(
            PBID=pbid,
            BOPE=record.text("BOPE"),
            DIVI=record.text("DIVI") or ctx.config.divi,
            ACDT=record.day("ACDT") or ctx.today,
        )
    )
    return [{"PBID": pbid}]


@mi("ARS040MI", "AddBatchLine")
def add_batch_line(ctx: Context, record: Record) -> list[Row]:
    batch = _open_batch(ctx, record.integer("PBID"))
    trno = record.integer("TRNO")
    if ctx.session.get(PaymentBatchLine, (batch.PBID, trno)) is not None:
        raise messages.record_already_exists("TRNO")
    entry = _ledger_entry(ctx, record.text("CUNO"), record.text("CINO"), record.integer("INYR"))
    ctx.session.add(
        PaymentBatchLine(
            PBID=batch.PBID,
            TRNO=trno,
            CINO=entry.CINO,
            INYR=entry.INYR,
            CUNO=entry.CUNO,
            PYAM=record.decimal("PYAM", Decimal(0)),
            CUCD=record.text("CUCD") or entry.CUCD,
            PYNO=record.text("PYNO") or entry.CUNO,
        )
    )
    return []


@mi("ARS040MI", "ControlBatch")
def control_batch(ctx: Context, record: Record) -> list[Row]:
    """Validate and post the batch: each payment lowers its invoice's open amount."""
    batch = _open_batch(ctx, record.integer("PBID"))
    lines = list(ctx.session.scalars(select(PaymentBatchLine).where(PaymentBatchLine.PBID == batch.PBID)))
    if not lines:
        raise messages.payment_batch_empty(str(batch.PBID))
    for line in lines:
        entry = _ledger_entry(ctx, line.CUNO, line.CINO, line.INYR)
        entry.OPAM -= line.PYAM
    batch.posted = True
    return []


@mi("ARS200MI", "GetInvoice")
def get_invoice(ctx: Context, record: Record) -> list[Row]:
    entry = _ledger_entry(ctx, record.text("CUNO"), record.text("CINO"), record.integer("INYR"))
    row: Row = {name: getattr(entry, name) for name in LedgerEntry.__table__.columns.keys()}  # noqa: SIM118
    row["CONO"] = ctx.config.cono
    return [row]
