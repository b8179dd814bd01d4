"""Move a customer order through M3's line statuses, one step at a time.

22 -> 33 allocate (ALQT up) -> 44 picking list (delivery created) -> 66 delivered (STQT down,
SyncShipment) -> 77 invoiced (invoice + open AR item, SyncInvoice). Every step publishes
SyncSalesOrder; the two that change a balance's STQT or ALQT (33 and 66) also publish one
SyncInventoryCount per warehouse balance touched. The head's ORSL/ORST are the lowest/highest line
status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import (
    ZERO,
    Balance,
    Delivery,
    Invoice,
    LedgerEntry,
    OrderHead,
    OrderLine,
    Store,
    next_number,
)
from sandbox.m3.outbox import BodPublisher

NEXT_STATUS = {"22": "33", "33": "44", "44": "66", "66": "77"}
FINAL_STATUS = "77"
PAYMENT_DAYS = 30

DELIVERY_SERIES, FIRST_DLIX = "DLIX", 5000000001
SHIPMENT_SERIES, FIRST_CONN = "CONN", 8000001
INVOICE_SERIES, FIRST_IVNO = "IVNO", 700000001
CENT = Decimal("0.01")


def order_lines(session: Session, orno: str) -> list[OrderLine]:
    return list(
        session.scalars(select(OrderLine).filter_by(ORNO=orno).order_by(OrderLine.PONR, OrderLine.POSX))
    )


def refresh_head_status(head: OrderHead, lines: Sequence[OrderLine]) -> None:
    statuses = [line.ORST for line in lines] or ["22"]
    head.ORSL, head.ORST = min(statuses), max(statuses)
    head.STAT = head.ORSL


def _balance(session: Session, line: OrderLine) -> Balance:
    balance = session.get(Balance, (line.WHLO, line.ITNO))
    if balance is None:
        balance = Balance(WHLO=line.WHLO, ITNO=line.ITNO, STQT=ZERO, ALQT=ZERO, PLQT=ZERO)
        session.add(balance)
    return balance


def _allocate(session: Session, lines: Sequence[OrderLine]) -> list[Balance]:
    balances = []
    for line in lines:
        balance = _balance(session, line)
        balance.ALQT += line.ORQT
        balances.append(balance)
    return balances


def _release_for_picking(session: Session, head: OrderHead, lines: Sequence[OrderLine]) -> None:
    delivery = Delivery(
        DLIX=next_number(session, DELIVERY_SERIES, FIRST_DLIX),
        CONN=next_number(session, SHIPMENT_SERIES, FIRST_CONN),
        RIDN=head.ORNO,
        CUNO=head.CUNO,
        WHLO=head.WHLO,
        PGRS="05",
        PIST="05",
    )
    session.add(delivery)
    for line in lines:
        line.DLIX = delivery.DLIX
        _balance(session, line).PLQT += line.ORQT


def _deliver(session: Session, head: OrderHead, lines: Sequence[OrderLine]) -> tuple[Delivery, list[Balance]]:
    balances = []
    for line in lines:
        balance = _balance(session, line)
        balance.STQT -= line.ORQT
        balance.ALQT -= line.ORQT
        balance.PLQT -= line.ORQT
        balances.append(balance)
    delivery = _delivery_of(session, head, lines)
    delivery.PGRS = delivery.PIST = "60"  # ready for invoicing
    return delivery, balances


def _delivery_of(session: Session, head: OrderHead, lines: Sequence[OrderLine]) -> Delivery:
    dlix = next(line.DLIX for line in lines if line.DLIX is not None)
    delivery = session.get(Delivery, dlix)
    assert delivery is not None, f"order {head.ORNO} has no delivery"
    return delivery


def _invoice(
    session: Session, config: M3SandboxConfig, head: OrderHead, lines: Sequence[OrderLine], now: datetime
) -> Invoice:
    delivery = _delivery_of(session, head, lines)
    net = sum((line.ORQT * line.SAPR for line in lines), ZERO).quantize(CENT)
    tax = (net * config.tax_rate).quantize(CENT)
    invoice = Invoice(
        IVNO=next_number(session, INVOICE_SERIES, FIRST_IVNO),
        YEA4=now.year,
        DIVI=config.divi,
        ORNO=head.ORNO,
        DLIX=delivery.DLIX,
        CUNO=head.CUNO,
        IVDT=now.date(),
        DUDT=now.date() + timedelta(days=PAYMENT_DAYS),
        CUCD=head.CUCD,
        AMT1=net,
        VTAM=tax,
        IVAM=net + tax,
    )
    session.add(invoice)
    session.add(
        LedgerEntry(
            CUNO=head.CUNO,
            CINO=str(invoice.IVNO),
            INYR=invoice.YEA4,
            DIVI=config.divi,
            CUCD=head.CUCD,
            CUAM=invoice.IVAM,
            VTAM=tax,
            OPAM=invoice.IVAM,
            IVDT=invoice.IVDT,
            DUDT=invoice.DUDT,
        )
    )
    delivery.IVNO = invoice.IVNO
    delivery.PGRS = delivery.PIST = "70"  # invoiced
    return invoice


def advance_order(
    session: Session, config: M3SandboxConfig, bods: BodPublisher, orno: str, now: datetime | None = None
) -> str | None:
    """Advance one order one step; returns the new status, or None when there is nothing to do."""
    now = now or datetime.now(UTC)
    head = session.get(OrderHead, orno)
    if head is None:
        return None
    lines = order_lines(session, orno)
    current = min((line.ORST for line in lines), default=FINAL_STATUS)
    target = NEXT_STATUS.get(current)
    if target is None:
        return None
    moving = [line for line in lines if current == line.ORST]
    if target == "33":
        bods.inventory_count(session, _allocate(session, moving), now)
    elif target == "44":
        _release_for_picking(session, head, moving)
    for line in moving:
        line.ORST = target
    refresh_head_status(head, lines)
    head.LMDT = now.date()
    head.LMTS = int(now.timestamp() * 1_000_000)
    if target == "66":
        delivery, balances = _deliver(session, head, moving)
        bods.inventory_count(session, balances, now)
        bods.shipment(session, delivery, head, moving, now)
    elif target == "77":
        invoice = _invoice(session, config, head, moving, now)
        bods.invoice(session, invoice, head, moving, now)
    bods.sales_order(session, head, lines, now)
    return target


def open_orders(session: Session) -> list[str]:
    query = select(OrderHead.ORNO).where(OrderHead.ORSL < FINAL_STATUS).order_by(OrderHead.ORNO)
    return list(session.scalars(query))


def advance_all(store: Store, config: M3SandboxConfig, bods: BodPublisher) -> dict[str, str]:
    """One step for every open order, each in its own transaction."""
    with store.transaction() as session:
        ornos = open_orders(session)
    advanced: dict[str, str] = {}
    for orno in ornos:
        with store.transaction() as session:
            status = advance_order(session, config, bods, orno)
        if status is not None:
            advanced[orno] = status
    if advanced:
        bods.wake()
    return advanced


async def run_lifecycle(store: Store, config: M3SandboxConfig, bods: BodPublisher) -> None:
    """Background task: with `lifecycle_interval_seconds` set, advance every open order per interval.

    The interval is read on every round, so `/_sandbox/config` can switch it on and off.
    """
    while True:
        interval = config.lifecycle_interval_seconds
        await asyncio.sleep(interval or 0.5)
        if interval and config.lifecycle_interval_seconds:
            await asyncio.to_thread(advance_all, store, config, bods)
