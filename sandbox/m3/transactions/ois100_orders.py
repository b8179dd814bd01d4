"""OIS100MI on confirmed customer orders (OOHEAD/OOLINE): read, list, delete."""

from __future__ import annotations

from sqlalchemy import delete, select

from sandbox.m3 import messages
from sandbox.m3.db import OrderHead, OrderLine
from sandbox.m3.lifecycle import order_lines
from sandbox.m3.transactions.base import Context, Record, Row, mi

# Once allocated (33), an order is in the warehouse's hands and cannot be deleted.
LAST_DELETABLE_STATUS = "33"
HEAD_FIELDS = [
    "ORNO",
    "ORTP",
    "ORDT",
    "STAT",
    "FACI",
    "CUOR",
    "ORSL",
    "ORST",
    "CUNO",
    "WHLO",
    "DIVI",
    "RLDT",
    "NTAM",
    "CUCD",
    "MODL",
    "TEDL",
    "TEPY",
    "YREF",
]
LINE_FIELDS = ["ORNO", "PONR", "POSX", "ITNO", "ORQT", "ALUN", "SAPR", "LNAM", "WHLO", "DWDT", "ORST"]


def get_order(ctx: Context, orno: str) -> OrderHead:
    head = ctx.session.get(OrderHead, orno)
    if head is None:
        raise messages.order_not_found(orno)
    return head


def head_row(head: OrderHead) -> Row:
    return {name: getattr(head, name) for name in HEAD_FIELDS}


def line_row(line: OrderLine) -> Row:
    return {name: getattr(line, name) for name in LINE_FIELDS}


@mi("OIS100MI", "GetHead")
def get_head(ctx: Context, record: Record) -> list[Row]:
    return [head_row(get_order(ctx, record.text("ORNO")))]


@mi("OIS100MI", "LstHead")
def lst_head(ctx: Context, record: Record) -> list[Row]:
    query = select(OrderHead).filter_by(CUNO=record.text("CUNO")).order_by(OrderHead.ORNO)
    # ORSL/ORST narrow the list to orders whose status lies within [ORSL, ORST].
    if record.text("ORSL"):
        query = query.where(record.text("ORSL") <= OrderHead.ORSL)
    if record.text("ORST"):
        query = query.where(record.text("ORST") >= OrderHead.ORST)
    return [head_row(head) for head in ctx.session.scalars(query)]


@mi("OIS100MI", "LstLine")
def lst_line(ctx: Context, record: Record) -> list[Row]:
    head = get_order(ctx, record.text("ORNO"))
    lines = order_lines(ctx.session, head.ORNO)
    if record.text("ORST"):
        lines = [line for line in lines if record.text("ORST") == line.ORST]
    if record.text("ITNO"):
        lines = [line for line in lines if record.text("ITNO") == line.ITNO]
    return [line_row(line) for line in lines]


@mi("OIS100MI", "DelHead")
def del_head(ctx: Context, record: Record) -> list[Row]:
    head = get_order(ctx, record.text("ORNO"))
    if any(line.ORST >= LAST_DELETABLE_STATUS for line in order_lines(ctx.session, head.ORNO)):
        raise messages.order_not_deletable(head.ORNO, head.ORST)
    ctx.session.execute(delete(OrderLine).where(OrderLine.ORNO == head.ORNO))
    ctx.session.delete(head)
    return []
