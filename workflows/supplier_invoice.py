"""Supplier invoice: one durable workflow per BNG supplier invoice, from the webhook to M3 AP.

1. validate and transform the invoice (declared map); find its M3 supplier and the M3 POs it bills;
2. refuse it if the supplier already has an invoice with this number in M3, naming that invoice;
3. three-way match: invoice against PO line (price) and goods received (quantity), with the declared
   APS900-shaped tolerances, so that what m3bng accepts M3's own matching accepts too. A mismatch
   parks the invoice with the lines that differ, by how much, and suggested fixes an operator can
   accept in one action: accept the price difference (booked to the price-variance account), wait
   for the missing receipt, or reject it back to BNG;
4. enter it with APS450MI (AddHead, AddLine), exactly once, and validate it with APS455MI;
5. tell BNG: Posted with the M3 invoice batch number, or Rejected with the reason.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from activities.bng_purchasing import BngPurchasingActivities, PushSupplierInvoiceStatusInput
    from activities.m3_supplier_invoices import (
        EnterInvoiceInput,
        FindEarlierInvoiceInput,
        M3SupplierInvoiceActivities,
        MatchInvoiceInput,
        ResolvePurchaseOrdersInput,
        ValidateInvoiceInput,
    )
    from activities.m3_suppliers import EnsureSupplierInput, M3SupplierActivities
    from activities.three_way_match import InvoiceToMatch, MatchResult, invoice_to_match
    from activities.transform_purchasing import PurchasingTransforms, TransformInput
    from clients.bng.models import SupplierInvoice, SupplierInvoiceStatus
    from workflows.attention import NeedsAttention
    from workflows.document_workflow import Cancelled, DocumentWorkflow
    from workflows.documents import (
        DocumentResult,
        DocumentStage,
        DocumentType,
        SupplierInvoiceInput,
        document_workflow_id,
    )
    from workflows.models import AcceptSuggestion, Attention, FieldIssue, Suggestion

T = TypeVar("T")


class _Prepared:
    def __init__(
        self, invoice: SupplierInvoice, suno: str, head: dict[str, str], to_match: InvoiceToMatch
    ) -> None:
        self.invoice, self.suno, self.head, self.to_match = invoice, suno, head, to_match
        self.entered_before = False


@workflow.defn
class SupplierInvoiceWorkflow(DocumentWorkflow):
    document_type = DocumentType.SUPPLIER_INVOICE

    @workflow.init
    def __init__(self, data: SupplierInvoiceInput) -> None:
        self._begin(data)
        self._recheck_every = data.recheck_every
        self._receipt_wait = data.receipt_wait
        self._recheck = False

    @workflow.run
    async def run(self, data: SupplierInvoiceInput) -> DocumentResult:
        workflow.upsert_search_attributes(
            [sa.DOCUMENT_TYPE.value_set(self.document_type.value), sa.DOCUMENT_ID.value_set(data.bng_id)]
        )
        self._log("Received", f"supplierinvoice.created webhook {data.webhook_id or ''}".strip(), "info")
        try:
            prepared = await self._until_done(self._try_prepare)
            if prepared is None:
                return self._result()
            plan = await self._match(prepared)
            if plan is None:
                return self._result()
            await self._post(prepared, plan)
        except Cancelled as cancelled:
            if self._view.m3_number:
                self._log(
                    "M3 invoice kept", f"invoice batch {self._view.m3_number} stays in M3 as it is", "info"
                )
            await self._tell(SupplierInvoiceStatus.REJECTED, f"cancelled in m3bng: {cancelled}")
        return self._result()

    # ---------------------------------------------------------------- 1-2: prepare

    async def _try_prepare(self) -> _Prepared | None:
        transformed = await self._step(
            "validate invoice",
            workflow.execute_activity_method(
                PurchasingTransforms.transform_supplier_invoice,
                mapping := TransformInput(payload=self._payload),
                **self._call,
                summary=summaries.transform_supplier_invoice(mapping),
            ),
        )
        if transformed.invoice is None or transformed.issues:
            raise NeedsAttention(
                Attention(
                    kind="invalid_payload",
                    summary=f"The supplier invoice does not validate ({len(transformed.issues)} problem(s))",
                    issues=transformed.issues,
                    step="validate invoice",
                )
            )
        invoice = transformed.invoice
        self._view.details.update(
            vendor=invoice.VendorID,
            invoice_number=invoice.InvoiceNumber,
            total=f"{invoice.TotalAmount} {invoice.Currency}",
        )
        supplier = await self._step(
            "supplier",
            workflow.execute_activity_method(
                M3SupplierActivities.ensure_m3_supplier,
                wanted := EnsureSupplierInput(bng_vendor_id=invoice.VendorID, create=False),
                **self._call,
                summary=summaries.ensure_m3_supplier(wanted),
            ),
        )
        self._view.details["supplier"] = supplier.suno
        punos = await self._step(
            "purchase orders",
            workflow.execute_activity_method(
                M3SupplierInvoiceActivities.resolve_purchase_orders,
                po_ids := ResolvePurchaseOrdersInput(
                    bng_po_ids=sorted({line.PurchaseOrderID for line in invoice.Lines})
                ),
                **self._call,
                summary=summaries.resolve_purchase_orders(po_ids),
            ),
        )
        earlier = await self._step(
            "duplicate check",
            workflow.execute_activity_method(
                M3SupplierInvoiceActivities.find_earlier_supplier_invoice,
                earlier_check := FindEarlierInvoiceInput(
                    bng_id=self._view.document_id, suno=supplier.suno, sino=invoice.InvoiceNumber
                ),
                **self._call,
                summary=summaries.find_earlier_supplier_invoice(earlier_check),
            ),
        )
        self._set_stage(
            DocumentStage.VALIDATED,
            f"supplier {supplier.suno}, {len(invoice.Lines)} line(s) on PO(s) "
            + ", ".join(sorted(punos.values()))
            + f" (maps {transformed.map_version or '-'})",
        )
        if earlier is not None and not earlier.ours(self._view.document_id):
            by = f"BNG invoice {earlier.cori}" if earlier.cori else "an invoice not entered by m3bng"
            reason = (
                f"Duplicate: supplier {supplier.suno} already has invoice {invoice.InvoiceNumber} in M3 "
                f"(invoice batch {earlier.inbn}, {by})"
            )
            self._set_stage(DocumentStage.REJECTED, reason, outcome="error")
            await self._tell(SupplierInvoiceStatus.REJECTED, reason)
            return None
        head = {**transformed.head, "SUNO": supplier.suno}
        to_match = invoice_to_match(invoice.model_dump(mode="json"), punos, supplier.suno)
        prepared = _Prepared(invoice, supplier.suno, head, to_match)
        if earlier is not None:
            prepared.entered_before = True
            self._log("Found in M3", f"invoice batch {earlier.inbn}, entered by an earlier attempt", "info")
        return prepared

    # ---------------------------------------------------------------- 3: three-way match

    async def _match(self, prepared: _Prepared) -> list[dict[str, str]] | None:
        """The APS450MI lines to enter, once matched or accepted; None if the invoice is rejected."""
        waiting_until: datetime | None = None
        while True:
            result = await self._must(
                "three-way match",
                lambda data: workflow.execute_activity_method(
                    M3SupplierInvoiceActivities.match_supplier_invoice,
                    data,
                    **self._call,
                    summary=summaries.match_supplier_invoice(data),
                ),
                MatchInvoiceInput(invoice=prepared.to_match),
            )
            self._view.details["match"] = _match_summary(result)
            if result.ok:
                self._set_stage(DocumentStage.MATCHED, "within the tolerances: " + _tolerances(result))
                return [line.mi_fields() for line in result.plan]
            if prepared.entered_before:
                # Matched and entered by an earlier attempt: M3 has booked the quantities already.
                return []
            if waiting_until is not None and workflow.now() < waiting_until:
                await self._wait_for_receipt()
                continue
            decision = await self._park(
                Attention(
                    kind="match_mismatch",
                    summary=f"Three-way match: {'; '.join(result.problems)}",
                    issues=[
                        FieldIssue(field="Lines", line=line.line, message="; ".join(line.problems))
                        for line in result.lines
                        if line.problems
                    ],
                    step="three-way match",
                    data={"problems": result.problems},
                    actions=["accept", "retry", "cancel"],
                    suggestions=[
                        Suggestion(
                            id=s.kind, summary=s.summary, data=s.model_dump(mode="json", exclude={"plan"})
                        )
                        for s in result.suggestions
                    ],
                )
            )
            if not isinstance(decision, AcceptSuggestion):
                continue  # retry: match again (a receipt may have come, a PO price changed)
            suggestion = result.suggestion(decision.suggestion)  # type: ignore[arg-type]
            assert suggestion is not None
            if suggestion.kind == "accept_price_difference":
                self._set_stage(DocumentStage.MATCHED, f"accepted by operator: {suggestion.summary}")
                return [line.mi_fields() for line in suggestion.plan]
            if suggestion.kind == "wait_for_receipt":
                waiting_until = workflow.now() + self._receipt_wait
                self._set_stage(DocumentStage.WAITING_FOR_RECEIPT, suggestion.summary)
                await self._ask_to_be_told(prepared)
                continue
            reason = f"Rejected: {suggestion.summary}"
            self._set_stage(DocumentStage.REJECTED, reason, outcome="info")
            await self._tell(SupplierInvoiceStatus.REJECTED, reason)
            return None

    async def _ask_to_be_told(self, prepared: _Prepared) -> None:
        """Ask each PO's workflow to signal ``recheck`` when it posts the next goods receipt."""
        me = workflow.info().workflow_id
        for bng_po_id in sorted({line.PurchaseOrderID for line in prepared.invoice.Lines}):
            po_workflow = document_workflow_id(DocumentType.PURCHASE_ORDER, bng_po_id)
            try:
                await workflow.get_external_workflow_handle(po_workflow).signal("invoice_waiting", me)
            except Exception as error:  # the PO is closed: the timer alone rechecks
                self._log("PO not told", f"{po_workflow}: {error}", "info")

    async def _wait_for_receipt(self) -> None:
        self._recheck = False
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._recheck, timeout=self._recheck_every)
        self._log(
            "Match again", "still waiting for goods receipt" if not self._recheck else "recheck asked", "info"
        )

    # ---------------------------------------------------------------- 4-5: enter, validate, tell BNG

    async def _post(self, prepared: _Prepared, plan: list[dict[str, str]]) -> None:
        inbn = await self._must(
            "enter invoice in M3",
            lambda data: workflow.execute_activity_method(
                M3SupplierInvoiceActivities.enter_supplier_invoice,
                data,
                **self._call,
                summary=summaries.enter_supplier_invoice(data),
            ),
            EnterInvoiceInput(
                bng_id=self._view.document_id,
                suno=prepared.suno,
                sino=prepared.invoice.InvoiceNumber,
                head=prepared.head,
                lines=plan,
            ),
        )
        self._set_m3_number(inbn)
        self._set_stage(DocumentStage.ENTERED, f"APS450MI: invoice batch {inbn}, {len(plan)} line(s)")
        status = await self._must(
            "validate invoice in M3",
            lambda data: workflow.execute_activity_method(
                M3SupplierInvoiceActivities.validate_supplier_invoice,
                data,
                **self._call,
                summary=summaries.validate_supplier_invoice(data),
            ),
            ValidateInvoiceInput(inbn=inbn),
        )
        self._set_stage(
            DocumentStage.POSTED, f"APS455MI/ValidByBatchNo: invoice batch {inbn} status {status}"
        )
        await self._attempt(
            "status Posted to BNG",
            lambda data: workflow.execute_activity_method(
                BngPurchasingActivities.push_supplier_invoice_status,
                data,
                **self._call,
                summary=summaries.push_supplier_invoice_status(data),
            ),
            PushSupplierInvoiceStatusInput(
                bng_id=self._view.document_id, status=SupplierInvoiceStatus.POSTED, inbn=inbn
            ),
        )
        self._log("Status to BNG", SupplierInvoiceStatus.POSTED.value, "info")

    async def _tell(self, status: SupplierInvoiceStatus, reason: str | None) -> None:
        await self._notify(
            lambda data: workflow.execute_activity_method(
                BngPurchasingActivities.push_supplier_invoice_status,
                data,
                **self._notice,
                summary=summaries.push_supplier_invoice_status(data),
            ),
            PushSupplierInvoiceStatusInput(
                bng_id=self._view.document_id, status=status, inbn=self._view.m3_number, reason=reason
            ),
            status.value,
        )

    async def _tell_bng_parked(self, attention: Attention) -> None:
        await self._tell(SupplierInvoiceStatus.ON_HOLD, attention.summary[:250])

    @workflow.signal
    def recheck(self) -> None:
        """Match again now (e.g. the goods receipt has been posted)."""
        self._recheck = True


def _tolerances(result: MatchResult) -> str:
    t = result.tolerances
    return (
        f"price {t.price.percent}% / {t.price.amount}, quantity {t.quantity.percent}% / {t.quantity.units}, "
        f"invoice amount {t.invoice_amount.percent}% / {t.invoice_amount.amount}"
    )


def _match_summary(result: MatchResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "problems": result.problems,
        "lines": [
            {
                "line": line.line,
                "po": f"{line.PUNO}/{line.PNLI}",
                "price_difference": str(line.price_difference) if line.price_difference is not None else None,
                "price_percent": str(line.price_percent) if line.price_percent is not None else None,
                "quantity_excess": str(line.quantity_excess) if line.quantity_excess is not None else None,
            }
            for line in result.lines
        ],
        "invoice_amount_difference": str(result.invoice_amount.difference),
    }
