"""MMS850MI: internal stock transactions; AddAdjust only.

Verified (M3H5, MMS850MIResource.cs and MMS850MI/AddAdjustResponse.cs): AddAdjust is "Add Stock
Adjustment Transaction (update with +/- qty)"; its required inputs are E0PA (partner), E065 (message
type) and WHLO; PRFL, WHSL, ITNO, BANO, QLQT (quantity), RSCD (transaction reason), STAG, BREM,
RESP, ... are optional; it returns CONO, MSNR, MSLN, MSGS. So QLQT is a signed delta, not the
counted quantity: to reach a counted quantity, send counted - STQT (MMS200MI/GetItmWhsBal).
Assumed: PRFL "*EXE" (or blank) posts at once and "*CHK" only checks; E0PA/E065 are not checked
against partner set-up; ITNO and a non-zero QLQT are needed in practice; WHSL, when given, must be
the balance's location; the on-hand balance may not fall below the allocated quantity (nor zero).
"""

from __future__ import annotations

from decimal import Decimal

from sandbox.m3 import messages
from sandbox.m3.bods import quantity
from sandbox.m3.catalogue import FIELDS
from sandbox.m3.db import Balance, next_number
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.mms060 import warehouse
from sandbox.m3.transactions.mms200 import get_item

EXECUTE, CHECK = "*EXE", "*CHK"
MESSAGE_SERIES, FIRST_MESSAGE = "MSNR", 100000001


def _required(record: Record, name: str) -> None:
    if not record.has(name):
        raise messages.mandatory_field(name, FIELDS[name].description)


@mi("MMS850MI", "AddAdjust")
def add_adjust(ctx: Context, record: Record) -> list[Row]:
    prfl = record.text("PRFL") or EXECUTE
    if prfl not in (EXECUTE, CHECK):
        raise messages.invalid_process_flag(prfl)
    whlo = warehouse(ctx, record.text("WHLO")).WHLO
    _required(record, "ITNO")
    _required(record, "QLQT")
    item = get_item(ctx, record.text("ITNO"))
    balance = ctx.session.get(Balance, (whlo, item.ITNO))
    if balance is None:
        raise messages.balance_not_found(item.ITNO, whlo)
    if record.text("WHSL") and record.text("WHSL") != balance.WHSL:
        raise messages.location_not_found(record.text("WHSL"), whlo)
    if record.text("BANO"):
        raise messages.lot_not_found(record.text("BANO"))
    delta = record.decimal("QLQT", Decimal(0)) or Decimal(0)
    if delta == 0:
        raise messages.quantity_zero()
    onhand = balance.STQT + delta
    if onhand < 0:
        raise messages.balance_negative(item.ITNO, whlo, quantity(onhand))
    if onhand < balance.ALQT:
        raise messages.balance_below_allocated(item.ITNO, whlo, quantity(onhand), quantity(balance.ALQT))
    msnr = str(next_number(ctx.session, MESSAGE_SERIES, FIRST_MESSAGE))
    if prfl == EXECUTE:
        balance.STQT = onhand
        ctx.bods.inventory_count(ctx.session, [balance], ctx.now)
    return [{"CONO": ctx.config.cono, "MSNR": msnr, "MSLN": 1, "MSGS": 1}]
