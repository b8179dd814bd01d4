"""CRS610MI: customer master (OCUSMA), financial data and addresses (OCUSAD), search.

Verified in the M3H5 catalogue (GaryWayneSmith/M3H5, CRS610MIResource.cs and CRS610MI/*Response.cs):
- GetFinancial output names CRLM/CRL2/CRL3 (N15), TXAP "Tax applicable" (N1), BLCD "Customer stop"
  (N1), TOIN "Outstanding invoice amount", TBLG "Order value not invoiced", LMDT; ChgFinancial takes
  CUNO (required) and the same names (all optional).
- AddAddress requires CUNO, ADRT, ADID, CUA1, PONO, CSCD, TOWN; ChgAddress requires CUNO, ADRT, ADID,
  CUA1, CSCD; GetAddress requires CUNO, ADRT, ADID; LstAddresses requires CUNO, optional ADRT.
- ADRT 1 is the delivery address: docs.infor.com (OIS002) "the address type set to 01".
Assumed (no public evidence found):
- the valid ADRT range (1-9), BLCD 0-9, TXAP 0/1, the ADID length (A6);
- SearchCustomer's input SQRY (named after CRS620MI/SearchSupplier, where M3H5 lists it as required)
  and its output, here the LstByNumber columns. Real M3 search is a full Lucene-style index; the
  sandbox supports the subset documented at `parse_search_query`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select

from sandbox.m3 import bods, messages
from sandbox.m3.db import Customer, CustomerAddress, LedgerEntry, OrderHead, next_number
from sandbox.m3.transactions.base import Context, Record, Row, mi

CUSTOMER_STATUSES = {"10", "20", "90"}
BASIC_FIELDS = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "TOWN", "CSCD", "PHNO", "MAIL", "YREF")
ADDRESS_FIELDS = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "TOWN", "CSCD", "PHNO", "YREF")
CREDIT_LIMITS = ("CRLM", "CRL2", "CRL3")
ADDRESS_TYPES = range(1, 10)
CUSTOMER_STOPS = range(0, 10)
CUSTOMER_SERIES = "CUNO"
INVOICED = "77"


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


def _touch(customer: Customer, ctx: Context) -> None:
    customer.LMDT = ctx.today
    customer.LMTS = ctx.timestamp


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
            for name in (
                "CSCD",
                "CUCD",
                "LNCD",
                "CUTP",
                "ORTP",
                "WHLO",
                "TEPY",
                "MODL",
                "TEDL",
                *CREDIT_LIMITS,
                "TXAP",
                "BLCD",
            )
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
    ctx.bods.customer_party_master(ctx.session, customer, ctx.now, bods.ADD)
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
    _touch(customer, ctx)
    ctx.bods.customer_party_master(ctx.session, customer, ctx.now)
    return []


@mi("CRS610MI", "LstByNumber")
def lst_by_number(ctx: Context, record: Record) -> list[Row]:
    """Customers from CUNO (the start key, inclusive) on, in number order; maxrecs rows at most."""
    query = select(Customer).where(record.text("CUNO") <= Customer.CUNO).order_by(Customer.CUNO)
    return [customer_row(customer, ctx) for customer in ctx.session.scalars(query.limit(ctx.limit))]


# Financial data.
@mi("CRS610MI", "GetFinancial")
def get_financial(ctx: Context, record: Record) -> list[Row]:
    customer = get_customer(ctx, record.text("CUNO"))
    outstanding = ctx.session.scalars(select(LedgerEntry.OPAM).filter_by(CUNO=customer.CUNO))
    not_invoiced = ctx.session.scalars(
        select(OrderHead.NTAM).where(OrderHead.CUNO == customer.CUNO, OrderHead.ORSL < INVOICED)
    )
    row = customer_row(customer, ctx)
    row.update(
        DIVI=ctx.config.divi,
        TOIN=sum(outstanding, Decimal(0)),
        TBLG=sum(not_invoiced, Decimal(0)),
    )
    return [row]


def _whole_number(record: Record, name: str, allowed: range, text: str) -> int:
    value = record.decimal(name)
    assert value is not None
    if value != value.to_integral_value() or int(value) not in allowed:
        raise messages.invalid_value(name, record.text(name), text)
    return int(value)


@mi("CRS610MI", "ChgFinancial")
def chg_financial(ctx: Context, record: Record) -> list[Row]:
    customer = get_customer(ctx, record.text("CUNO"))
    for name in CREDIT_LIMITS:
        if record.has(name):
            limit = record.decimal(name)
            assert limit is not None
            if limit < 0:
                raise messages.negative_credit_limit(name, record.text(name))
            setattr(customer, name, limit)
    if record.has("TXAP"):
        customer.TXAP = _whole_number(record, "TXAP", range(0, 2), "0 or 1")
    if record.has("BLCD"):
        customer.BLCD = _whole_number(record, "BLCD", CUSTOMER_STOPS, "0 to 9")
    _touch(customer, ctx)
    ctx.bods.customer_party_master(ctx.session, customer, ctx.now)
    return []


# Addresses.
def address_row(address: CustomerAddress, ctx: Context) -> Row:
    row: Row = {name: getattr(address, name) for name in CustomerAddress.__table__.columns.keys()}  # noqa: SIM118
    row["CONO"] = ctx.config.cono
    return row


def _address_key(record: Record) -> tuple[str, int, str]:
    adrt = _whole_number(record, "ADRT", ADDRESS_TYPES, "1 to 9")
    return record.text("CUNO"), adrt, record.text("ADID")


def _get_address(ctx: Context, record: Record) -> tuple[Customer, CustomerAddress]:
    customer = get_customer(ctx, record.text("CUNO"))
    cuno, adrt, adid = _address_key(record)
    address = ctx.session.get(CustomerAddress, (cuno, adrt, adid))
    if address is None:
        raise messages.address_not_found(cuno, adrt, adid)
    return customer, address


@mi("CRS610MI", "AddAddress")
def add_address(ctx: Context, record: Record) -> list[Row]:
    customer = get_customer(ctx, record.text("CUNO"))
    key = _address_key(record)
    if ctx.session.get(CustomerAddress, key) is not None:
        raise messages.record_already_exists("ADID")
    cuno, adrt, adid = key
    address = CustomerAddress(CUNO=cuno, ADRT=adrt, ADID=adid, LMDT=ctx.today, LMTS=ctx.timestamp)
    for name in ADDRESS_FIELDS:
        setattr(address, name, record.text(name))
    ctx.session.add(address)
    ctx.bods.customer_party_master(ctx.session, customer, ctx.now)
    return []


@mi("CRS610MI", "ChgAddress")
def chg_address(ctx: Context, record: Record) -> list[Row]:
    customer, address = _get_address(ctx, record)
    for name in ADDRESS_FIELDS:
        if record.has(name):
            setattr(address, name, record.text(name))
    address.LMDT = ctx.today
    address.LMTS = ctx.timestamp
    ctx.bods.customer_party_master(ctx.session, customer, ctx.now)
    return []


@mi("CRS610MI", "GetAddress")
def get_address(ctx: Context, record: Record) -> list[Row]:
    return [address_row(_get_address(ctx, record)[1], ctx)]


@mi("CRS610MI", "LstAddresses")
def lst_addresses(ctx: Context, record: Record) -> list[Row]:
    customer = get_customer(ctx, record.text("CUNO"))
    query = (
        select(CustomerAddress)
        .filter_by(CUNO=customer.CUNO)
        .order_by(CustomerAddress.ADRT, CustomerAddress.ADID)
    )
    if record.has("ADRT"):
        query = query.filter_by(ADRT=_whole_number(record, "ADRT", ADDRESS_TYPES, "1 to 9"))
    return [address_row(address, ctx) for address in ctx.session.scalars(query.limit(ctx.limit))]


# Search.
SEARCH_FIELDS = ("CUNO", "CUNM", "MAIL", "PONO", "PHNO", "TOWN")
_TERM = re.compile(r"""\s*([A-Za-z0-9]+)\s*:\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))\s*""")
_AND = re.compile(r"AND(?:\s+|$)", re.IGNORECASE)


@dataclass(frozen=True)
class SearchTerm:
    field: str
    value: str
    prefix: bool
    # The table searched (PPS200MI/SearchHead reuses the parser over MPHEAD).
    model: type[Any] = Customer

    def condition(self) -> ColumnElement[bool]:
        column = func.lower(getattr(self.model, self.field))
        if not self.prefix:
            return column == self.value.lower()
        escaped = self.value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(f"{escaped}%", escape="\\")


def parse_search_query(
    query: str, fields: tuple[str, ...] = SEARCH_FIELDS, model: type[Any] = Customer
) -> list[SearchTerm]:
    """The supported subset of M3's search syntax:

    ``FIELD:value`` terms joined by `` AND `` (any case); FIELD is one of `fields` (for customers
    CUNO, CUNM, MAIL, PONO, PHNO, TOWN); the value may be in double or single quotes (then it may
    hold blanks); a trailing ``*`` makes
    it a prefix match. Matching ignores case and compares the whole field. Examples:
    ``CUNM:velo*``, ``MAIL:"anna@example.com" AND PONO:10119``.
    """
    terms: list[SearchTerm] = []
    position = 0
    while True:
        match = _TERM.match(query, position)
        if match is None:
            raise messages.invalid_search_query(f"expected FIELD:value at position {position + 1}")
        field = match.group(1).upper()
        if field not in fields:
            raise messages.invalid_search_query(
                f"field {match.group(1)} cannot be searched, use {', '.join(fields)}"
            )
        value = next(group for group in match.group(2, 3, 4) if group is not None)
        prefix = value.endswith("*")
        value = value.rstrip("*") if prefix else value
        if not value and not prefix:
            raise messages.invalid_search_query(f"no value for {field}")
        terms.append(SearchTerm(field, value, prefix, model))
        position = match.end()
        if position == len(query):
            return terms
        joined = _AND.match(query, position)
        if joined is None:
            raise messages.invalid_search_query(f"expected AND at position {position + 1}")
        position = joined.end()


@mi("CRS610MI", "SearchCustomer")
def search_customer(ctx: Context, record: Record) -> list[Row]:
    terms = parse_search_query(record.text("SQRY"))
    query = select(Customer).where(*(term.condition() for term in terms)).order_by(Customer.CUNO)
    return [customer_row(customer, ctx) for customer in ctx.session.scalars(query.limit(ctx.limit))]
