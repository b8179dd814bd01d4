"""OIS100MI batch entry: orders are built under a temporary number (OXHEAD/OXLINE), then confirmed."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, select

from sandbox.m3 import messages
from sandbox.m3.db import (
    Balance,
    BatchHead,
    BatchLine,
    Customer,
    OrderHead,
    OrderLine,
    Warehouse,
    next_number,
)
from sandbox.m3.lifecycle import refresh_head_status
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.mms200 import orderable_item

BLOCKED_CUSTOMER = "90"
TEMPORARY_SERIES, FIRST_TEMPORARY = "ORNO_TMP", 9000000001
ORDER_SERIES, FIRST_ORDER = "ORNO", 1000000001
CONFIRMED_LINE_STATUS = "22"
CENT = Decimal("0.01")
HEAD_TEXT_FIELDS = ("ORTP", "FACI", "WHLO", "CUOR", "MODL", "TEDL", "CUCD", "TEPY", "YREF")


def _customer_for_order(ctx: Context, cuno: str) -> Customer:
    customer = ctx.session.get(Customer, cuno)
    if customer is None:
        raise messages.customer_not_found(cuno)
    if customer.STAT == BLOCKED_CUSTOMER:
        raise messages.customer_blocked(cuno)
    return customer


def _warehouse(ctx: Context, whlo: str) -> Warehouse:
    warehouse = ctx.session.get(Warehouse, whlo)
    if warehouse is None:
        raise messages.warehouse_not_found(whlo)
    return warehouse


def batch_head(ctx: Context, orno: str) -> BatchHead:
    head = ctx.session.get(BatchHead, orno)
    if head is None:
        raise messages.order_not_found(orno)
    return head


def batch_lines(ctx: Context, orno: str) -> list[BatchLine]:
    query = select(BatchLine).filter_by(ORNO=orno).order_by(BatchLine.PONR, BatchLine.POSX)
    return list(ctx.session.scalars(query))


@mi("OIS100MI", "AddBatchHead")
def add_batch_head(ctx: Context, record: Record) -> list[Row]:
    customer = _customer_for_order(ctx, record.text("CUNO"))
    head = BatchHead(
        ORNO=str(next_number(ctx.session, TEMPORARY_SERIES, FIRST_TEMPORARY)),
        CUNO=customer.CUNO,
        ORTP=customer.ORTP,
        WHLO=customer.WHLO,
        MODL=customer.MODL,
        TEDL=customer.TEDL,
        CUCD=customer.CUCD,
        TEPY=customer.TEPY,
        ORDT=record.day("ORDT") or ctx.today,
        RLDT=record.day("RLDT") or ctx.today,
        STAT="10",
    )
    for name in HEAD_TEXT_FIELDS:
        if record.has(name):
            setattr(head, name, record.text(name))
    warehouse = _warehouse(ctx, head.WHLO)
    head.FACI = head.FACI or warehouse.FACI
    ctx.session.add(head)
    return [{"ORNO": head.ORNO}]


@mi("OIS100MI", "AddBatchLine")
def add_batch_line(ctx: Context, record: Record) -> list[Row]:
    head = batch_head(ctx, record.text("ORNO"))
    item = orderable_item(ctx, record.text("ITNO"))
    quantity = record.decimal("ORQT", Decimal(0)) or Decimal(0)
    if quantity <= 0:
        raise messages.quantity_not_positive(record.text("ORQT", "0"))
    whlo = record.text("WHLO") or head.WHLO
    _warehouse(ctx, whlo)
    if ctx.session.get(Balance, (whlo, item.ITNO)) is None:
        raise messages.balance_not_found(item.ITNO, whlo)
    posx = record.integer("POSX")
    if record.has("PONR"):
        ponr = record.integer("PONR")
        if ctx.session.get(BatchLine, (head.ORNO, ponr, posx)) is not None:
            raise messages.record_already_exists("PONR")
    else:
        last = ctx.session.scalar(select(func.max(BatchLine.PONR)).where(BatchLine.ORNO == head.ORNO))
        ponr = (last or 0) + 1
    ctx.session.add(
        BatchLine(
            ORNO=head.ORNO,
            PONR=ponr,
            POSX=posx,
            ITNO=item.ITNO,
            ORQT=quantity,
            WHLO=whlo,
            DWDT=record.day("DWDT") or head.RLDT,
            SAPR=record.decimal("SAPR"),
            ALUN=record.text("ALUN") or item.UNMS,
        )
    )
    return [{"PONR": ponr, "POSX": posx, "ATNR": 0}]


@mi("OIS100MI", "LstBatchHead")
def lst_batch_head(ctx: Context, record: Record) -> list[Row]:
    query = select(BatchHead).order_by(BatchHead.ORNO)
    if record.text("CUNO"):
        query = query.filter_by(CUNO=record.text("CUNO"))
    if record.text("CUOR"):
        query = query.filter_by(CUOR=record.text("CUOR"))
    return [
        {name: getattr(head, name) for name in ("ORNO", "CUNO", "CUOR", "ORDT", "STAT", "ORTP", "WHLO")}
        for head in ctx.session.scalars(query)
    ]


@mi("OIS100MI", "LstBatchLine")
def lst_batch_line(ctx: Context, record: Record) -> list[Row]:
    head = batch_head(ctx, record.text("ORNO"))
    return [
        {
            name: getattr(line, name)
            for name in ("ORNO", "PONR", "POSX", "ITNO", "ORQT", "WHLO", "DWDT", "SAPR", "ALUN")
        }
        for line in batch_lines(ctx, head.ORNO)
    ]


@mi("OIS100MI", "DelBatchHead")
def del_batch_head(ctx: Context, record: Record) -> list[Row]:
    head = batch_head(ctx, record.text("ORNO"))
    ctx.session.execute(delete(BatchLine).where(BatchLine.ORNO == head.ORNO))
    ctx.session.delete(head)
    return []


@mi("OIS100MI", "Confirm")
def confirm(ctx: Context, record: Record) -> list[Row]:
    head = batch_head(ctx, record.text("ORNO"))
    lines = batch_lines(ctx, head.ORNO)
    if not lines:
        raise messages.order_has_no_lines(head.ORNO)
    order = OrderHead(
        ORNO=str(next_number(ctx.session, ORDER_SERIES, FIRST_ORDER)),
        **{name: getattr(head, name) for name in ("CUNO", "RLDT", "ORDT", *HEAD_TEXT_FIELDS)},
        DIVI=ctx.config.divi,
        LMDT=ctx.today,
        LMTS=ctx.timestamp,
    )
    order_lines = []
    for line in lines:
        price = line.SAPR
        if price is None:
            item = orderable_item(ctx, line.ITNO)
            price = item.SAPR
        order_lines.append(
            OrderLine(
                ORNO=order.ORNO,
                PONR=line.PONR,
                POSX=line.POSX,
                ITNO=line.ITNO,
                ORQT=line.ORQT,
                SAPR=price,
                ALUN=line.ALUN,
                WHLO=line.WHLO,
                DWDT=line.DWDT,
                ORST=CONFIRMED_LINE_STATUS,
                LNAM=(line.ORQT * price).quantize(CENT),
            )
        )
    order.NTAM = sum((line.LNAM for line in order_lines), Decimal(0))
    refresh_head_status(order, order_lines)
    ctx.session.add(order)
    ctx.session.add_all(order_lines)
    # The batch entry is gone once the order exists.
    ctx.session.execute(delete(BatchLine).where(BatchLine.ORNO == head.ORNO))
    ctx.session.delete(head)
    ctx.session.flush()
    ctx.bods.sales_order(ctx.session, order, order_lines, ctx.now)
    return [{"ORNO": order.ORNO, "STAT": order.STAT}]
