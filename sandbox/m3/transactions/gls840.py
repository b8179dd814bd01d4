"""GLS840MI (generic GL interface: FGLINH/FGLINL) and GLS200MI (voucher inquiry, read only).

Verified (M3H5 GLS840MIResource.cs, GLS200MIResource.cs; gls842, m3-p2p.md §6): AddBatchHead takes
KEY1, INTN, DESC (DIVI, USID optional); AddBatchLine takes KEY1, LINE, PARM; CtrlBatch and UpdBatch
take KEY1; all four return only CONO. GLS200MI/LstVouchersByDt takes FRDT, TODT (DIVI optional) and
lists voucher lines (VONO, JRNO, JSNO, ACDT, AIT1-7, CUAM, VTXT, ...); GetVoucherHead and
LstVoucherLines take DIVI, YEA4, VONO.
Assumed (sandbox): the PARM layout is the sandbox's GLS850 interface (sandbox/m3/gl.py); CtrlBatch
checks every line and names each failing one; a batch is one voucher, so its lines share one
accounting date; UpdBatch controls again, posts (VONO from a number series, VSER blank) and deletes
the FGLINH/FGLINL rows, so the same KEY1 can be added again afterwards (real M3 behaves so too: the
interface keeps no history); ACAM = CUAM (one currency per tenant is enough here).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import delete, select

from sandbox.m3 import gl, messages
from sandbox.m3.db import GlBatchHead, GlBatchLine, GlVoucherLine, next_number
from sandbox.m3.transactions.base import Context, Record, Row, mi

VOUCHER_SERIES, FIRST_VOUCHER = "VONO", 10000001
JOURNAL_SERIES, FIRST_JOURNAL = "JRNO", 1000001
TRANSACTION_DESCRIPTION = "GLS840"


def _divi(ctx: Context, record: Record) -> str:
    return record.text("DIVI") or ctx.config.divi


def _batch(ctx: Context, record: Record) -> GlBatchHead:
    head = ctx.session.get(GlBatchHead, (_divi(ctx, record), record.text("KEY1")))
    if head is None:
        raise messages.gl_batch_not_found(record.text("KEY1"))
    return head


def _control(ctx: Context, head: GlBatchHead) -> list[gl.JournalLine]:
    """Every line checked; NOK naming each problem, or the parsed lines."""
    interface = gl.INTERFACES[head.INTN]
    rows = ctx.session.scalars(
        select(GlBatchLine).filter_by(DIVI=head.DIVI, KEY1=head.KEY1).order_by(GlBatchLine.LINE)
    ).all()
    if not rows:
        raise messages.gl_batch_errors(head.KEY1, ["no lines"])
    problems: list[str] = []
    lines: list[gl.JournalLine] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        checked = gl.parse_line(interface, row.LINE, row.PARM, ctx.config.gl_open_from)
        problems.extend(checked.problems)
        if checked.journal_line is not None:
            lines.append(checked.journal_line)
        if checked.cuam is not None and checked.cucd:
            totals[checked.cucd] += checked.cuam
    if lines:
        first = lines[0]
        problems.extend(
            f"line {line.line}: accounting date {line.acdt:%Y%m%d} differs from line {first.line}"
            for line in lines
            if line.acdt != first.acdt
        )
    problems.extend(
        f"currency {cucd} does not balance, difference {total}"
        for cucd, total in totals.items()
        if total != 0
    )
    if problems:
        raise messages.gl_batch_errors(head.KEY1, problems)
    return lines


@mi("GLS840MI", "AddBatchHead")
def add_batch_head(ctx: Context, record: Record) -> list[Row]:
    divi, key1, intn = _divi(ctx, record), record.text("KEY1"), record.text("INTN")
    if intn not in gl.INTERFACES:
        raise messages.interface_not_found(intn)
    if ctx.session.get(GlBatchHead, (divi, key1)) is not None:
        raise messages.record_already_exists("KEY1")
    ctx.session.add(
        GlBatchHead(DIVI=divi, KEY1=key1, INTN=intn, DESC=record.text("DESC"), USID=record.text("USID"))
    )
    return [{"CONO": ctx.config.cono}]


@mi("GLS840MI", "AddBatchLine")
def add_batch_line(ctx: Context, record: Record) -> list[Row]:
    head = _batch(ctx, record)
    line = record.integer("LINE")
    if ctx.session.get(GlBatchLine, (head.DIVI, head.KEY1, line)) is not None:
        raise messages.record_already_exists("LINE")
    # PARM keeps its blanks: the layout is position based (the executor only strips the ends).
    ctx.session.add(GlBatchLine(DIVI=head.DIVI, KEY1=head.KEY1, LINE=line, PARM=record.text("PARM")))
    return [{"CONO": ctx.config.cono}]


@mi("GLS840MI", "CtrlBatch")
def ctrl_batch(ctx: Context, record: Record) -> list[Row]:
    _control(ctx, _batch(ctx, record))
    return [{"CONO": ctx.config.cono}]


@mi("GLS840MI", "UpdBatch")
def upd_batch(ctx: Context, record: Record) -> list[Row]:
    head = _batch(ctx, record)
    lines = _control(ctx, head)
    vono = next_number(ctx.session, VOUCHER_SERIES, FIRST_VOUCHER)
    jrno = next_number(ctx.session, JOURNAL_SERIES, FIRST_JOURNAL)
    for jsno, line in enumerate(lines, start=1):
        ctx.session.add(
            GlVoucherLine(
                DIVI=head.DIVI,
                YEA4=line.acdt.year,
                JRNO=jrno,
                JSNO=jsno,
                VSER="",
                VONO=vono,
                ACDT=line.acdt,
                AIT1=line.ait1,
                AIT2=line.ait2,
                CUCD=line.cucd,
                CUAM=line.cuam,
                VTXT=line.vtxt,
                description=line.vdsc or head.DESC,
                KEY1=head.KEY1,
                RGDT=ctx.today,
            )
        )
    ctx.session.execute(
        delete(GlBatchLine).where(GlBatchLine.DIVI == head.DIVI, GlBatchLine.KEY1 == head.KEY1)
    )
    ctx.session.delete(head)
    return [{"CONO": ctx.config.cono}]


def voucher_row(ctx: Context, line: GlVoucherLine) -> Row:
    return {
        "CONO": ctx.config.cono,
        "DIVI": line.DIVI,
        "YEA4": line.YEA4,
        "JRNO": line.JRNO,
        "JSNO": line.JSNO,
        "VDSC": line.description[:7],
        "ACDT": line.ACDT,
        "VSER": line.VSER,
        "VONO": line.VONO,
        "AIT1": line.AIT1,
        "AIT2": line.AIT2,
        "CUCD": line.CUCD,
        "ACAM": line.CUAM,
        "DBCR": "D" if line.CUAM >= 0 else "C",
        "CUAM": line.CUAM,
        "VTXT": line.VTXT,
    }


def _voucher_lines(ctx: Context, record: Record) -> list[GlVoucherLine]:
    divi, yea4, vono = _divi(ctx, record), record.integer("YEA4"), record.integer("VONO")
    query = select(GlVoucherLine).filter_by(DIVI=divi, YEA4=yea4, VONO=vono)
    if record.has("JRNO"):
        query = query.filter_by(JRNO=record.integer("JRNO"))
    lines = list(ctx.session.scalars(query.order_by(GlVoucherLine.JRNO, GlVoucherLine.JSNO)))
    if not lines or (record.has("VSER") and record.text("VSER") != lines[0].VSER):
        raise messages.voucher_not_found(divi, yea4, vono)
    return lines


@mi("GLS200MI", "LstVouchersByDt")
def lst_vouchers_by_dt(ctx: Context, record: Record) -> list[Row]:
    query = (
        select(GlVoucherLine)
        .filter_by(DIVI=_divi(ctx, record))
        .where(GlVoucherLine.ACDT.between(record.day("FRDT"), record.day("TODT")))
        .order_by(GlVoucherLine.YEA4, GlVoucherLine.JRNO, GlVoucherLine.JSNO)
    )
    return [voucher_row(ctx, line) for line in ctx.session.scalars(query.limit(ctx.limit))]


@mi("GLS200MI", "GetVoucherHead")
def get_voucher_head(ctx: Context, record: Record) -> list[Row]:
    lines = _voucher_lines(ctx, record)
    first = lines[0]
    debit = sum((line.CUAM for line in lines if line.CUAM > 0), Decimal(0))
    credit = sum((line.CUAM for line in lines if line.CUAM < 0), Decimal(0))
    return [
        {
            "CONO": ctx.config.cono,
            "DIVI": first.DIVI,
            "YEA4": first.YEA4,
            "VSER": first.VSER,
            "VONO": first.VONO,
            "TDSC": TRANSACTION_DESCRIPTION,
            "VDSC": first.description[:7],
            "DSUM": debit,
            "CSUM": credit,
            "CUAD": debit,
            "CUAC": credit,
            "CUCD": first.CUCD,
        }
    ]


@mi("GLS200MI", "LstVoucherLines")
def lst_voucher_lines(ctx: Context, record: Record) -> list[Row]:
    return [voucher_row(ctx, line) for line in _voucher_lines(ctx, record)]
