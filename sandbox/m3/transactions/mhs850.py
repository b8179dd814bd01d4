"""MHS850MI staged warehouse transactions for PO receipt (QLFR 20), and PPS320MI/LstReceivedPO.

Verified (M3H5 MHS850MIResource.cs, PPS320MIResource.cs; m3-p2p.md §3): AddWhsHead requires WHLO,
QLFR, E0PA, E0PB, E065 and returns CONO, MSGN; PMSN is the A17 external message number; AddWhsLine
takes RIDN/RIDL/RIDX (PUNO/PNLI/PNLS), ITNO, RVQA, PUUN, WHSL, SUDO and returns MSGN, PACN, MSLN;
PrcWhsTran(MSGN) processes; GetMvxMsg(E0PB, PMSN) returns the MSGN; LstReceivedPO(PUNO) returns
REPN, PNLI, PNLS, ITNO, RVQA, PUUN. A tenant-tested script shows RIDN mandatory (WRI0102), the item
having to match the PO line (WIT0101), and LstWhsLine giving STAT, MSID, MSGD and REPN.
Assumed (sandbox): only QLFR 20; PACN optional (M3H5 marks it required); a second AddWhsHead with a
PMSN the partner already used is refused (XRE0103); lines are checked when added and again when
processed: a line that fails at PrcWhsTran gets STAT 98 and MSID/MSGD, the others STAT 90; one
receiving number (REPN) per processed message; the receipt raises the warehouse balance (STQT).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from sandbox.m3 import messages
from sandbox.m3.bods import quantity
from sandbox.m3.db import (
    Balance,
    Item,
    PurchaseHead,
    PurchaseReceipt,
    WarehouseMessage,
    WarehouseMessageLine,
    next_number,
)
from sandbox.m3.messages import MINok
from sandbox.m3.purchasing import CLOSED, publish, settle_line
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.mms060 import warehouse
from sandbox.m3.transactions.pps200 import get_po, get_po_line

PO_RECEIPT = "20"
ENTERED, PROCESSED, FAILED = "10", "90", "98"
MESSAGE_SERIES, FIRST_MESSAGE = "WHS_MSGN", 810000001
RECEIPT_SERIES, FIRST_RECEIPT = "REPN", 6000000001


def _message(ctx: Context, msgn: str) -> WarehouseMessage:
    message = ctx.session.get(WarehouseMessage, msgn)
    if message is None:
        raise messages.warehouse_message_not_found(msgn)
    return message


def _qualifier(record: Record) -> str:
    qlfr = record.text("QLFR")
    if qlfr != PO_RECEIPT:
        raise messages.qualifier_not_supported(qlfr)
    return qlfr


def _check_receipt(ctx: Context, whlo: str, line: WarehouseMessageLine) -> None:
    """The PO line exists in this warehouse, is still open, and is for this item."""
    if not line.RIDN:
        raise messages.order_number_missing()
    head = get_po(ctx, line.RIDN)
    if whlo != head.WHLO:
        raise messages.order_warehouse_mismatch(head.PUNO, whlo)
    po_line = get_po_line(ctx, head.PUNO, line.RIDL, line.RIDX)
    if po_line.PUSL >= CLOSED:
        raise messages.purchase_order_line_status(po_line.PUNO, po_line.PNLI, po_line.PUSL)
    if line.ITNO and line.ITNO != po_line.ITNO:
        raise messages.item_not_on_order_line(line.ITNO, po_line.PUNO, po_line.PNLI, po_line.ITNO)
    if line.RVQA <= 0:
        raise messages.received_quantity_not_positive(quantity(line.RVQA))


@mi("MHS850MI", "AddWhsHead")
def add_whs_head(ctx: Context, record: Record) -> list[Row]:
    whlo = warehouse(ctx, record.text("WHLO")).WHLO
    qlfr = _qualifier(record)
    pmsn, e0pb = record.text("PMSN"), record.text("E0PB")
    if pmsn:
        taken = select(WarehouseMessage).filter_by(E0PB=e0pb, PMSN=pmsn)
        if ctx.session.scalars(taken).first() is not None:
            raise messages.record_already_exists("PMSN")
    msgn = str(next_number(ctx.session, MESSAGE_SERIES, FIRST_MESSAGE))
    ctx.session.add(
        WarehouseMessage(
            MSGN=msgn,
            WHLO=whlo,
            QLFR=qlfr,
            E0PA=record.text("E0PA"),
            E0PB=e0pb,
            E065=record.text("E065"),
            PMSN=pmsn,
            SUDO=record.text("SUDO"),
        )
    )
    return [{"CONO": ctx.config.cono, "MSGN": msgn}]


@mi("MHS850MI", "AddWhsLine")
def add_whs_line(ctx: Context, record: Record) -> list[Row]:
    message = _message(ctx, record.text("MSGN"))
    if message.STAT != ENTERED:
        raise messages.warehouse_message_processed(message.MSGN)
    if record.text("WHLO") != message.WHLO:
        raise messages.invalid_value("WHLO", record.text("WHLO"), message.WHLO)
    line = WarehouseMessageLine(
        MSGN=message.MSGN,
        PACN=record.text("PACN"),
        QLFR=_qualifier(record),
        ITNO=record.text("ITNO"),
        WHSL=record.text("WHSL"),
        RVQA=record.decimal("RVQA", Decimal(0)) or Decimal(0),
        PUUN=record.text("PUUN"),
        RIDN=record.text("RIDN"),
        RIDL=record.integer("RIDL"),
        RIDX=record.integer("RIDX"),
        SUDO=record.text("SUDO") or message.SUDO,
        STAT=ENTERED,
    )
    _check_receipt(ctx, message.WHLO, line)
    last = ctx.session.scalar(select(func.max(WarehouseMessageLine.MSLN)).filter_by(MSGN=message.MSGN))
    line.MSLN = (last or 0) + 1
    ctx.session.add(line)
    return [{"CONO": ctx.config.cono, "MSGN": message.MSGN, "PACN": line.PACN, "MSLN": line.MSLN}]


@mi("MHS850MI", "PrcWhsTran")
def prc_whs_tran(ctx: Context, record: Record) -> list[Row]:
    """Post the message's lines: RVQA up, status 50 (85 when also invoiced), REPN, stock, BODs."""
    message = _message(ctx, record.text("MSGN"))
    if message.STAT != ENTERED:
        raise messages.warehouse_message_processed(message.MSGN)
    lines = list(
        ctx.session.scalars(
            select(WarehouseMessageLine).filter_by(MSGN=message.MSGN).order_by(WarehouseMessageLine.MSLN)
        )
    )
    if not lines:
        raise messages.warehouse_message_empty(message.MSGN)
    repn = next_number(ctx.session, RECEIPT_SERIES, FIRST_RECEIPT)
    receipts: list[PurchaseReceipt] = []
    balances: list[Balance] = []
    for line in lines:
        try:
            _check_receipt(ctx, message.WHLO, line)
        except MINok as error:
            line.STAT, line.MSID, line.MSGD = FAILED, error.code, error.message[:78]
            continue
        po_line = get_po_line(ctx, line.RIDN, line.RIDL, line.RIDX)
        po_line.RVQA += line.RVQA
        po_line.RCDT = ctx.today
        settle_line(po_line)
        line.STAT, line.REPN = PROCESSED, repn
        receipt = ctx.session.get(PurchaseReceipt, (repn, po_line.PUNO, po_line.PNLI, po_line.PNLS))
        if receipt is None:
            receipt = PurchaseReceipt(
                REPN=repn,
                PUNO=po_line.PUNO,
                PNLI=po_line.PNLI,
                PNLS=po_line.PNLS,
                ITNO=po_line.ITNO,
                WHLO=message.WHLO,
                RVQA=Decimal(0),
                PUUN=line.PUUN or po_line.PUUN,
                SUDO=line.SUDO,
                TRDT=ctx.today,
                MSGN=message.MSGN,
                PMSN=message.PMSN,
            )
            ctx.session.add(receipt)
            receipts.append(receipt)
        receipt.RVQA += line.RVQA
        balance = ctx.session.get(Balance, (message.WHLO, po_line.ITNO))
        if balance is not None:
            balance.STQT += line.RVQA
            balances.append(balance)
    message.STAT = PROCESSED
    if receipts:
        ctx.session.flush()
        ctx.bods.receive_delivery(ctx.session, repn, message.WHLO, receipts, ctx.now)
        for puno in dict.fromkeys(receipt.PUNO for receipt in receipts):
            head = ctx.session.get(PurchaseHead, puno)
            assert head is not None
            publish(ctx.session, ctx.bods, head, ctx.now)
        ctx.bods.inventory_count(ctx.session, balances, ctx.now)
    return []


@mi("MHS850MI", "LstWhsLine")
def lst_whs_line(ctx: Context, record: Record) -> list[Row]:
    message = _message(ctx, record.text("MSGN"))
    query = select(WarehouseMessageLine).filter_by(MSGN=message.MSGN).order_by(WarehouseMessageLine.MSLN)
    if record.text("PACN"):
        query = query.filter_by(PACN=record.text("PACN"))
    if record.has("MSLN"):
        query = query.filter_by(MSLN=record.integer("MSLN"))
    rows = []
    for line in ctx.session.scalars(query):
        row: Row = {name: getattr(line, name) for name in WarehouseMessageLine.__table__.columns.keys()}  # noqa: SIM118
        row.update(CONO=ctx.config.cono, DIVI=ctx.config.divi, WHLO=message.WHLO)
        rows.append(row)
    return rows


@mi("MHS850MI", "GetMvxMsg")
def get_mvx_msg(ctx: Context, record: Record) -> list[Row]:
    e0pb, pmsn = record.text("E0PB"), record.text("PMSN")
    message = ctx.session.scalars(
        select(WarehouseMessage).filter_by(E0PB=e0pb, PMSN=pmsn).order_by(WarehouseMessage.MSGN)
    ).first()
    if message is None:
        raise messages.external_message_not_found(e0pb, pmsn)
    return [{"CONO": ctx.config.cono, "MSGN": message.MSGN}]


@mi("PPS320MI", "LstReceivedPO")
def lst_received_po(ctx: Context, record: Record) -> list[Row]:
    head = get_po(ctx, record.text("PUNO"))
    query = (
        select(PurchaseReceipt)
        .filter_by(PUNO=head.PUNO)
        .order_by(PurchaseReceipt.REPN, PurchaseReceipt.PNLI, PurchaseReceipt.PNLS)
    )
    rows = []
    for receipt in ctx.session.scalars(query):
        row: Row = {name: getattr(receipt, name) for name in PurchaseReceipt.__table__.columns.keys()}  # noqa: SIM118
        item = ctx.session.get(Item, receipt.ITNO)
        row["ITDS"] = item.ITDS if item else ""
        rows.append(row)
    return rows
