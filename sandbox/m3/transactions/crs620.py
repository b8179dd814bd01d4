"""CRS620MI: supplier master (CIDMAS).

Verified in the M3H5 catalogue (GaryWayneSmith/M3H5, CRS620MIResource.cs, CRS620MI/*Response.cs):
- the transaction names AddSupplier, UpdSupplier, GetBasicData, LstByNumber;
- AddSupplier's required list: SUNO, SUNM, SUTY, CSCD, ECAR, LNCD, DTFM, MEPF, SUCL, QUCL, ORTY,
  TEDL, MODL, TEAF, TEPA, DT4T, DTCD, CUCD, CRTP, TEPY, PYME, ATPR, ACRF; UpdSupplier requires SUNO
  only; GetBasicData takes SUNO (required) and returns CONO, SUNO, SUTY (N1), SUNM, ALSU, STAT (A2),
  LNCD, PHNO, CSCD, VRNO, ECAR, TEDL, MODL, CUCD, TEPY, PYME, BUYE and more. It returns no address
  lines: supplier addresses are CRS620MI AddAddress/GetAddress (ADR1-ADR4, TOWN, PONO by ADTE).
- LstByNumber takes SUNO (M3H5 marks it required; here a blank SUNO lists from the first supplier).
Assumed: that a template supplies the rest of AddSupplier's long required list (m3-api.md §3.8 calls
it [uncertain]), so the sandbox requires SUNO, SUNM, SUTY, CSCD, LNCD, CUCD; the statuses 10
(preliminary), 20 (definite, the default) and 90 (blocked), by analogy with customers and items.
"""

from __future__ import annotations

from sqlalchemy import select

from sandbox.m3 import bods, messages
from sandbox.m3.db import Supplier
from sandbox.m3.transactions.base import Context, Record, Row, mi

SUPPLIER_STATUSES = {"10", "20", "90"}
DEFINITE = "20"
TEXT_FIELDS = (
    *("SUNM", "ALSU", "STAT", "LNCD", "PHNO", "CSCD", "ECAR"),
    *("VRNO", "CUCD", "TEPY", "PYME", "BUYE", "MODL", "TEDL"),
)
# What the supplier template supplies when AddSupplier leaves them out.
TEMPLATE_TEPY, TEMPLATE_PYME = "30", "BT"


def supplier_row(supplier: Supplier, ctx: Context) -> Row:
    row: Row = {name: getattr(supplier, name) for name in Supplier.__table__.columns.keys()}  # noqa: SIM118
    row["CONO"] = ctx.config.cono
    return row


def get_supplier(ctx: Context, suno: str) -> Supplier:
    supplier = ctx.session.get(Supplier, suno)
    if supplier is None:
        raise messages.supplier_not_found(suno)
    return supplier


def _apply(supplier: Supplier, record: Record) -> None:
    if record.has("STAT") and record.text("STAT") not in SUPPLIER_STATUSES:
        raise messages.invalid_status("STAT", record.text("STAT"))
    for name in TEXT_FIELDS:
        if record.has(name):
            setattr(supplier, name, record.text(name))
    if record.has("SUTY"):
        supplier.SUTY = record.integer("SUTY")


@mi("CRS620MI", "AddSupplier")
def add_supplier(ctx: Context, record: Record) -> list[Row]:
    suno = record.text("SUNO")
    if ctx.session.get(Supplier, suno) is not None:
        raise messages.record_already_exists("SUNO")
    supplier = Supplier(
        SUNO=suno,
        STAT=DEFINITE,
        TEPY=TEMPLATE_TEPY,
        PYME=TEMPLATE_PYME,
        RGDT=ctx.today,
        LMDT=ctx.today,
        LMTS=ctx.timestamp,
    )
    _apply(supplier, record)
    ctx.session.add(supplier)
    ctx.bods.supplier_party_master(ctx.session, supplier, ctx.now, bods.ADD)
    return []


@mi("CRS620MI", "UpdSupplier")
def upd_supplier(ctx: Context, record: Record) -> list[Row]:
    supplier = get_supplier(ctx, record.text("SUNO"))
    _apply(supplier, record)
    supplier.LMDT = ctx.today
    supplier.LMTS = ctx.timestamp
    ctx.bods.supplier_party_master(ctx.session, supplier, ctx.now)
    return []


@mi("CRS620MI", "GetBasicData")
def get_basic_data(ctx: Context, record: Record) -> list[Row]:
    return [supplier_row(get_supplier(ctx, record.text("SUNO")), ctx)]


@mi("CRS620MI", "LstByNumber")
def lst_by_number(ctx: Context, record: Record) -> list[Row]:
    """Suppliers from SUNO (the start key, inclusive) on, in number order; maxrecs rows at most."""
    query = select(Supplier).where(record.text("SUNO") <= Supplier.SUNO).order_by(Supplier.SUNO)
    return [supplier_row(supplier, ctx) for supplier in ctx.session.scalars(query.limit(ctx.limit))]
