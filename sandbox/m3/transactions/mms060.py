"""MMS060MI: balance identities (MITLOC), read-only.

Verified (M3H5, MMS060MIResource.cs; m3-api.md §3.4): List takes WHLO (required) and optional ITNO,
WHSL, BANO, ...; LstViaItem takes ITNO (required) and optional WHLO, WHSL, BANO, ...; the outputs
include WHSL, BANO, STQT, ALQT, STAS.
Assumed: the sandbox keeps one balance identity per item and warehouse (no lots, no containers),
at the location stored on the warehouse balance (default "A-01-01"), always approved (STAS "2");
its quantities are the warehouse balance's. List pages by ITNO (its start key) and maxrecs.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from sandbox.m3 import messages
from sandbox.m3.db import Balance, Warehouse
from sandbox.m3.transactions.base import Context, Record, Row, mi
from sandbox.m3.transactions.mms200 import get_item

APPROVED = "2"


def balance_id_row(balance: Balance) -> Row:
    return {
        "WHLO": balance.WHLO,
        "ITNO": balance.ITNO,
        "WHSL": balance.WHSL,
        "BANO": "",
        "CAMU": "",
        "STAS": APPROVED,
        "STQT": balance.STQT,
        "ALQT": balance.ALQT,
    }


def warehouse(ctx: Context, whlo: str) -> Warehouse:
    found = ctx.session.get(Warehouse, whlo)
    if found is None:
        raise messages.warehouse_not_found(whlo)
    return found


def _narrow(query: Select[Balance], record: Record) -> Select[Balance] | None:
    """WHSL and BANO filters; None when they can match nothing (the sandbox has no lots)."""
    if record.text("BANO"):
        return None
    if record.text("WHSL"):
        query = query.filter_by(WHSL=record.text("WHSL"))
    return query


@mi("MMS060MI", "List")
def list_balance_ids(ctx: Context, record: Record) -> list[Row]:
    whlo = warehouse(ctx, record.text("WHLO")).WHLO
    query = _narrow(
        select(Balance)
        .filter_by(WHLO=whlo)
        .where(record.text("ITNO") <= Balance.ITNO)
        .order_by(Balance.ITNO),
        record,
    )
    if query is None:
        return []
    return [balance_id_row(balance) for balance in ctx.session.scalars(query.limit(ctx.limit))]


@mi("MMS060MI", "LstViaItem")
def lst_via_item(ctx: Context, record: Record) -> list[Row]:
    item = get_item(ctx, record.text("ITNO"))
    query = select(Balance).filter_by(ITNO=item.ITNO).order_by(Balance.WHLO)
    if record.text("WHLO"):
        query = query.filter_by(WHLO=warehouse(ctx, record.text("WHLO")).WHLO)
    narrowed = _narrow(query, record)
    if narrowed is None:
        return []
    return [balance_id_row(balance) for balance in ctx.session.scalars(narrowed.limit(ctx.limit))]
