"""PPS370MI: purchase orders by batch entry (the PO interface, POBE).

Verified (M3H5 PPS370MIResource.cs; POBE docs, m3-p2p.md §1): StartEntry(BAOR) returns MSGN; AddHead
requires MSGN, FACI, WHLO, SUNO, DWDT and returns PUNO; AddLine requires MSGN, ITNO, ORQA and returns
PUNO, PNLI; FinishEntry and DeleteEntry take MSGN only. The interface accepts changes only while its
status is 10; DeleteEntry deletes the whole message, and only at 10; 90 = transferred.
Assumed (sandbox): "auto level 2" (FinishEntry transfers at once, lines get status 20); the PUNO is
reserved at AddHead; PNLI defaults to the highest line + 1; PUPR defaults to the item's list price;
the item must be stocked in the warehouse (MITBAL); HREF/LREF are not supported.
"""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import delete, func, select

from sandbox.m3 import messages
from sandbox.m3.bods import quantity
from sandbox.m3.db import (
    Balance,
    PurchaseEntry,
    PurchaseEntryHead,
    PurchaseEntryLine,
    PurchaseHead,
    PurchaseLine,
    Warehouse,
    next_number,
)
from sandbox.m3.purchasing import SENT, publish
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.crs620 import get_supplier
from sandbox.m3.transactions.mms200 import orderable_item

OPEN, TRANSFERRED = "10", "90"
BLOCKED_SUPPLIER = "90"
MESSAGE_SERIES, FIRST_MESSAGE = "PO_MSGN", 310000001
PO_SERIES, FIRST_PO = "PUNO", 4000000001
DEFAULT_ORDER_TYPE = "P10"
HEAD_FIELDS = ("ORTY", "CUCD", "YRE1", "BUYE", "PURC", "OURR")
LINE_FIELDS = ("PUNO", "PNLI", "PNLS", "ITNO", "WHLO", "ORQA", "PUPR", "PUUN", "DWDT")


def open_entry(ctx: Context, msgn: str) -> PurchaseEntry:
    entry = ctx.session.get(PurchaseEntry, msgn)
    if entry is None:
        raise messages.entry_not_found(msgn)
    if entry.STAT != OPEN:
        raise messages.entry_not_open(msgn, entry.STAT)
    return entry


def warehouse_of_facility(ctx: Context, whlo: str, faci: str) -> Warehouse:
    warehouse = ctx.session.get(Warehouse, whlo)
    if warehouse is None:
        raise messages.warehouse_not_found(whlo)
    if faci and faci != warehouse.FACI:
        raise messages.facility_mismatch(whlo, faci)
    return warehouse


def supplier_for_order(ctx: Context, suno: str) -> str:
    supplier = get_supplier(ctx, suno)
    if supplier.STAT == BLOCKED_SUPPLIER:
        raise messages.supplier_blocked(suno)
    return supplier.CUCD


def stocked_item(ctx: Context, itno: str, whlo: str) -> str:
    """The item's unit, once it is orderable and has a balance in the warehouse."""
    item = orderable_item(ctx, itno)
    if ctx.session.get(Balance, (whlo, item.ITNO)) is None:
        raise messages.balance_not_found(item.ITNO, whlo)
    return item.UNMS


def ordered_quantity(record: Record) -> Decimal:
    value = record.decimal("ORQA", Decimal(0)) or Decimal(0)
    if value <= 0:
        raise messages.purchase_quantity_not_positive(quantity(value))
    return value


@mi("PPS370MI", "StartEntry")
def start_entry(ctx: Context, record: Record) -> list[Row]:
    msgn = str(next_number(ctx.session, MESSAGE_SERIES, FIRST_MESSAGE))
    ctx.session.add(PurchaseEntry(MSGN=msgn, BAOR=record.text("BAOR"), STAT=OPEN))
    return [{"MSGN": msgn}]


@mi("PPS370MI", "AddHead")
def add_head(ctx: Context, record: Record) -> list[Row]:
    entry = open_entry(ctx, record.text("MSGN"))
    warehouse = warehouse_of_facility(ctx, record.text("WHLO"), record.text("FACI"))
    currency = supplier_for_order(ctx, record.text("SUNO"))
    head = PurchaseEntryHead(
        MSGN=entry.MSGN,
        PUNO=str(next_number(ctx.session, PO_SERIES, FIRST_PO)),
        FACI=warehouse.FACI,
        WHLO=warehouse.WHLO,
        SUNO=record.text("SUNO"),
        ORTY=DEFAULT_ORDER_TYPE,
        CUCD=currency or "EUR",
        PUDT=record.day("PUDT") or ctx.today,
        DWDT=record.day("DWDT"),
    )
    for name in HEAD_FIELDS:
        if record.has(name):
            setattr(head, name, record.text(name))
    ctx.session.add(head)
    return [{"PUNO": head.PUNO}]


@mi("PPS370MI", "AddLine")
def add_line(ctx: Context, record: Record) -> list[Row]:
    entry = open_entry(ctx, record.text("MSGN"))
    heads = list(ctx.session.scalars(select(PurchaseEntryHead).filter_by(MSGN=entry.MSGN)))
    puno = record.text("PUNO")
    if not puno:
        if len(heads) != 1:
            raise messages.mandatory_field("PUNO", "Purchase order number")
        puno = heads[0].PUNO
    head = next((h for h in heads if puno == h.PUNO), None)
    if head is None:
        raise messages.purchase_order_not_in_entry(puno, entry.MSGN)
    whlo = record.text("WHLO") or head.WHLO
    warehouse_of_facility(ctx, whlo, head.FACI)
    unit = stocked_item(ctx, record.text("ITNO"), whlo)
    orqa = ordered_quantity(record)
    if record.has("PNLI"):
        pnli = record.integer("PNLI")
        if ctx.session.get(PurchaseEntryLine, (puno, pnli, 0)) is not None:
            raise messages.record_already_exists("PNLI")
    else:
        last = ctx.session.scalar(select(func.max(PurchaseEntryLine.PNLI)).filter_by(PUNO=puno))
        pnli = (last or 0) + 1
    item = orderable_item(ctx, record.text("ITNO"))
    price = record.decimal("PUPR")
    ctx.session.add(
        PurchaseEntryLine(
            MSGN=entry.MSGN,
            PUNO=puno,
            PNLI=pnli,
            PNLS=0,
            ITNO=item.ITNO,
            WHLO=whlo,
            ORQA=orqa,
            PUPR=item.SAPR if price is None else price,
            PUUN=record.text("PUUN") or unit,
            DWDT=record.day("DWDT") or head.DWDT,
        )
    )
    return [{"PUNO": puno, "PNLI": pnli}]


@mi("PPS370MI", "FinishEntry")
def finish_entry(ctx: Context, record: Record) -> list[Row]:
    """Transfer the message: each head becomes a purchase order, its lines status 20."""
    entry = open_entry(ctx, record.text("MSGN"))
    heads = list(ctx.session.scalars(select(PurchaseEntryHead).filter_by(MSGN=entry.MSGN)))
    if not heads:
        raise messages.entry_has_no_heads(entry.MSGN)
    lines = list(ctx.session.scalars(select(PurchaseEntryLine).filter_by(MSGN=entry.MSGN)))
    for head in heads:
        if not any(line.PUNO == head.PUNO for line in lines):
            raise messages.purchase_order_has_no_lines(head.PUNO)
    placed_at = time.time()
    for head in heads:
        order = PurchaseHead(
            PUNO=head.PUNO,
            DIVI=ctx.config.divi,
            PUDT=head.PUDT,
            DWDT=head.DWDT,
            **{name: getattr(head, name) for name in ("FACI", "WHLO", "SUNO", *HEAD_FIELDS)},
        )
        ctx.session.add(order)
        for line in lines:
            if line.PUNO == head.PUNO:
                ctx.session.add(
                    PurchaseLine(
                        **{name: getattr(line, name) for name in LINE_FIELDS},
                        PUSL=SENT,
                        PUST=SENT,
                        placed_at=placed_at,
                    )
                )
        publish(ctx.session, ctx.bods, order, ctx.now)
    _drop(ctx, entry.MSGN)
    entry.STAT = TRANSFERRED
    return []


def _drop(ctx: Context, msgn: str) -> None:
    ctx.session.execute(delete(PurchaseEntryLine).filter_by(MSGN=msgn))
    ctx.session.execute(delete(PurchaseEntryHead).filter_by(MSGN=msgn))


@mi("PPS370MI", "DeleteEntry")
def delete_entry(ctx: Context, record: Record) -> list[Row]:
    entry = open_entry(ctx, record.text("MSGN"))
    _drop(ctx, entry.MSGN)
    ctx.session.delete(entry)
    return []
