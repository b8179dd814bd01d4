"""Purchase order line statuses and the clock that confirms them.

20 (sent) -> 35 (confirmed) `po_confirm_seconds` after the line was placed (or on command, admin API);
a first receipt -> 50; received >= ordered and invoiced >= received -> 85; DltLine -> 99. The head's
PUSL/PUST are the lowest status of its live lines and the highest of all. Every change publishes
SyncPurchaseOrder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import ZERO, PurchaseHead, PurchaseLine, Store
from sandbox.m3.outbox import BodPublisher

SENT, CONFIRMED, RECEIVED, CLOSED, DELETED = "20", "35", "50", "85", "99"
CENT = Decimal("0.01")


def po_lines(session: Session, puno: str) -> list[PurchaseLine]:
    query = select(PurchaseLine).filter_by(PUNO=puno).order_by(PurchaseLine.PNLI, PurchaseLine.PNLS)
    return list(session.scalars(query))


def set_line_status(line: PurchaseLine, status: str) -> None:
    line.PUSL = line.PUST = status


def settle_line(line: PurchaseLine) -> None:
    """After a receipt or an invoice: 50 once anything arrived, 85 once received and invoiced in full."""
    if line.PUSL >= CLOSED:
        return
    if line.RVQA > 0 and line.RVQA >= line.ORQA and line.IVQA >= line.RVQA:
        set_line_status(line, CLOSED)
    elif line.RVQA > 0 and line.PUSL < RECEIVED:
        set_line_status(line, RECEIVED)


def refresh_head(head: PurchaseHead, lines: Sequence[PurchaseLine], now: datetime) -> None:
    live = [line.PUSL for line in lines if line.PUSL != DELETED]
    head.PUSL = min(live, default=DELETED)
    head.PUST = max((line.PUST for line in lines), default=SENT)
    head.NTAM = sum(((line.ORQA * line.PUPR).quantize(CENT) for line in lines if line.PUSL != DELETED), ZERO)
    head.LMDT = now.date()
    head.LMTS = int(now.timestamp() * 1_000_000)


def publish(session: Session, bods: BodPublisher, head: PurchaseHead, now: datetime) -> None:
    """Refresh the head from its lines and publish SyncPurchaseOrder."""
    session.flush()
    lines = po_lines(session, head.PUNO)
    refresh_head(head, lines, now)
    bods.purchase_order(session, head, lines, now)


def advance_purchase_order(
    session: Session,
    bods: BodPublisher,
    puno: str,
    now: datetime | None = None,
    placed_before: float | None = None,
) -> str | None:
    """Confirm the PO's sent lines (20 -> 35); only those placed before `placed_before` when given.

    Returns the head's new lowest status, or None when no line moved.
    """
    now = now or datetime.now(UTC)
    head = session.get(PurchaseHead, puno)
    if head is None:
        return None
    moving = [
        line
        for line in po_lines(session, puno)
        if line.PUSL == SENT and (placed_before is None or line.placed_at <= placed_before)
    ]
    if not moving:
        return None
    for line in moving:
        set_line_status(line, CONFIRMED)
    publish(session, bods, head, now)
    return head.PUSL


def confirm_due(store: Store, config: M3SandboxConfig, bods: BodPublisher) -> dict[str, str]:
    """One clock tick: every line sent at least `po_confirm_seconds` ago becomes confirmed."""
    delay = config.po_confirm_seconds
    if delay is None:
        return {}
    cutoff = time.time() - delay
    with store.transaction() as session:
        due = select(PurchaseLine.PUNO).where(PurchaseLine.PUSL == SENT, PurchaseLine.placed_at <= cutoff)
        punos = sorted(set(session.scalars(due)))
    advanced: dict[str, str] = {}
    for puno in punos:
        with store.transaction() as session:
            status = advance_purchase_order(session, bods, puno, placed_before=cutoff)
        if status is not None:
            advanced[puno] = status
    if advanced:
        bods.wake()
    return advanced


async def run_purchasing_clock(store: Store, config: M3SandboxConfig, bods: BodPublisher) -> None:
    """Background task: confirm sent PO lines once their time has come (config read every tick)."""
    while True:
        await asyncio.sleep(0.5)
        if config.po_confirm_seconds is not None:
            await asyncio.to_thread(confirm_due, store, config, bods)
