"""APS450MI (supplier invoice batches: FAPIBH/FAPIBL) and APS455MI/ValidByBatchNo (the match).

Verified (M3H5 APS450MIResource.cs, APS455MIResource.cs; Infor docs, m3-p2p.md §5): AddHead requires
SUNO, IVDT (SINO, IBTP, IMCD, CUCD, CUAM, VTAM, ACDT, DUDT, CORI, ... optional) and returns INBN;
AddLine requires INBN, RDTP (1 receipt line, 2 order charge, 5 line charge, 8 accounting line) and
returns TRNO; GetHead shows SUPA, IBHE/IBLE, VONO; ValidByBatchNo(INBN, DIVI) has no output; SUPA 15
= validated with errors; LstInvBySupInv returns INBN, IBTP, SUPA.
Assumed (sandbox): SUPA 10 entered, 15 validated with errors, 20 validated (matched and approved);
AddLine on RDTP 8 takes AIT1/AIT2/VTXT (newer releases do; M3H5 does not list them); RDTP 3 is a VAT
line kept as given; a supplier may not reuse a SINO (AddHead NOK naming the earlier INBN); SPYN
defaults to SUNO and is optional on LstInvBySupInv (M3H5 marks it required); ValidByBatchNo on SUPA
20 is NOK; a batch at 15 can take more lines and be validated again.
The match is APS900-style with the sandbox's tolerances (config.match_tolerances): per receipt line
the price (percent of the PO price, and (invoice - PO price) x invoiced quantity) and the quantity
(invoiced against received-not-yet-invoiced RVQA - IVQA); per invoice the amount (CUAM against the
lines' NLAM + VTAM, percent of the latter). A variance is within tolerance only when within both
its percent and its amount.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from sandbox.m3 import gl, messages
from sandbox.m3.bods import quantity
from sandbox.m3.config import Tolerance
from sandbox.m3.db import (
    PurchaseHead,
    PurchaseLine,
    PurchaseReceipt,
    SupplierInvoiceHead,
    SupplierInvoiceLine,
    next_number,
)
from sandbox.m3.purchasing import DELETED, publish, settle_line
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.crs620 import get_supplier
from sandbox.m3.transactions.gls840 import FIRST_VOUCHER, VOUCHER_SERIES
from sandbox.m3.transactions.pps200 import get_po, get_po_line

INVOICE_SERIES, FIRST_INVOICE = "INBN", 1000001
ENTERED, WITH_ERRORS, VALIDATED = 10, 15, 20
NORMAL_INVOICE = "20"
MATCHING_CODES = ("0", "1", "2")
RECEIPT_LINE, ACCOUNTING_LINE = 1, 8
LINE_TYPES = (1, 2, 3, 5, 8)
PAYMENT_DAYS = 30
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def get_invoice(ctx: Context, inbn: int) -> SupplierInvoiceHead:
    head = ctx.session.get(SupplierInvoiceHead, inbn)
    if head is None:
        raise messages.invoice_batch_not_found(str(inbn))
    return head


def invoice_lines(ctx: Context, inbn: int) -> list[SupplierInvoiceLine]:
    query = select(SupplierInvoiceLine).filter_by(INBN=inbn).order_by(SupplierInvoiceLine.TRNO)
    return list(ctx.session.scalars(query))


def _open(ctx: Context, inbn: int) -> SupplierInvoiceHead:
    head = get_invoice(ctx, inbn)
    if head.SUPA >= VALIDATED:
        raise messages.invoice_batch_validated(str(inbn))
    return head


@mi("APS450MI", "AddHead")
def add_head(ctx: Context, record: Record) -> list[Row]:
    supplier = get_supplier(ctx, record.text("SUNO"))
    ibtp = record.text("IBTP") or NORMAL_INVOICE
    if ibtp != NORMAL_INVOICE:
        raise messages.invalid_value("IBTP", ibtp, NORMAL_INVOICE)
    imcd = record.text("IMCD") or "1"
    if imcd not in MATCHING_CODES:
        raise messages.invalid_value("IMCD", imcd, "/".join(MATCHING_CODES))
    sino = record.text("SINO")
    if sino:
        earlier = ctx.session.scalars(
            select(SupplierInvoiceHead)
            .filter_by(SUNO=supplier.SUNO, SINO=sino)
            .order_by(SupplierInvoiceHead.INBN)
        ).first()
        if earlier is not None:
            raise messages.duplicate_supplier_invoice(sino, supplier.SUNO, earlier.INBN)
    ivdt = record.day("IVDT") or ctx.today
    head = SupplierInvoiceHead(
        INBN=next_number(ctx.session, INVOICE_SERIES, FIRST_INVOICE),
        DIVI=record.text("DIVI") or ctx.config.divi,
        SUNO=supplier.SUNO,
        SPYN=record.text("SPYN") or supplier.SUNO,
        SINO=sino,
        IBTP=ibtp,
        IMCD=imcd,
        IVDT=ivdt,
        CUCD=record.text("CUCD") or supplier.CUCD or "EUR",
        CUAM=record.decimal("CUAM", Decimal(0)) or Decimal(0),
        VTAM=record.decimal("VTAM", Decimal(0)) or Decimal(0),
        ACDT=record.day("ACDT") or ivdt,
        DUDT=record.day("DUDT") or ivdt + timedelta(days=PAYMENT_DAYS),
        PUNO=record.text("PUNO"),
        CORI=record.text("CORI"),
        SUPA=ENTERED,
        YEA4=ivdt.year,
    )
    ctx.session.add(head)
    return [{"INBN": head.INBN}]


def _receipt_line(ctx: Context, head: SupplierInvoiceHead, record: Record, line: SupplierInvoiceLine) -> None:
    for name, description in (("PUNO", "Purchase order number"), ("PNLI", "Purchase order line")):
        if not record.has(name):
            raise messages.mandatory_field(name, description)
    po = get_po(ctx, record.text("PUNO"))
    if po.SUNO != head.SUNO:
        raise messages.invoice_line_supplier(po.PUNO, head.SUNO)
    po_line = get_po_line(ctx, po.PUNO, record.integer("PNLI"), record.integer("PNLS"))
    if po_line.PUSL == DELETED:
        raise messages.invoice_line_status(po.PUNO, po_line.PNLI, po_line.PUSL)
    if record.text("ITNO") and record.text("ITNO") != po_line.ITNO:
        raise messages.item_not_on_order_line(record.text("ITNO"), po.PUNO, po_line.PNLI, po_line.ITNO)
    ivqa = record.decimal("IVQA", Decimal(0)) or Decimal(0)
    if ivqa <= 0:
        raise messages.invoiced_quantity_not_positive(quantity(ivqa))
    if record.has("REPN"):
        key = (record.integer("REPN"), po.PUNO, po_line.PNLI, po_line.PNLS)
        if ctx.session.get(PurchaseReceipt, key) is None:
            raise messages.receiving_number_not_found(record.text("REPN"), po.PUNO, po_line.PNLI)
        line.REPN = key[0]
    price, nlam = record.decimal("GRPR"), record.decimal("NLAM")
    if price is None:
        price = (nlam / ivqa).quantize(Decimal("0.0001")) if nlam is not None else po_line.PUPR
    line.PUNO, line.PNLI, line.PNLS, line.ITNO = po.PUNO, po_line.PNLI, po_line.PNLS, po_line.ITNO
    line.IVQA, line.GRPR, line.PUUN = ivqa, price, record.text("PUUN") or po_line.PUUN
    line.NLAM = (ivqa * price).quantize(CENT) if nlam is None else nlam


def _accounting_line(record: Record, line: SupplierInvoiceLine) -> None:
    if not record.has("AIT1"):
        raise messages.mandatory_field("AIT1", "Accounting dimension 1")
    if record.text("AIT1") not in gl.ACCOUNTS:
        raise messages.account_not_found("AIT1", record.text("AIT1"))
    if record.text("AIT2") and record.text("AIT2") not in gl.COST_CENTRES:
        raise messages.account_not_found("AIT2", record.text("AIT2"))
    if not record.has("NLAM"):
        raise messages.mandatory_field("NLAM", "Net amount - line")
    line.AIT1, line.AIT2 = record.text("AIT1"), record.text("AIT2")
    line.NLAM = record.decimal("NLAM", Decimal(0)) or Decimal(0)


@mi("APS450MI", "AddLine")
def add_line(ctx: Context, record: Record) -> list[Row]:
    head = _open(ctx, record.integer("INBN"))
    rdtp = record.integer("RDTP")
    if rdtp not in LINE_TYPES:
        raise messages.invalid_value("RDTP", record.text("RDTP"), "/".join(str(t) for t in LINE_TYPES))
    last = ctx.session.scalar(select(func.max(SupplierInvoiceLine.TRNO)).filter_by(INBN=head.INBN))
    line = SupplierInvoiceLine(INBN=head.INBN, TRNO=(last or 0) + 1, RDTP=rdtp, VTXT=record.text("VTXT"))
    line.SUDO = record.text("SUDO")
    if rdtp == RECEIPT_LINE:
        _receipt_line(ctx, head, record, line)
    elif rdtp == ACCOUNTING_LINE:
        _accounting_line(record, line)
    else:
        line.NLAM = record.decimal("NLAM", Decimal(0)) or Decimal(0)
    ctx.session.add(line)
    return [{"TRNO": line.TRNO}]


def _invoice_row(ctx: Context, head: SupplierInvoiceHead) -> Row:
    row: Row = {name: getattr(head, name) for name in SupplierInvoiceHead.__table__.columns.keys()}  # noqa: SIM118
    row["TLNA"] = sum((line.NLAM for line in invoice_lines(ctx, head.INBN)), Decimal(0))
    row["BIST"] = 0
    return row


@mi("APS450MI", "GetHead")
def get_head(ctx: Context, record: Record) -> list[Row]:
    return [_invoice_row(ctx, get_invoice(ctx, record.integer("INBN")))]


@mi("APS450MI", "LstLines")
def lst_lines(ctx: Context, record: Record) -> list[Row]:
    head = get_invoice(ctx, record.integer("INBN"))
    rows = []
    for line in invoice_lines(ctx, head.INBN):
        if record.has("TRNO") and record.integer("TRNO") != line.TRNO:
            continue
        row: Row = {name: getattr(line, name) for name in SupplierInvoiceLine.__table__.columns.keys()}  # noqa: SIM118
        row["CUCD"] = head.CUCD
        rows.append(row)
    return rows


@mi("APS450MI", "LstInvBySupInv")
def lst_inv_by_sup_inv(ctx: Context, record: Record) -> list[Row]:
    query = select(SupplierInvoiceHead).filter_by(SUNO=record.text("SUNO"), SINO=record.text("SINO"))
    if record.text("SPYN"):
        query = query.filter_by(SPYN=record.text("SPYN"))
    return [
        {"INBN": head.INBN, "IBTP": head.IBTP, "SUPA": head.SUPA}
        for head in ctx.session.scalars(query.order_by(SupplierInvoiceHead.INBN))
    ]


def within(tolerance: Tolerance, variance: Decimal, base: Decimal) -> bool:
    """Within both the percent (of `base`) and the absolute amount; any variance on a zero base is out."""
    size = abs(variance)
    if size == 0:
        return True
    if base == 0:
        return False
    return size * HUNDRED / abs(base) <= tolerance.percent and size <= tolerance.amount


def match(ctx: Context, head: SupplierInvoiceHead, lines: list[SupplierInvoiceLine]) -> dict[str, list[str]]:
    """APS360-style match of every receipt line and of the invoice amount: problems by TRNO ("head")."""
    tolerances = ctx.config.match_tolerances
    problems: dict[str, list[str]] = {}
    # Quantity already claimed by earlier lines of this invoice, per PO line.
    claimed: dict[tuple[str, int, int], Decimal] = {}
    for line in lines:
        if line.RDTP != RECEIPT_LINE:
            continue
        found: list[str] = []
        po_line = ctx.session.get(PurchaseLine, (line.PUNO, line.PNLI, line.PNLS))
        if po_line is None or po_line.PUSL == DELETED:
            problems[str(line.TRNO)] = [f"purchase order line {line.PUNO}/{line.PNLI} is not open"]
            continue
        variance = line.GRPR - po_line.PUPR
        if not within(tolerances.price, variance * line.IVQA, po_line.PUPR * line.IVQA):
            found.append(
                f"price {line.GRPR} differs from the order price {po_line.PUPR} by {variance} per unit "
                f"({(variance * line.IVQA).quantize(CENT)} on the line)"
            )
        key = (line.PUNO, line.PNLI, line.PNLS)
        open_quantity = po_line.RVQA - po_line.IVQA - claimed.get(key, Decimal(0))
        claimed[key] = claimed.get(key, Decimal(0)) + line.IVQA
        if open_quantity <= 0:
            found.append(f"no received quantity left to invoice on line {line.PUNO}/{line.PNLI}")
        elif not within(tolerances.quantity, line.IVQA - open_quantity, open_quantity):
            found.append(
                f"invoiced quantity {quantity(line.IVQA)} differs from the received, not invoiced "
                f"quantity {quantity(open_quantity)}"
            )
        if found:
            problems[str(line.TRNO)] = found
    total = sum((line.NLAM for line in lines), Decimal(0)) + head.VTAM
    # Percent of the lines plus VAT, as m3bng's match_tolerances.yaml reads it.
    if not within(tolerances.invoice_amount, head.CUAM - total, total):
        problems["head"] = [f"invoice amount {head.CUAM} differs from lines plus VAT {total}"]
    return problems


@mi("APS455MI", "ValidByBatchNo")
def valid_by_batch_no(ctx: Context, record: Record) -> list[Row]:
    head = _open(ctx, record.integer("INBN"))
    lines = invoice_lines(ctx, head.INBN)
    if not lines:
        raise messages.invoice_batch_empty(str(head.INBN))
    problems = match(ctx, head, lines)
    for line in lines:
        line.IBLE = 1 if str(line.TRNO) in problems else 0
    head.IBLE = int(any(line.IBLE for line in lines))
    head.IBHE = int("head" in problems)
    head.match_report = json.dumps(problems)
    if problems:
        head.SUPA = WITH_ERRORS
        return []
    head.SUPA = VALIDATED
    head.VONO = next_number(ctx.session, VOUCHER_SERIES, FIRST_VOUCHER)
    orders: dict[str, PurchaseHead] = {}
    for line in lines:
        if line.RDTP != RECEIPT_LINE:
            continue
        po_line = get_po_line(ctx, line.PUNO, line.PNLI, line.PNLS)
        po_line.IVQA += line.IVQA
        settle_line(po_line)
        orders[line.PUNO] = get_po(ctx, line.PUNO)
    for order in orders.values():
        publish(ctx.session, ctx.bods, order, ctx.now)
    return []
