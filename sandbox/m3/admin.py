"""The `/_sandbox` admin API (JSON, no auth): knobs, faults, state, the lifecycle and the outbox."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import insert, select

from sandbox.m3.calllog import CallRecord
from sandbox.m3.chaos import FaultRule, Knobs, KnobsUpdate
from sandbox.m3.config import MatchTolerances
from sandbox.m3.db import (
    DEFAULT_LOCATION,
    Balance,
    BatchHead,
    Delivery,
    GlBatchHead,
    GlBatchLine,
    GlVoucherLine,
    Invoice,
    Item,
    OrderHead,
    OutboxMessage,
    PurchaseHead,
    PurchaseReceipt,
    SupplierInvoiceHead,
    SupplierInvoiceLine,
    Warehouse,
    WarehouseMessage,
    WarehouseMessageLine,
)
from sandbox.m3.lifecycle import advance_all, advance_order, order_lines
from sandbox.m3.outbox import outbox_view
from sandbox.m3.purchasing import advance_purchase_order, po_lines
from sandbox.m3.sandbox import Sandbox


class ConfigUpdate(BaseModel):
    bod_endpoint: str | None = None
    bod_authorization: str | None = None
    lifecycle_interval_seconds: float | None = Field(default=None, gt=0)
    # null: PO lines are confirmed only on command.
    po_confirm_seconds: float | None = Field(default=None, ge=0)
    # These two cannot be switched off: null is ignored.
    gl_open_from: date | None = None
    match_tolerances: MatchTolerances | None = None


NOT_NULLABLE = ("gl_open_from", "match_tolerances")


class ResetRequest(BaseModel):
    seed_demo: bool = False


ITNO_LENGTH = 15


class SeedItemsRequest(BaseModel):
    """`count` items <prefix><n, zero-padded> (STAT 20), each with `quantity` on hand in `warehouse`."""

    count: int = Field(ge=1, le=100_000)
    prefix: str = Field(default="SEED-", max_length=ITNO_LENGTH - 1)
    warehouse: str = "100"
    quantity: Decimal = Field(default=Decimal(100), ge=0)


def _columns(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__table__.columns.keys()}  # noqa: SIM118


def admin_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])

    @router.get("/knobs")
    def get_knobs() -> Knobs:
        return sandbox.chaos.knobs

    @router.post("/knobs")
    def set_knobs(update: KnobsUpdate) -> Knobs:
        return sandbox.chaos.update_knobs(update)

    @router.get("/faults")
    def get_faults() -> list[FaultRule]:
        return list(sandbox.chaos.rules)

    @router.post("/faults")
    def add_fault(rule: FaultRule) -> list[FaultRule]:
        sandbox.chaos.add_rule(rule)
        return list(sandbox.chaos.rules)

    @router.delete("/faults")
    def clear_faults() -> list[FaultRule]:
        sandbox.chaos.rules.clear()
        return []

    @router.post("/reset")
    def reset(request: ResetRequest | None = None) -> dict[str, Any]:
        sandbox.reset(demo=bool(request and request.seed_demo))
        return {"reset": True, "seed_demo": bool(request and request.seed_demo)}

    @router.post("/seed-demo")
    def seed_demo() -> dict[str, Any]:
        sandbox.seed_demo()
        return {"seeded": True}

    @router.post("/seed-items")
    def seed_items(request: SeedItemsRequest) -> dict[str, int]:
        """Bulk items and balances in one transaction, straight into the tables: no BODs, no log."""
        width = max(len(str(request.count)), 5)
        if len(request.prefix) + width > ITNO_LENGTH:
            raise HTTPException(
                422, f"{request.prefix!r} + {width} digits is longer than ITNO ({ITNO_LENGTH})"
            )
        numbers = [f"{request.prefix}{n:0{width}d}" for n in range(1, request.count + 1)]
        today = date.today()
        with sandbox.store.transaction() as session:
            if session.get(Warehouse, request.warehouse) is None:
                raise HTTPException(404, f"Warehouse {request.warehouse} does not exist")
            existing = set(session.scalars(select(Item.ITNO).where(Item.ITNO.startswith(request.prefix))))
            stocked = set(
                session.scalars(
                    select(Balance.ITNO)
                    .filter_by(WHLO=request.warehouse)
                    .where(Balance.ITNO.startswith(request.prefix))
                )
            )
            new_items = [itno for itno in numbers if itno not in existing]
            if new_items:
                session.execute(
                    insert(Item),
                    [
                        {
                            "ITNO": itno,
                            "ITDS": f"Seeded item {itno}"[:30],
                            "FUDS": "",
                            "STAT": "20",
                            "RESP": "SANDBOX",
                            "UNMS": "EA",
                            "ITGR": "",
                            "ITCL": "",
                            "ITTY": "FIN",
                            "MABU": 2,
                            "PRVG": "STD",
                            "SAPR": Decimal("10.00"),
                            "LMDT": today,
                        }
                        for itno in new_items
                    ],
                )
            new_balances = [itno for itno in numbers if itno not in stocked]
            if new_balances:
                session.execute(
                    insert(Balance),
                    [
                        {
                            "WHLO": request.warehouse,
                            "ITNO": itno,
                            "STQT": request.quantity,
                            "ALQT": Decimal(0),
                            "PLQT": Decimal(0),
                            "WHSL": DEFAULT_LOCATION,
                        }
                        for itno in new_balances
                    ],
                )
        return {"created": len(new_items)}

    @router.get("/config")
    def get_config() -> dict[str, Any]:
        config = sandbox.config
        return {
            "tenant": config.tenant,
            "cono": config.cono,
            "divi": config.divi,
            "bod_endpoint": config.bod_endpoint,
            "bod_authorization": config.bod_authorization,
            "lifecycle_interval_seconds": config.lifecycle_interval_seconds,
            "po_confirm_seconds": config.po_confirm_seconds,
            "gl_open_from": config.gl_open_from.isoformat(),
            "match_tolerances": config.match_tolerances.model_dump(mode="json"),
        }

    @router.post("/config")
    def set_config(update: ConfigUpdate) -> dict[str, Any]:
        # Only the keys sent change; null switches the BOD endpoint, its auth, the lifecycle timer or
        # the PO confirmation clock off.
        for name in update.model_fields_set:
            value = getattr(update, name)
            if value is None and name in NOT_NULLABLE:
                continue
            setattr(sandbox.config, name, value)
        sandbox.sender.wake()
        return get_config()

    @router.post("/expire-tokens")
    def expire_tokens() -> dict[str, int]:
        return {"expired": sandbox.issuer.expire_all()}

    @router.get("/calls", response_model_exclude_none=True)
    def calls(
        program: str | None = None, transaction: str | None = None, outcome: str | None = None
    ) -> list[CallRecord]:
        return sandbox.calls.list(program, transaction, outcome)

    @router.delete("/calls")
    def clear_calls() -> dict[str, bool]:
        sandbox.calls.clear()
        return {"cleared": True}

    @router.get("/outbox")
    def outbox(status: str | None = None) -> list[dict[str, Any]]:
        with sandbox.store.transaction() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if status:
                query = query.where(OutboxMessage.status == status)
            return [outbox_view(message) for message in session.scalars(query)]

    @router.get("/orders/{orno}")
    def order(orno: str) -> dict[str, Any]:
        with sandbox.store.transaction() as session:
            head = session.get(OrderHead, orno)
            if head is None:
                batch = session.get(BatchHead, orno)
                if batch is None:
                    raise HTTPException(404, f"Order {orno} does not exist")
                return {
                    "head": _columns(batch),
                    "lines": [],
                    "status": "batch",
                    "deliveries": [],
                    "invoices": [],
                }
            deliveries = session.scalars(select(Delivery).filter_by(RIDN=orno)).all()
            invoices = session.scalars(select(Invoice).filter_by(ORNO=orno)).all()
            return {
                "head": _columns(head),
                "lines": [_columns(line) for line in order_lines(session, orno)],
                "status": head.ORSL,
                "deliveries": [_columns(d) for d in deliveries],
                "invoices": [_columns(i) for i in invoices],
            }

    @router.post("/orders/{orno}/advance")
    def advance(orno: str) -> dict[str, Any]:
        with sandbox.store.transaction() as session:
            if session.get(OrderHead, orno) is None:
                raise HTTPException(404, f"Order {orno} does not exist")
            status = advance_order(session, sandbox.config, sandbox.bods, orno)
        sandbox.bods.wake()
        return {"ORNO": orno, "advanced": status is not None, "status": status or order(orno)["status"]}

    @router.get("/purchase-orders")
    def purchase_orders(suno: str | None = None) -> list[dict[str, Any]]:
        with sandbox.store.transaction() as session:
            query = select(PurchaseHead).order_by(PurchaseHead.PUNO)
            if suno:
                query = query.filter_by(SUNO=suno)
            return [_columns(head) for head in session.scalars(query)]

    @router.get("/purchase-orders/{puno}")
    def purchase_order(puno: str) -> dict[str, Any]:
        with sandbox.store.transaction() as session:
            head = session.get(PurchaseHead, puno)
            if head is None:
                raise HTTPException(404, f"Purchase order {puno} does not exist")
            receipts = session.scalars(
                select(PurchaseReceipt)
                .filter_by(PUNO=puno)
                .order_by(PurchaseReceipt.REPN, PurchaseReceipt.PNLI)
            ).all()
            invoice_lines = session.scalars(
                select(SupplierInvoiceLine).filter_by(PUNO=puno).order_by(SupplierInvoiceLine.INBN)
            ).all()
            return {
                "head": _columns(head),
                "lines": [_columns(line) for line in po_lines(session, puno)],
                "status": head.PUSL,
                "receipts": [_columns(r) for r in receipts],
                "invoice_lines": [_columns(line) for line in invoice_lines],
            }

    @router.post("/purchase-orders/{puno}/advance")
    def advance_purchase(puno: str) -> dict[str, Any]:
        """Confirm the PO's sent lines now (20 -> 35), as the supplier's confirmation would."""
        with sandbox.store.transaction() as session:
            if session.get(PurchaseHead, puno) is None:
                raise HTTPException(404, f"Purchase order {puno} does not exist")
            status = advance_purchase_order(session, sandbox.bods, puno)
        sandbox.bods.wake()
        return {"PUNO": puno, "advanced": status is not None, "status": purchase_order(puno)["status"]}

    @router.get("/receipts")
    def receipts(puno: str | None = None) -> list[dict[str, Any]]:
        with sandbox.store.transaction() as session:
            query = select(PurchaseReceipt).order_by(
                PurchaseReceipt.REPN, PurchaseReceipt.PUNO, PurchaseReceipt.PNLI
            )
            if puno:
                query = query.filter_by(PUNO=puno)
            return [_columns(receipt) for receipt in session.scalars(query)]

    @router.get("/warehouse-messages/{msgn}")
    def warehouse_message(msgn: str) -> dict[str, Any]:
        with sandbox.store.transaction() as session:
            message = session.get(WarehouseMessage, msgn)
            if message is None:
                raise HTTPException(404, f"Message {msgn} does not exist")
            lines = session.scalars(
                select(WarehouseMessageLine).filter_by(MSGN=msgn).order_by(WarehouseMessageLine.MSLN)
            ).all()
            return {"head": _columns(message), "lines": [_columns(line) for line in lines]}

    def _invoice_view(session: Any, head: SupplierInvoiceHead) -> dict[str, Any]:
        lines = session.scalars(
            select(SupplierInvoiceLine).filter_by(INBN=head.INBN).order_by(SupplierInvoiceLine.TRNO)
        ).all()
        view = _columns(head)
        report = view.pop("match_report")
        return {
            "head": view,
            "lines": [_columns(line) for line in lines],
            "match": json.loads(report or "{}"),
        }

    @router.get("/supplier-invoices")
    def supplier_invoices(suno: str | None = None) -> list[dict[str, Any]]:
        with sandbox.store.transaction() as session:
            query = select(SupplierInvoiceHead).order_by(SupplierInvoiceHead.INBN)
            if suno:
                query = query.filter_by(SUNO=suno)
            return [_invoice_view(session, head) for head in session.scalars(query)]

    @router.get("/supplier-invoices/{inbn}")
    def supplier_invoice(inbn: int) -> dict[str, Any]:
        with sandbox.store.transaction() as session:
            head = session.get(SupplierInvoiceHead, inbn)
            if head is None:
                raise HTTPException(404, f"Invoice batch {inbn} does not exist")
            return _invoice_view(session, head)

    @router.get("/gl/vouchers")
    def gl_vouchers(key1: str | None = None) -> list[dict[str, Any]]:
        """Posted vouchers with their lines, in posting order."""
        with sandbox.store.transaction() as session:
            query = select(GlVoucherLine).order_by(GlVoucherLine.VONO, GlVoucherLine.JSNO)
            if key1:
                query = query.filter_by(KEY1=key1)
            vouchers: dict[int, dict[str, Any]] = {}
            for line in session.scalars(query):
                voucher = vouchers.setdefault(
                    line.VONO,
                    {"VONO": line.VONO, "YEA4": line.YEA4, "DIVI": line.DIVI, "KEY1": line.KEY1, "lines": []},
                )
                voucher["lines"].append(_columns(line))
            return list(vouchers.values())

    @router.get("/gl/batches")
    def gl_batches() -> list[dict[str, Any]]:
        """GLS840 batches not posted yet (FGLINH with their FGLINL lines)."""
        with sandbox.store.transaction() as session:
            heads = session.scalars(select(GlBatchHead).order_by(GlBatchHead.KEY1)).all()
            return [
                {
                    **_columns(head),
                    "lines": [
                        _columns(line)
                        for line in session.scalars(
                            select(GlBatchLine)
                            .filter_by(DIVI=head.DIVI, KEY1=head.KEY1)
                            .order_by(GlBatchLine.LINE)
                        )
                    ],
                }
                for head in heads
            ]

    @router.post("/advance-all")
    def advance_every_order() -> dict[str, Any]:
        return {"advanced": advance_all(sandbox.store, sandbox.config, sandbox.bods)}

    return router
