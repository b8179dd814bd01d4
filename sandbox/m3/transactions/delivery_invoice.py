"""MWS410MI (deliveries) and OIS350MI (customer invoices), both read-only."""

from __future__ import annotations

from sqlalchemy import select

from sandbox.m3 import messages
from sandbox.m3.db import Delivery, Invoice, OrderHead
from sandbox.m3.transactions.base import Context, Record, Row, mi


@mi("MWS410MI", "GetHead")
def get_delivery_head(ctx: Context, record: Record) -> list[Row]:
    dlix = record.integer("DLIX")
    delivery = ctx.session.get(Delivery, dlix)
    if delivery is None:
        raise messages.delivery_not_found(record.text("DLIX"))
    order = ctx.session.get(OrderHead, delivery.RIDN)
    return [
        {
            "DLIX": delivery.DLIX,
            "CONN": delivery.CONN,
            "IVNO": delivery.IVNO,
            "CUOR": order.CUOR if order else "",
            "WHLO": delivery.WHLO,
            "PGRS": delivery.PGRS,
            "PIST": delivery.PIST,
        }
    ]


@mi("OIS350MI", "LstInvHeadByCo")
def lst_inv_head_by_co(ctx: Context, record: Record) -> list[Row]:
    orno = record.text("ORNO")
    if ctx.session.get(OrderHead, orno) is None:
        raise messages.order_not_found(orno)
    query = select(Invoice).filter_by(ORNO=orno).order_by(Invoice.YEA4, Invoice.IVNO)
    return [
        {name: getattr(invoice, name) for name in Invoice.__table__.columns.keys()}  # noqa: SIM118
        for invoice in ctx.session.scalars(query)
    ]
