"""Order-to-cash: one durable workflow per BNG order, from the webhook to the payment in M3.

1. validate and transform the BNG order (declared mapping);
2. make sure the customer and every item exist in M3;
3. create the customer order with OIS100MI batch entry (compensated if it cannot be confirmed);
4. follow M3 through allocation, delivery and invoicing (ION BODs arrive as signals), pushing
   every step back to BNG;
5. post the BNG payment to M3 accounts receivable and finish as Paid.

Whatever cannot be fixed by retrying (bad payload, an M3 or BNG business error) parks the order
in NeedsAttention with the reason, until an operator sends a corrected payload, resumes or cancels.
"""

from __future__ import annotations

from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.bng_orders import BngOrderActivities, PushInvoiceInput, PushOrderStatusInput
    from activities.errors import BNG_BUSINESS_ERROR, M3_BUSINESS_ERROR, M3ErrorDetail
    from activities.m3_customers import EnsureCustomerInput, M3CustomerActivities
    from activities.m3_items import CheckItemsInput, M3ItemActivities
    from activities.m3_orders import (
        AddOrderHeadInput,
        AddOrderLinesInput,
        ConfirmOrderInput,
        DeleteBatchOrderInput,
        M3OrderActivities,
    )
    from activities.m3_payments import M3PaymentActivities, PostPaymentInput
    from activities.transform_order import TransformOrderInput, transform_order
    from clients.bng.models import Invoice, Order, OrderStatus
    from workflows import search_attributes as sa
    from workflows.activity_options import SYSTEM_CALL
    from workflows.models import (
        M3_STATUS_STAGES,
        Attention,
        CancelOrder,
        FieldIssue,
        FixPayload,
        InvoiceInfo,
        M3OrderEvent,
        OrderToCashInput,
        OrderToCashResult,
        OrderView,
        PaymentCaptured,
        Resume,
        Stage,
        TimelineEntry,
    )

T = TypeVar("T")

DEFAULT_ORDER_TYPE = "A01"


class _NeedsAttention(Exception):
    def __init__(self, attention: Attention) -> None:
        super().__init__(attention.summary)
        self.attention = attention


class _Cancelled(Exception):
    pass


@workflow.defn
class OrderToCashWorkflow:
    @workflow.init
    def __init__(self, data: OrderToCashInput) -> None:
        self._payload: dict[str, Any] = data.payload
        self._order_type = DEFAULT_ORDER_TYPE
        self._view = OrderView(bng_order_id=data.bng_order_id, stage=Stage.RECEIVED)
        self._m3_events: list[M3OrderEvent] = []
        self._seen_bods: set[str] = set()
        self._payments: list[PaymentCaptured] = []
        self._seen_payments: set[str] = set()
        self._paid = Decimal(0)
        self._decision: FixPayload | Resume | CancelOrder | None = None

    # ---------------------------------------------------------------- the process

    @workflow.run
    async def run(self, data: OrderToCashInput) -> OrderToCashResult:
        self._log("Received", f"order.created webhook {data.webhook_id or ''}".strip(), "info")
        try:
            await self._place_order_in_m3()
        except _Cancelled:
            return self._result()
        await self._push_status(OrderStatus.ACCEPTED)
        await self._follow_m3_until_invoiced()
        await self._collect_payment()
        return self._result()

    async def _place_order_in_m3(self) -> Order:
        """Steps 2-4, repeated after each operator fix until the order is confirmed in M3."""
        while True:
            try:
                return await self._try_place_order()
            except _NeedsAttention as parked:
                await self._park(parked.attention)

    async def _try_place_order(self) -> Order:
        transformed = await workflow.execute_activity(
            transform_order,
            TransformOrderInput(payload=self._payload, order_type=self._order_type),
            **SYSTEM_CALL,
        )
        if transformed.order is None or transformed.issues:
            raise _NeedsAttention(
                Attention(
                    kind="invalid_payload",
                    summary=f"The BNG order does not validate ({len(transformed.issues)} problem(s))",
                    issues=transformed.issues,
                )
            )
        order = transformed.order
        self._set_stage(Stage.VALIDATED, f"{len(transformed.lines)} line(s) mapped to M3")

        customer = await self._business_step(
            workflow.execute_activity_method(
                M3CustomerActivities.ensure_m3_customer,
                EnsureCustomerInput(bng_customer_id=order.CustomerID),
                **SYSTEM_CALL,
            )
        )
        self._view.m3_customer_number = customer.cuno
        workflow.upsert_search_attributes([sa.M3_CUSTOMER_NUMBER.value_set(customer.cuno)])
        created = " (created from BNG)" if customer.created else ""
        self._set_stage(Stage.CUSTOMER_READY, f"M3 customer {customer.cuno}{created}")

        items = await self._business_step(
            workflow.execute_activity_method(
                M3ItemActivities.check_m3_items,
                CheckItemsInput(item_numbers=[line["ITNO"] for line in transformed.lines]),
                **SYSTEM_CALL,
            )
        )
        if items.problems:
            raise _NeedsAttention(
                Attention(
                    kind="m3_business_error",
                    summary="; ".join(problem.message for problem in items.problems),
                    issues=[
                        FieldIssue(field="ITNO", message=p.message, source="SKU") for p in items.problems
                    ],
                    m3_program="MMS200MI",
                    m3_transaction="GetItmBasic",
                    m3_code=items.problems[0].code,
                )
            )

        await self._create_m3_order(customer.cuno, transformed.head, transformed.lines)
        return order

    async def _create_m3_order(self, cuno: str, head: dict[str, str], lines: list[dict[str, str]]) -> None:
        created = await self._business_step(
            workflow.execute_activity_method(
                M3OrderActivities.add_m3_order_head,
                AddOrderHeadInput(bng_order_id=self._view.bng_order_id, cuno=cuno, head=head),
                **SYSTEM_CALL,
            )
        )
        if created.order_number:
            self._order_confirmed(created.order_number, "found already confirmed in M3")
            return
        temp = created.temporary_order_number
        assert temp is not None
        self._view.m3_temporary_order_number = temp
        self._log("M3 batch order head", f"OIS100MI/AddBatchHead: temporary order {temp}")
        try:
            added = await self._business_step(
                workflow.execute_activity_method(
                    M3OrderActivities.add_m3_order_lines,
                    AddOrderLinesInput(temporary_order_number=temp, lines=lines),
                    **SYSTEM_CALL,
                )
            )
            self._log("M3 batch order lines", f"OIS100MI/AddBatchLine: {added} line(s) added")
            orno = await self._business_step(
                workflow.execute_activity_method(
                    M3OrderActivities.confirm_m3_order,
                    ConfirmOrderInput(
                        bng_order_id=self._view.bng_order_id,
                        cuno=cuno,
                        temporary_order_number=temp,
                    ),
                    **SYSTEM_CALL,
                )
            )
        except _NeedsAttention as parked:
            # The head exists but the order cannot be completed: remove the batch, then say why.
            deleted = await workflow.execute_activity_method(
                M3OrderActivities.delete_m3_batch_order,
                DeleteBatchOrderInput(cuno=cuno, cuor=self._view.bng_order_id, temporary_order_number=temp),
                **SYSTEM_CALL,
            )
            self._view.m3_temporary_order_number = None
            what = "deleted" if deleted else "already gone"
            self._log("Compensated", f"OIS100MI/DelBatchHead: batch order {temp} {what}", "info")
            parked.attention.summary += f" (batch order {temp} {what})"
            raise
        self._order_confirmed(orno, f"OIS100MI/Confirm: order {orno}")

    async def _follow_m3_until_invoiced(self) -> None:
        while self._view.invoice is None:
            await workflow.wait_condition(lambda: bool(self._m3_events))
            await self._apply_m3_event(self._m3_events.pop(0))

    async def _apply_m3_event(self, event: M3OrderEvent) -> None:
        if event.order_number and event.order_number != self._view.m3_order_number:
            self._log(
                "Ignored BOD", f"{event.noun} {event.bod_id} is about order {event.order_number}", "info"
            )
            return
        if event.noun == "SalesOrder" and event.orsl:
            self._view.m3_status = f"{event.orsl}/{event.orst or event.orsl}"
            stage = M3_STATUS_STAGES.get(event.orsl)
            # Invoiced needs the invoice itself, which comes with SyncInvoice.
            if stage in (Stage.ALLOCATED, Stage.PICKING, Stage.SHIPPED) and self._advance_to(stage):
                self._set_stage(stage, f"M3 status {self._view.m3_status} (SyncSalesOrder)")
                await self._push_status(_BNG_STATUS[stage])
        elif event.noun == "Shipment" and event.delivery_number:
            first_time = self._view.delivery_number is None
            self._view.delivery_number = event.delivery_number
            if self._advance_to(Stage.SHIPPED):
                self._set_stage(Stage.SHIPPED, f"delivery {event.delivery_number} (SyncShipment)")
            if first_time and self._view.stage.rank <= Stage.SHIPPED.rank:
                await self._push_status(OrderStatus.SHIPPED)
        elif event.noun == "Invoice" and event.invoice_number:
            self._view.invoice = InvoiceInfo(
                invoice_number=event.invoice_number,
                invoice_year=event.invoice_year or workflow.now().year,
                invoice_date=event.invoice_date or workflow.now().date(),
                due_date=event.due_date,
                net_amount=event.net_amount or Decimal(0),
                tax_amount=event.tax_amount or Decimal(0),
                total_amount=event.total_amount or Decimal(0),
                currency=event.currency or "",
            )
            await self._sync_invoice_to_bng(self._view.invoice)
            self._set_stage(Stage.INVOICED, f"invoice {event.invoice_number} (SyncInvoice)")
            await self._push_status(OrderStatus.INVOICED)

    async def _sync_invoice_to_bng(self, invoice: InvoiceInfo) -> None:
        await workflow.execute_activity_method(
            BngOrderActivities.push_invoice_to_bng,
            PushInvoiceInput(
                bng_order_id=self._view.bng_order_id,
                invoice=Invoice(
                    InvoiceNumber=invoice.invoice_number,
                    InvoiceDate=invoice.invoice_date,
                    DueDate=invoice.due_date,
                    NetAmount=invoice.net_amount,
                    TaxAmount=invoice.tax_amount,
                    TotalAmount=invoice.total_amount,
                    Currency=invoice.currency,
                ),
            ),
            **SYSTEM_CALL,
        )
        self._log(
            "Invoice to BNG", f"invoice {invoice.invoice_number} {invoice.total_amount} {invoice.currency}"
        )

    async def _collect_payment(self) -> None:
        invoice = self._view.invoice
        assert invoice is not None and self._view.m3_customer_number is not None
        while self._paid < invoice.total_amount:
            await workflow.wait_condition(lambda: bool(self._payments))
            payment = self._payments.pop(0)
            posted = await workflow.execute_activity_method(
                M3PaymentActivities.post_payment_to_m3,
                PostPaymentInput(
                    payment_id=payment.payment_id,
                    cuno=self._view.m3_customer_number,
                    invoice_number=invoice.invoice_number,
                    invoice_year=invoice.invoice_year,
                    amount=payment.amount,
                    currency=payment.currency,
                    payment_date=payment.captured_at.date(),
                ),
                **SYSTEM_CALL,
            )
            self._paid += payment.amount
            self._view.payment_id = payment.payment_id
            self._log(
                "Payment to M3",
                f"ARS040MI batch {posted.payment_batch}: {payment.amount} {payment.currency} "
                f"on invoice {invoice.invoice_number}",
            )
        self._set_stage(Stage.PAID, f"paid {self._paid} {invoice.currency}")
        await self._push_status(OrderStatus.PAID)

    # ---------------------------------------------------------------- operator hand-offs

    async def _park(self, attention: Attention) -> None:
        """Wait in NeedsAttention for an operator. Raises _Cancelled if the order is cancelled."""
        attention.since = workflow.now()
        self._decision = None
        self._view.attention = attention
        self._set_stage(Stage.NEEDS_ATTENTION, attention.summary, outcome="error")
        if attention.kind != "invalid_payload":
            await self._push_status(OrderStatus.ON_HOLD, reason=attention.summary[:250], best_effort=True)
        await workflow.wait_condition(lambda: self._decision is not None)
        decision, self._decision = self._decision, None
        self._view.attention = None
        if isinstance(decision, CancelOrder):
            self._set_stage(Stage.CANCELLED, f"cancelled by operator: {decision.reason}", outcome="info")
            await self._push_status(OrderStatus.CANCELLED, reason=decision.reason, best_effort=True)
            raise _Cancelled()
        if isinstance(decision, FixPayload):
            self._payload = decision.payload
            self._log("Payload corrected", decision.reason or "operator sent a corrected payload", "info")
        else:
            self._log("Resumed", decision.reason if decision else "", "info")

    async def _business_step(self, step: Awaitable[T]) -> T:
        """Run an activity; a business error from M3 or BNG parks the order instead of failing it."""
        try:
            return await step
        except ActivityError as error:
            cause = error.cause
            if not isinstance(cause, ApplicationError):
                raise
            if cause.type == M3_BUSINESS_ERROR:
                detail = M3ErrorDetail.model_validate(cause.details[0])
                raise _NeedsAttention(
                    Attention(
                        kind="m3_business_error",
                        summary=f"M3 {detail.program}/{detail.transaction} {detail.code}: {detail.message}",
                        issues=[FieldIssue(field=detail.field or "", message=detail.message)],
                        m3_program=detail.program,
                        m3_transaction=detail.transaction,
                        m3_code=detail.code,
                    )
                ) from error
            if cause.type == BNG_BUSINESS_ERROR:
                raise _NeedsAttention(Attention(kind="bng_business_error", summary=cause.message)) from error
            raise

    # ---------------------------------------------------------------- messages

    @workflow.signal
    def m3_order_event(self, event: M3OrderEvent) -> None:
        # ION delivers at least once: the BOD id makes a repeated delivery harmless.
        if event.bod_id not in self._seen_bods:
            self._seen_bods.add(event.bod_id)
            self._m3_events.append(event)

    @workflow.signal
    def payment_captured(self, payment: PaymentCaptured) -> None:
        if payment.payment_id not in self._seen_payments:
            self._seen_payments.add(payment.payment_id)
            self._payments.append(payment)
            self._log(
                "Payment captured in BNG",
                f"{payment.payment_id}: {payment.amount} {payment.currency}",
                "info",
            )

    @workflow.update
    def fix_payload(self, fix: FixPayload) -> OrderView:
        self._decision = fix
        return self._view

    @fix_payload.validator
    def _validate_fix(self, fix: FixPayload) -> None:
        self._require_parked("a corrected payload")
        if fix.payload.get("OrderID") not in (None, self._view.bng_order_id):
            raise ValueError(f"OrderID must stay {self._view.bng_order_id}")

    @workflow.update
    def resume(self, request: Resume) -> OrderView:
        self._decision = request
        return self._view

    @resume.validator
    def _validate_resume(self, request: Resume) -> None:
        self._require_parked("resume")

    @workflow.update
    def cancel(self, request: CancelOrder) -> OrderView:
        self._decision = request
        return self._view

    @cancel.validator
    def _validate_cancel(self, request: CancelOrder) -> None:
        self._require_parked("cancel")

    @workflow.query
    def status(self) -> OrderView:
        return self._view

    # ---------------------------------------------------------------- bookkeeping

    def _require_parked(self, what: str) -> None:
        if self._view.stage != Stage.NEEDS_ATTENTION or self._decision is not None:
            raise ValueError(
                f"Order {self._view.bng_order_id} is {self._view.stage}; {what} needs NeedsAttention"
            )

    def _order_confirmed(self, orno: str, detail: str) -> None:
        self._view.m3_order_number = orno
        self._view.m3_temporary_order_number = None
        self._view.m3_status = "22/22"
        workflow.upsert_search_attributes([sa.M3_ORDER_NUMBER.value_set(orno)])
        self._set_stage(Stage.ORDER_CREATED, detail)

    def _advance_to(self, stage: Stage) -> bool:
        return stage.rank > self._view.stage.rank

    def _set_stage(self, stage: Stage, detail: str, outcome: str = "ok") -> None:
        self._view.stage = stage
        workflow.upsert_search_attributes([sa.ORDER_STAGE.value_set(stage.value)])
        self._log(stage.value, detail, outcome)

    def _log(self, step: str, detail: str = "", outcome: str = "ok") -> None:
        self._view.timeline.append(
            TimelineEntry(at=workflow.now(), step=step, detail=detail, outcome=outcome)
        )

    async def _push_status(
        self, status: OrderStatus, reason: str | None = None, best_effort: bool = False
    ) -> None:
        push = workflow.execute_activity_method(
            BngOrderActivities.push_order_status_to_bng,
            PushOrderStatusInput(
                bng_order_id=self._view.bng_order_id,
                status=status,
                m3_order_number=self._view.m3_order_number,
                delivery_number=self._view.delivery_number,
                reason=reason,
            ),
            **SYSTEM_CALL,
        )
        try:
            await push
        except ActivityError as error:
            # Telling BNG about a hold or a cancellation must not hide the reason for it.
            if not best_effort:
                raise
            self._log("Status to BNG", f"{status.value} not accepted: {error.cause or error}", "error")
            return
        self._log("Status to BNG", status.value, "info")

    def _result(self) -> OrderToCashResult:
        return OrderToCashResult(
            bng_order_id=self._view.bng_order_id,
            stage=self._view.stage,
            m3_order_number=self._view.m3_order_number,
            invoice_number=self._view.invoice.invoice_number if self._view.invoice else None,
            payment_id=self._view.payment_id,
        )


_BNG_STATUS: dict[Stage, OrderStatus] = {
    Stage.ALLOCATED: OrderStatus.ALLOCATED,
    Stage.PICKING: OrderStatus.PICKING,
    Stage.SHIPPED: OrderStatus.SHIPPED,
}
