"""PPS200MI: purchase orders once transferred from PPS370 (MPHEAD/MPLINE).

Verified (M3H5 PPS200MIResource.cs, m3-p2p.md §1-2): GetHead(PUNO); GetLine(PUNO, PNLI, PNLS);
LstLine(PUNO); SearchHead(SQRY) returning DIVI, PUNO, WHLO, SUNO, PUSL, PUST, PUDT, BUYE, FACI, ORTY,
POTC, PURC; UpdHead(PUNO, ...) with no SUNO/CUCD/FACI/WHLO input; UpdLine requires PUNO, PNLI, PNLS;
AddLine requires PUNO, ITNO, ORQA and returns nothing; DltLine requires PUNO, PNLI (PNLS optional).
Not public, the sandbox's rules: no change to a line once it is 85+ or 99; ORQA below RVQA is
refused; DltLine is refused once RVQA > 0 and sets status 99; AddLine/UpdHead are refused when every
live line is 85+. GetHead also returns PUSL/PUST (M3H5's GetHead does not list them).
SearchHead searches YRE1, SUNO, PUNO, WHLO (see crs610.parse_search_query for the syntax).
"""

from __future__ import annotations

import time
from decimal import Decimal

from sqlalchemy import func, select

from sandbox.m3 import messages
from sandbox.m3.bods import quantity
from sandbox.m3.db import Item, PurchaseHead, PurchaseLine
from sandbox.m3.purchasing import CLOSED, DELETED, SENT, po_lines, publish, set_line_status
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.crs610 import parse_search_query
from sandbox.m3.transactions.pps370 import ordered_quantity, stocked_item, warehouse_of_facility

SEARCH_FIELDS = ("YRE1", "SUNO", "PUNO", "WHLO")
CATEGORY_NORMAL = "20"  # POTC 20: the only PO category the interface supports (POBE)
HEAD_CHANGES = ("YRE1", "OURR", "PURC", "BUYE")
CENT = Decimal("0.01")


def get_po(ctx: Context, puno: str) -> PurchaseHead:
    head = ctx.session.get(PurchaseHead, puno)
    if head is None:
        raise messages.purchase_order_not_found(puno)
    return head


def get_po_line(ctx: Context, puno: str, pnli: int, pnls: int = 0) -> PurchaseLine:
    line = ctx.session.get(PurchaseLine, (puno, pnli, pnls))
    if line is None:
        raise messages.purchase_order_line_not_found(puno, pnli, pnls)
    return line


def changeable_line(line: PurchaseLine) -> PurchaseLine:
    if line.PUSL >= CLOSED:
        raise messages.purchase_order_line_status(line.PUNO, line.PNLI, line.PUSL)
    return line


def _require_open(ctx: Context, head: PurchaseHead) -> None:
    if all(line.PUSL >= CLOSED for line in po_lines(ctx.session, head.PUNO)):
        raise messages.purchase_order_closed(head.PUNO)


def po_line_row(ctx: Context, head: PurchaseHead, line: PurchaseLine) -> Row:
    item = ctx.session.get(Item, line.ITNO)
    row: Row = {name: getattr(line, name) for name in PurchaseLine.__table__.columns.keys()}  # noqa: SIM118
    row.update(
        CONO=ctx.config.cono,
        ITDS=item.ITDS if item else "",
        FACI=head.FACI,
        SUNO=head.SUNO,
        BUYE=head.BUYE,
        LNAM=(line.ORQA * line.PUPR).quantize(CENT),
    )
    return row


def head_row(ctx: Context, head: PurchaseHead) -> Row:
    row: Row = {name: getattr(head, name) for name in PurchaseHead.__table__.columns.keys()}  # noqa: SIM118
    row.update(CONO=ctx.config.cono, POTC=CATEGORY_NORMAL)
    return row


@mi("PPS200MI", "GetHead")
def get_head(ctx: Context, record: Record) -> list[Row]:
    return [head_row(ctx, get_po(ctx, record.text("PUNO")))]


@mi("PPS200MI", "GetLine")
def get_line(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    if not record.has("PNLI"):
        raise messages.mandatory_field("PNLI", "Purchase order line")
    line = get_po_line(ctx, head.PUNO, record.integer("PNLI"), record.integer("PNLS"))
    return [po_line_row(ctx, head, line)]


@mi("PPS200MI", "LstLine")
def lst_line(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    return [po_line_row(ctx, head, line) for line in po_lines(ctx.session, head.PUNO)]


@mi("PPS200MI", "SearchHead")
def search_head(ctx: Context, record: Record) -> list[Row]:
    terms = parse_search_query(record.text("SQRY"), SEARCH_FIELDS, PurchaseHead)
    query = select(PurchaseHead).where(*(term.condition() for term in terms)).order_by(PurchaseHead.PUNO)
    return [head_row(ctx, head) for head in ctx.session.scalars(query.limit(ctx.limit))]


@mi("PPS200MI", "UpdHead")
def upd_head(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    _require_open(ctx, head)
    for name in HEAD_CHANGES:
        if record.has(name):
            setattr(head, name, record.text(name))
    if record.has("PUDT"):
        head.PUDT = record.day("PUDT")
    if record.has("DWDT"):
        head.DWDT = record.day("DWDT")
    publish(ctx.session, ctx.bods, head, ctx.now)
    return []


@mi("PPS200MI", "UpdLine")
def upd_line(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    line = changeable_line(get_po_line(ctx, head.PUNO, record.integer("PNLI"), record.integer("PNLS")))
    if record.has("ORQA"):
        orqa = ordered_quantity(record)
        if orqa < line.RVQA:
            raise messages.ordered_below_received(quantity(orqa), quantity(line.RVQA))
        line.ORQA = orqa
    price = record.decimal("PUPR")
    if price is not None:
        line.PUPR = price
    if record.has("DWDT"):
        line.DWDT = record.day("DWDT")
    publish(ctx.session, ctx.bods, head, ctx.now)
    return []


@mi("PPS200MI", "AddLine")
def add_line(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    _require_open(ctx, head)
    whlo = record.text("WHLO") or head.WHLO
    warehouse_of_facility(ctx, whlo, head.FACI)
    unit = stocked_item(ctx, record.text("ITNO"), whlo)
    orqa = ordered_quantity(record)
    pnls = record.integer("PNLS")
    if record.has("PNLI"):
        pnli = record.integer("PNLI")
        if ctx.session.get(PurchaseLine, (head.PUNO, pnli, pnls)) is not None:
            raise messages.record_already_exists("PNLI")
    else:
        last = ctx.session.scalar(select(func.max(PurchaseLine.PNLI)).filter_by(PUNO=head.PUNO))
        pnli = (last or 0) + 1
    item = ctx.session.get(Item, record.text("ITNO"))
    assert item is not None  # stocked_item checked it
    price = record.decimal("PUPR")
    ctx.session.add(
        PurchaseLine(
            PUNO=head.PUNO,
            PNLI=pnli,
            PNLS=pnls,
            ITNO=item.ITNO,
            WHLO=whlo,
            ORQA=orqa,
            PUPR=item.SAPR if price is None else price,
            PUUN=record.text("PUUN") or unit,
            DWDT=record.day("DWDT") or head.DWDT,
            PUSL=SENT,
            PUST=SENT,
            placed_at=time.time(),
        )
    )
    publish(ctx.session, ctx.bods, head, ctx.now)
    return []


@mi("PPS200MI", "DltLine")
def dlt_line(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    line = changeable_line(get_po_line(ctx, head.PUNO, record.integer("PNLI"), record.integer("PNLS")))
    if line.RVQA > 0:
        raise messages.purchase_order_line_received(line.PUNO, line.PNLI)
    set_line_status(line, DELETED)
    publish(ctx.session, ctx.bods, head, ctx.now)
    return []
