"""A BNG refund (payment.refunded) booked in M3: one durable workflow per refund.

M3 has no public MI transaction for a customer refund (m3-p2p.md §7), so the route is a GL entry
through the same GLS840MI interface as journals (setting ``refund_route = "gl_journal"``): debit
refunds / sales returns, credit card clearing, for the refunded amount (accounts declared in
``mapping/maps/gl_settings.yaml``, mapped by the journal map), KEY1 ``batch_key("R", RefundID)``.

1. check the refund as a two-line journal (the same checks as any journal);
2. post it to M3 (one voucher);
3. if the order's workflow is still running, add the refund to the order's timeline.

The refund carries the order id as the search attribute BngOrderId, so listing an order's
workflows (``m3bng orders show``) lists its refunds too. BNG has no refund status to push.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    from clients.bng.models import Refund
    from workflows.document_workflow import Cancelled
    from workflows.documents import DocumentInput, DocumentResult, DocumentStage, DocumentType
    from workflows.journal import GlPostingWorkflow
    from workflows.models import order_workflow_id
    from workflows.order_to_cash import OrderToCashWorkflow, TimelineNote


@workflow.defn
class RefundWorkflow(GlPostingWorkflow):
    document_type = DocumentType.REFUND
    kind = "refund"
    id_field = "RefundID"
    payload_model = Refund

    @workflow.init
    def __init__(self, data: DocumentInput) -> None:
        self._begin_posting(data)

    @workflow.run
    async def run(self, data: DocumentInput) -> DocumentResult:
        order_id = str(self._payload.get("OrderID") or "")
        self._tag(*([sa.BNG_ORDER_ID.value_set(order_id)] if order_id else []))
        amount = f"{self._payload.get('Amount', '?')} {self._payload.get('Currency', '')}".strip()
        self._log(
            "Received",
            f"payment.refunded {data.webhook_id or ''}: {amount} of payment "
            f"{self._payload.get('PaymentID', '?')} on order {order_id or '?'}".replace(" :", ":"),
            "info",
        )
        try:
            posted = await self._checked_and_posted()
        except Cancelled:
            return self._result()
        self._set_stage(DocumentStage.POSTED, f"GL entry: voucher {posted.label} in M3 (batch {posted.key1})")
        if order_id:
            await self._tell_order(
                order_id,
                TimelineNote(
                    step="Refund",
                    detail=f"{self._view.document_id}: {amount} refunded in BNG, booked in M3 as "
                    f"GL voucher {posted.label} (batch {posted.key1})",
                ),
            )
        return self._result()

    async def _tell_order(self, order_id: str, note: TimelineNote) -> None:
        """Add the refund to the order's timeline if the order's workflow still runs."""
        try:
            await workflow.get_external_workflow_handle_for(
                OrderToCashWorkflow.run, order_workflow_id(order_id)
            ).signal(OrderToCashWorkflow.note, note)
        except FailureError as error:
            # Finished (paid, cancelled) or never here: the refund's own timeline is the record.
            self._log("Order not told", f"order {order_id}: {error}", "info")
            return
        self._log("Order told", f"refund noted on the timeline of order {order_id}", "info")
