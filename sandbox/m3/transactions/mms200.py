"""MMS200MI: item master (MITMAS) and warehouse balances (MITBAL).

AddItmBasic: M3H5 marks STAT, ITNO, ITDS, RESP, UNMS, ITTY, MABU and PRVG required; the sandbox
requires all but RESP and PRVG, which an item template would supply (m3-api.md §3.3 [uncertain]).
MABU 1 = manufactured, 2 = purchased [assumed].
"""

from __future__ import annotations

from sqlalchemy import select

from sandbox.m3 import bods, messages
from sandbox.m3.db import Balance, Item, Warehouse
from sandbox.m3.transactions.base import Context, Record, Row, mi

ITEM_STATUSES = {"10", "20", "80", "90"}
ORDERABLE_STATUS = "20"
TEXT_FIELDS = ("STAT", "ITDS", "FUDS", "RESP", "UNMS", "ITGR", "ITCL", "ITTY", "PRVG")
MAKE_BUY_CODES = (1, 2)
# What the item template supplies when AddItmBasic leaves them out.
TEMPLATE_RESP, TEMPLATE_PRVG = "SANDBOX", "STD"


def item_row(item: Item) -> Row:
    return {name: getattr(item, name) for name in Item.__table__.columns.keys()}  # noqa: SIM118


def get_item(ctx: Context, itno: str) -> Item:
    item = ctx.session.get(Item, itno)
    if item is None:
        raise messages.item_not_found(itno)
    return item


def orderable_item(ctx: Context, itno: str) -> Item:
    item = get_item(ctx, itno)
    if item.STAT != ORDERABLE_STATUS:
        raise messages.item_blocked(itno, item.STAT)
    return item


def _apply(item: Item, record: Record) -> None:
    if record.has("STAT") and record.text("STAT") not in ITEM_STATUSES:
        raise messages.invalid_status("STAT", record.text("STAT"))
    if record.has("MABU") and record.decimal("MABU") not in MAKE_BUY_CODES:
        raise messages.invalid_value("MABU", record.text("MABU"), "1 or 2")
    for name in TEXT_FIELDS:
        if record.has(name):
            setattr(item, name, record.text(name))
    if record.has("MABU"):
        item.MABU = record.integer("MABU")


@mi("MMS200MI", "GetItmBasic")
def get_itm_basic(ctx: Context, record: Record) -> list[Row]:
    return [item_row(get_item(ctx, record.text("ITNO")))]


@mi("MMS200MI", "AddItmBasic")
def add_itm_basic(ctx: Context, record: Record) -> list[Row]:
    itno = record.text("ITNO")
    if ctx.session.get(Item, itno) is not None:
        raise messages.record_already_exists("ITNO")
    item = Item(ITNO=itno, RESP=TEMPLATE_RESP, PRVG=TEMPLATE_PRVG, LMDT=ctx.today)
    _apply(item, record)
    ctx.session.add(item)
    ctx.bods.item_master(ctx.session, item, ctx.now, bods.ADD)
    return []


@mi("MMS200MI", "UpdItmBasic")
def upd_itm_basic(ctx: Context, record: Record) -> list[Row]:
    item = get_item(ctx, record.text("ITNO"))
    _apply(item, record)
    item.LMDT = ctx.today
    ctx.bods.item_master(ctx.session, item, ctx.now)
    return []


@mi("MMS200MI", "LstItmByItm")
def lst_itm_by_itm(ctx: Context, record: Record) -> list[Row]:
    """Items from ITNO (the start key, inclusive) on, in item order; maxrecs rows at most."""
    query = select(Item).where(record.text("ITNO") <= Item.ITNO).order_by(Item.ITNO)
    return [item_row(item) for item in ctx.session.scalars(query.limit(ctx.limit))]


@mi("MMS200MI", "GetItmWhsBal")
def get_itm_whs_bal(ctx: Context, record: Record) -> list[Row]:
    whlo, itno = record.text("WHLO"), record.text("ITNO")
    if ctx.session.get(Warehouse, whlo) is None:
        raise messages.warehouse_not_found(whlo)
    get_item(ctx, itno)
    balance = ctx.session.get(Balance, (whlo, itno))
    if balance is None:
        raise messages.balance_not_found(itno, whlo)
    available = balance.STQT - balance.ALQT
    return [
        {
            "WHLO": whlo,
            "ITNO": itno,
            "STQT": balance.STQT,
            "QUQT": 0,
            "RJQT": 0,
            "ALQT": balance.ALQT,
            "AV01": available,
            "AVAL": available,
            "REQT": 0,
            "PLQT": balance.PLQT,
        }
    ]
