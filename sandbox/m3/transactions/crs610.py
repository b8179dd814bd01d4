"""CRS610MI: customer master (OCUSMA)."""

from __future__ import annotations

from sqlalchemy import select

from sandbox.m3 import messages
from sandbox.m3.db import Customer, next_number
from sandbox.m3.transactions.base import Context, Record, Row, mi

CUSTOMER_STATUSES = {"10", "20", "90"}
BASIC_FIELDS = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "TOWN", "CSCD", "PHNO", "MAIL", "YREF")
CUSTOMER_SERIES = "CUNO"


def customer_row(customer: Customer, ctx: Context) -> Row:
    row: Row = {name: getattr(customer, name) for name in Customer.__table__.columns.keys()}  # noqa: SIM118
    row.update(CONO=ctx.config.cono, DIVI="")
    return row


def get_customer(ctx: Context, cuno: str) -> Customer:
    customer = ctx.session.get(Customer, cuno)
    if customer is None:
        raise messages.customer_not_found(cuno)
    return customer


def _check_status(record: Record) -> None:
    if record.has("STAT") and record.text("STAT") not in CUSTOMER_STATUSES:
        raise messages.invalid_status("STAT", record.text("STAT"))


def _next_customer_number(ctx: Context) -> str:
    # Skip numbers taken by customers added with an explicit CUNO (the demo data, for one).
    while True:
        cuno = f"C{next_number(ctx.session, CUSTOMER_SERIES, 1):09d}"
        if ctx.session.get(Customer, cuno) is None:
            return cuno


@mi("CRS610MI", "Add")
def add(ctx: Context, record: Record) -> list[Row]:
    template = ctx.session.get(Customer, record.text("CUTM"))
    if template is None:
        raise messages.customer_template_not_found(record.text("CUTM"))
    _check_status(record)
    cuno = record.text("CUNO") or _next_customer_number(ctx)
    if ctx.session.get(Customer, cuno) is not None:
        raise messages.record_already_exists("CUNO")
    # The template supplies everything the caller leaves out, as in M3.
    customer = Customer(
        CUNO=cuno,
        **{
            name: getattr(template, name)
            for name in ("CSCD", "CUCD", "LNCD", "CUTP", "ORTP", "WHLO", "TEPY", "MODL", "TEDL")
        },
        STAT="20",
        RGDT=ctx.today,
        LMDT=ctx.today,
        LMTS=ctx.timestamp,
    )
    for name in (*BASIC_FIELDS, "STAT", "CUCD", "LNCD"):
        if record.has(name):
            setattr(customer, name, record.text(name))
    ctx.session.add(customer)
    return [{"CUNO": cuno}]


@mi("CRS610MI", "GetBasicData")
def get_basic_data(ctx: Context, record: Record) -> list[Row]:
    return [customer_row(get_customer(ctx, record.text("CUNO")), ctx)]


@mi("CRS610MI", "ChgBasicData")
def chg_basic_data(ctx: Context, record: Record) -> list[Row]:
    customer = get_customer(ctx, record.text("CUNO"))
    _check_status(record)
    for name in (*BASIC_FIELDS, "STAT", "CUCD", "LNCD"):
        if record.has(name):
            setattr(customer, name, record.text(name))
    customer.LMDT = ctx.today
    customer.LMTS = ctx.timestamp
    return []


@mi("CRS610MI", "LstByNumber")
def lst_by_number(ctx: Context, record: Record) -> list[Row]:
    query = select(Customer).where(record.text("CUNO") <= Customer.CUNO).order_by(Customer.CUNO)
    return [customer_row(customer, ctx) for customer in ctx.session.scalars(query)]
