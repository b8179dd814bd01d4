"""Purchase order: one durable workflow per BNG purchase order, from the webhook until M3 closes it.

1. validate and transform the BNG purchase order (declared map);
2. make sure the supplier (through the supplier cross-reference, created if allowed) and every
   item exist in M3;
3. place the PO with PPS370MI batch entry, exactly once (the BNG id travels as YRE1), and give
   BNG the M3 PO number;
4. apply the buyer's changes and cancellation with PPS200MI while M3's status allows them;
5. post goods received in BNG's warehouse to M3 as PO receipts (MHS850MI), once per receipt id;
6. follow M3 (SyncPurchaseOrder BODs) through confirmed, received and closed, telling BNG each step.

Whatever retrying cannot fix parks the PO in NeedsAttention with the reason, until an operator
fixes, retries, skips or cancels it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from activities.bng_purchasing import BngPurchasingActivities, PushPurchaseOrderStatusInput
    from activities.m3_items import CheckItemsInput, M3ItemActivities
    from activities.m3_purchase_orders import (
        ChangePurchaseOrderInput,
        M3PurchaseOrderActivities,
        PlacePurchaseOrderInput,
    )
    from activities.m3_receipts import M3ReceiptActivities, PostReceiptInput, ReceiptLine
    from activities.m3_suppliers import EnsureSupplierInput, M3SupplierActivities
    from activities.transform_purchasing import PurchasingTransforms, TransformInput
    from clients.bng.models import GoodsReceipt, PurchaseOrder, PurchaseOrderStatus
    from workflows.attention import NeedsAttention, item_problems
    from workflows.document_workflow import Cancelled, DocumentWorkflow
    from workflows.documents import (
        DocumentInput,
        DocumentResult,
        DocumentStage,
        DocumentType,
        GoodsReceiptEvent,
        M3PurchaseOrderEvent,
        PurchaseOrderChange,
        PurchaseOrderLineState,
    )
    from workflows.models import Attention, FixPayload, SkipStep

T = TypeVar("T")

# M3 PO line status (PUSL): 35 confirmed by the supplier, 85 invoice reporting completed, 99 deleted.
CONFIRMED_STATUS = "35"
CLOSED_STATUS = "85"
DELETED_STATUS = "99"

_BNG_STATUS = {
    DocumentStage.PLACED: PurchaseOrderStatus.PLACED,
    DocumentStage.CONFIRMED: PurchaseOrderStatus.CONFIRMED,
    DocumentStage.PARTLY_RECEIVED: PurchaseOrderStatus.PARTLY_RECEIVED,
    DocumentStage.FULLY_RECEIVED: PurchaseOrderStatus.RECEIVED,
    DocumentStage.CLOSED: PurchaseOrderStatus.CLOSED,
    DocumentStage.CANCELLED: PurchaseOrderStatus.CANCELLED,
}
_ORDER = list(_BNG_STATUS)


def _rank(stage: DocumentStage) -> int:
    return _ORDER.index(stage) if stage in _ORDER else -1


@workflow.defn
class PurchaseOrderWorkflow(DocumentWorkflow):
    document_type = DocumentType.PURCHASE_ORDER

    @workflow.init
    def __init__(self, data: DocumentInput) -> None:
        self._begin(data)
        self._changes: list[PurchaseOrderChange] = []
        self._receipts: list[GoodsReceiptEvent] = []
        self._m3_events: list[M3PurchaseOrderEvent] = []
        self._seen: set[str] = set()
        self._purchase_order: PurchaseOrder | None = None
        self._whlo = ""
        self._lines: dict[int, PurchaseOrderLineState] = {}
        self._pushed: tuple[PurchaseOrderStatus, dict[int, Decimal]] | None = None
        # Supplier-invoice workflows waiting for a receipt on this PO: told when one is posted.
        self._waiting_invoices: set[str] = set()

    # ---------------------------------------------------------------- the process

    @workflow.run
    async def run(self, data: DocumentInput) -> DocumentResult:
        workflow.upsert_search_attributes(
            [sa.DOCUMENT_TYPE.value_set(self.document_type.value), sa.DOCUMENT_ID.value_set(data.bng_id)]
        )
        self._log("Received", f"purchaseorder.created webhook {data.webhook_id or ''}".strip(), "info")
        try:
            await self._until_done(self._try_place)
            await self._push(DocumentStage.PLACED)
            while self._view.stage not in (DocumentStage.CLOSED, DocumentStage.CANCELLED):
                await workflow.wait_condition(
                    lambda: bool(self._changes or self._receipts or self._m3_events)
                )
                if self._changes:
                    await self._apply_change(self._changes.pop(0))
                elif self._receipts:
                    await self._post_receipt(self._receipts.pop(0))
                else:
                    await self._follow_m3(self._m3_events.pop(0))
        except Cancelled as cancelled:
            if self._view.m3_number is None:
                await self._tell(PurchaseOrderStatus.CANCELLED, f"cancelled in m3bng: {cancelled}")
            else:
                self._log("M3 PO kept", f"PO {self._view.m3_number} stays in M3 as it is", "info")
        return self._result()

    async def _try_place(self) -> None:
        transformed = await self._step(
            "validate purchase order",
            workflow.execute_activity_method(
                PurchasingTransforms.transform_purchase_order,
                mapping := TransformInput(payload=self._payload),
                **self._call,
                summary=summaries.transform_purchase_order(mapping),
            ),
        )
        if transformed.purchase_order is None or transformed.issues:
            raise NeedsAttention(
                Attention(
                    kind="invalid_payload",
                    summary=f"The BNG purchase order does not validate: {len(transformed.issues)} problem(s)",
                    issues=transformed.issues,
                    step="validate purchase order",
                )
            )
        purchase_order = self._purchase_order = transformed.purchase_order
        self._whlo = transformed.head.get("WHLO", "")
        self._view.details.update(
            vendor=purchase_order.VendorID, warehouse=self._whlo, currency=purchase_order.Currency
        )
        self._set_stage(
            DocumentStage.VALIDATED,
            f"{len(transformed.lines)} line(s) mapped to M3 (maps {transformed.map_version or '-'})",
        )

        supplier = await self._step(
            "supplier",
            workflow.execute_activity_method(
                M3SupplierActivities.ensure_m3_supplier,
                wanted := EnsureSupplierInput(bng_vendor_id=purchase_order.VendorID),
                **self._call,
                summary=summaries.ensure_m3_supplier(wanted),
            ),
        )
        self._view.details["supplier"] = supplier.suno
        created = " (created from the BNG vendor)" if supplier.created else ""
        self._set_stage(DocumentStage.SUPPLIER_READY, f"M3 supplier {supplier.suno}{created}")

        items = await self._step(
            "check items",
            workflow.execute_activity_method(
                M3ItemActivities.check_m3_items,
                item_check := CheckItemsInput(item_numbers=[line["ITNO"] for line in transformed.lines]),
                **self._call,
                summary=summaries.check_m3_items(item_check),
            ),
        )
        if items.problems:
            raise NeedsAttention(item_problems(items.problems))

        placed = await self._step(
            "place purchase order",
            workflow.execute_activity_method(
                M3PurchaseOrderActivities.place_m3_purchase_order,
                placing := PlacePurchaseOrderInput(
                    bng_id=self._view.document_id,
                    suno=supplier.suno,
                    head=transformed.head,
                    lines=transformed.lines,
                ),
                **self._call,
                summary=summaries.place_m3_purchase_order(placing),
            ),
        )
        self._set_m3_number(placed.puno)
        self._lines = {
            line.LineNumber: PurchaseOrderLineState(
                line_number=line.LineNumber, item=line.SKU, quantity=line.Quantity
            )
            for line in purchase_order.Lines
        }
        how = "found in M3, placed by an earlier attempt" if placed.found else "PPS370MI batch entry finished"
        self._set_stage(DocumentStage.PLACED, f"M3 PO {placed.puno} ({how})")

    # ---------------------------------------------------------------- changes from BNG

    async def _apply_change(self, change: PurchaseOrderChange) -> None:
        puno = self._view.m3_number
        assert puno is not None and self._purchase_order is not None
        if change.kind == "cancelled":
            self._log("Cancellation from BNG", f"purchaseorder.cancelled {change.webhook_id}", "info")
            wanted = ChangePurchaseOrderInput(
                bng_id=self._view.document_id, puno=puno, delete=sorted(self._active_lines())
            )
            done = await self._attempt(
                "cancel purchase order in M3",
                lambda data: workflow.execute_activity_method(
                    M3PurchaseOrderActivities.change_m3_purchase_order,
                    data,
                    **self._call,
                    summary=summaries.change_m3_purchase_order(data),
                ),
                wanted,
                actions=["retry", "skip"],
            )
            if done is None:
                await self._tell(self._current_bng_status(), "the cancellation was not applied in M3")
                return
            self._log("M3 PO changed", f"PPS200MI/DltLine: {done.describe()}")
            self._set_stage(DocumentStage.CANCELLED, f"PO {puno} cancelled in M3")
            await self._tell(PurchaseOrderStatus.CANCELLED, None)
            return

        self._log("Change from BNG", f"purchaseorder.updated {change.webhook_id}", "info")
        transformed = await self._must(
            "validate change",
            lambda data: workflow.execute_activity_method(
                PurchasingTransforms.transform_purchase_order,
                data,
                **self._call,
                summary=summaries.transform_purchase_order(data),
            ),
            TransformInput(payload=change.payload),
        )
        if transformed.purchase_order is None or transformed.issues:
            attention = Attention(
                kind="invalid_payload",
                summary=f"The changed PO does not validate ({len(transformed.issues)} problem(s))",
                issues=transformed.issues,
                step="validate change",
                data=change.payload,
                actions=["skip", "cancel"],
            )
            decision = await self._park(attention)
            if isinstance(decision, SkipStep):
                self._log("Change not applied", decision.reason, "info")
            return
        changed = transformed.purchase_order
        cancelled_lines = sorted(line.LineNumber for line in changed.Lines if line.Cancelled)
        gone = sorted(set(self._active_lines()) - {line.LineNumber for line in changed.Lines})
        wanted = ChangePurchaseOrderInput(
            bng_id=self._view.document_id,
            puno=puno,
            head=transformed.head,
            lines=[line for line in transformed.lines if int(line["PNLI"]) not in cancelled_lines],
            delete=sorted(set(cancelled_lines) | set(gone)),
        )
        done = await self._attempt(
            "change purchase order in M3",
            lambda data: workflow.execute_activity_method(
                M3PurchaseOrderActivities.change_m3_purchase_order,
                data,
                **self._call,
                summary=summaries.change_m3_purchase_order(data),
            ),
            wanted,
            actions=["retry", "fix", "skip"],
        )
        if done is None:
            await self._tell(self._current_bng_status(), "the change was not applied in M3")
            return
        self._purchase_order = changed
        for line in changed.Lines:
            state = self._lines.setdefault(
                line.LineNumber, PurchaseOrderLineState(line_number=line.LineNumber)
            )
            state.item, state.quantity = line.SKU, line.Quantity
        self._log("M3 PO changed", f"PPS200MI: {done.describe()}")

    # ---------------------------------------------------------------- goods receipts from BNG's WMS

    async def _post_receipt(self, event: GoodsReceiptEvent) -> None:
        puno = self._view.m3_number
        assert puno is not None
        try:
            receipt = GoodsReceipt.model_validate(event.payload)
        except ValidationError as error:
            await self._refuse_receipt(
                event, f"the goods receipt does not validate: {error.error_count()} error(s)"
            )
            return
        unknown = [line.LineNumber for line in receipt.Lines if line.LineNumber not in self._lines]
        if unknown:
            await self._refuse_receipt(
                event, f"receipt {receipt.ReceiptID} names unknown PO line(s) {unknown}"
            )
            return
        quantities = ", ".join(f"line {line.LineNumber} {line.Quantity}" for line in receipt.Lines)
        self._log("Goods received in BNG", f"{receipt.ReceiptID}: {quantities}", "info")
        posted = await self._attempt(
            "post goods receipt",
            lambda data: workflow.execute_activity_method(
                M3ReceiptActivities.post_goods_receipt,
                data,
                **self._call,
                summary=summaries.post_goods_receipt(data),
            ),
            PostReceiptInput(
                receipt_id=receipt.ReceiptID,
                puno=puno,
                whlo=self._whlo,
                delivery_note=receipt.DeliveryNote,
                lines=[
                    ReceiptLine(
                        pnli=line.LineNumber,
                        itno=self._lines[line.LineNumber].item or line.SKU,
                        quantity=line.Quantity,
                    )
                    for line in receipt.Lines
                ],
            ),
            actions=["retry", "fix", "skip"],
        )
        if posted is None:
            return
        self._view.details.setdefault("receipts", []).append(
            {
                "receipt_id": receipt.ReceiptID,
                "m3_message": posted.msgn,
                "m3_receipts": posted.receipt_numbers,
            }
        )
        numbers = ", ".join(posted.receipt_numbers) or "-"
        self._log(
            "Receipt posted to M3",
            f"{receipt.ReceiptID}: MHS850MI message {posted.msgn}, receipt no. {numbers}",
        )
        await self._tell_waiting_invoices()

    async def _refuse_receipt(self, event: GoodsReceiptEvent, summary: str) -> None:
        decision = await self._park(
            Attention(
                kind="invalid_payload",
                summary=summary,
                step="goods receipt",
                data=event.payload,
                actions=["skip", "fix"],
            ),
            fix_model=None,
        )
        if isinstance(decision, FixPayload):
            self._receipts.insert(0, GoodsReceiptEvent(webhook_id=event.webhook_id, payload=decision.payload))
        else:
            self._log("Receipt not posted", f"{summary}: {decision.reason}", "info")

    async def _tell_waiting_invoices(self) -> None:
        for workflow_id in sorted(self._waiting_invoices):
            try:
                await workflow.get_external_workflow_handle(workflow_id).signal("recheck")
            except Exception as error:  # the invoice finished meanwhile (e.g. an operator rejected it)
                self._log("Invoice not told", f"{workflow_id}: {error}", "info")
        self._waiting_invoices.clear()

    # ---------------------------------------------------------------- M3's status

    async def _follow_m3(self, event: M3PurchaseOrderEvent) -> None:
        if event.purchase_order_number != self._view.m3_number:
            self._log(
                "Ignored BOD",
                f"{event.noun} {event.bod_id} is about PO {event.purchase_order_number}",
                "info",
            )
            return
        if event.noun == "ReceiveDelivery":
            self._log("M3 receipt", f"receipt {event.receipt_number or '-'} (SyncReceiveDelivery)", "info")
        for line in event.lines:
            state = self._lines.setdefault(
                line.line_number, PurchaseOrderLineState(line_number=line.line_number)
            )
            for name in ("item", "quantity", "received_quantity", "lowest_status", "highest_status"):
                value = getattr(line, name)
                if value is not None:
                    setattr(state, name, value)
        self._view.details["lines"] = [line.model_dump(mode="json") for line in self._lines.values()]
        stage, current = self._stage_from_lines(), self._view.stage
        # BODs can arrive out of order: the PO only moves forward (or to cancelled in M3).
        if stage != current and (stage == DocumentStage.CANCELLED or _rank(stage) > _rank(current)):
            self._set_stage(
                stage, f"M3 PO {self._view.m3_number} status {event.status_code or '-'} ({event.noun})"
            )
        await self._push(self._view.stage)

    def _stage_from_lines(self) -> DocumentStage:
        lines = [line for line in self._lines.values() if line.lowest_status != DELETED_STATUS]
        if not lines:
            return DocumentStage.CANCELLED
        if all((line.lowest_status or "") >= CLOSED_STATUS for line in lines):
            return DocumentStage.CLOSED
        received = [line.received_quantity or Decimal(0) for line in lines]
        if all(got >= (line.quantity or Decimal(0)) for got, line in zip(received, lines, strict=True)):
            return DocumentStage.FULLY_RECEIVED
        if any(got > 0 for got in received):
            return DocumentStage.PARTLY_RECEIVED
        if all((line.lowest_status or "") >= CONFIRMED_STATUS for line in lines):
            return DocumentStage.CONFIRMED
        return DocumentStage.PLACED

    # ---------------------------------------------------------------- telling BNG

    async def _push(self, stage: DocumentStage) -> None:
        status = _BNG_STATUS.get(stage)
        if status is None:
            return
        received = {
            number: line.received_quantity for number, line in self._lines.items() if line.received_quantity
        }
        if self._pushed == (status, received):
            return
        pushed = await self._attempt(
            f"status {status.value} to BNG",
            lambda data: workflow.execute_activity_method(
                BngPurchasingActivities.push_purchase_order_status,
                data,
                **self._call,
                summary=summaries.push_purchase_order_status(data),
            ),
            PushPurchaseOrderStatusInput(
                bng_id=self._view.document_id, status=status, puno=self._view.m3_number, received=received
            ),
        )
        if pushed:
            self._pushed = (status, received)
            self._log("Status to BNG", status.value, "info")

    async def _tell(self, status: PurchaseOrderStatus, reason: str | None) -> None:
        await self._notify(
            lambda data: workflow.execute_activity_method(
                BngPurchasingActivities.push_purchase_order_status,
                data,
                **self._notice,
                summary=summaries.push_purchase_order_status(data),
            ),
            PushPurchaseOrderStatusInput(
                bng_id=self._view.document_id, status=status, puno=self._view.m3_number, reason=reason
            ),
            status.value,
        )

    async def _tell_bng_parked(self, attention: Attention) -> None:
        await self._tell(PurchaseOrderStatus.ON_HOLD, attention.summary[:250])

    def _current_bng_status(self) -> PurchaseOrderStatus:
        return self._pushed[0] if self._pushed else PurchaseOrderStatus.PLACED

    def _active_lines(self) -> list[int]:
        return [number for number, line in self._lines.items() if line.lowest_status != DELETED_STATUS]

    # ---------------------------------------------------------------- messages

    @workflow.signal
    def changed(self, change: PurchaseOrderChange) -> None:
        # BNG delivers at least once: the webhook id makes a repeated delivery harmless.
        if change.webhook_id not in self._seen:
            self._seen.add(change.webhook_id)
            self._changes.append(change)

    @workflow.signal
    def goods_received(self, event: GoodsReceiptEvent) -> None:
        receipt_id = str(event.payload.get("ReceiptID", ""))
        keys = {event.webhook_id, f"receipt:{receipt_id}"} if receipt_id else {event.webhook_id}
        if not keys & self._seen:
            self._seen |= keys
            self._receipts.append(event)

    @workflow.signal
    def invoice_waiting(self, workflow_id: str) -> None:
        """A supplier invoice on this PO waits for goods: it is told when the next receipt is posted."""
        self._waiting_invoices.add(workflow_id)

    @workflow.signal
    def m3_po_event(self, event: M3PurchaseOrderEvent) -> None:
        if event.bod_id not in self._seen:
            self._seen.add(event.bod_id)
            self._m3_events.append(event)
