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

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from activities.bng_orders import BngOrderActivities, PushInvoiceInput, PushOrderStatusInput
    from activities.m3_customers import EnsureCustomerInput, M3CustomerActivities
    from activities.m3_items import CheckItemsInput, M3ItemActivities
    from activities.m3_journals import M3JournalActivities, PaymentGlInput
    from activities.m3_orders import (
        AddOrderHeadInput,
        AddOrderLinesInput,
        ConfirmOrderInput,
        DeleteBatchOrderInput,
        M3OrderActivities,
    )
    from activities.m3_payments import M3PaymentActivities, PostPaymentInput
    from activities.transform_order import TransformOrderInput, transform_order
    from clients import metrics
    from clients.bng.models import Invoice, Order, OrderStatus
    from workflows.activity_options import SYSTEM_CALL, ActivityOptions, local_first
    from workflows.attention import NeedsAttention, attention_for, item_problems
    from workflows.models import (
        M3_STATUS_STAGES,
        SALES_ORDER_BOD_STAGES,
        Attention,
        CancelOrder,
        FixPayload,
        InvoiceInfo,
        M3OrderEvent,
        OperatorAction,
        OrderToCashInput,
        OrderToCashResult,
        OrderView,
        PaymentCaptured,
        Resume,
        SkipStep,
        Stage,
        TimelineEntry,
    )

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_ORDER_TYPE = "A01"
# Telling BNG about a hold or a cancellation is worth a few minutes of retries, not the park itself.
NOTICE_WINDOW = timedelta(minutes=5)

Decision = FixPayload | Resume | CancelOrder | SkipStep
# What a step's data is about: a fix may fill them in where missing, never point them elsewhere.
KEY_FIELDS = frozenset(
    {"bng_order_id", "cuor", "cuno", "temporary_order_number", "payment_id", "paid_before", "bod_id"}
)


class _Cancelled(Exception):
    pass


class TimelineNote(BaseModel):
    """Something another workflow tells the order, for its timeline only (e.g. a refund booked)."""

    step: str
    detail: str = ""
    outcome: Literal["ok", "error", "info"] = "info"


@workflow.defn
class OrderToCashWorkflow:
    @workflow.init
    def __init__(self, data: OrderToCashInput) -> None:
        self._payload: dict[str, Any] = data.payload
        self._order_type = DEFAULT_ORDER_TYPE
        self._call: ActivityOptions = {**SYSTEM_CALL, "schedule_to_close_timeout": data.retry_window}
        self._notice: ActivityOptions = {**SYSTEM_CALL, "schedule_to_close_timeout": NOTICE_WINDOW}
        self._payment_wait = data.payment_wait
        self._payment_gl_route = data.payment_gl
        self._view = OrderView(bng_order_id=data.bng_order_id, stage=Stage.RECEIVED)
        self._m3_events: list[M3OrderEvent] = []
        self._seen_bods: set[str] = set()
        self._payments: list[PaymentCaptured] = []
        self._seen_payments: set[str] = set()
        # Payments posted, or left unposted by an operator's decision: the order is done with them.
        self._taken_payments: list[str] = []
        self._paid = Decimal(0)
        self._decision: Decision | None = None
        # While parked in a step: the model its data must validate against for a fix.
        self._fix_model: type[BaseModel] | None = None
        # Calls as local activities, search attributes published once per wait. Part of the input,
        # so an order keeps the way it started with (orders from before the choice: activities).
        self._local = data.calls == "local"
        self._unpublished: dict[str, SearchAttributeUpdate[str]] = {}

    # ---------------------------------------------------------------- the process

    @workflow.run
    async def run(self, data: OrderToCashInput) -> OrderToCashResult:
        self._log("Received", f"order.created webhook {data.webhook_id or ''}".strip(), "info")
        metrics.document_started()  # replay-safe: the workflow meter records nothing on replay
        try:
            await self._place_order_in_m3()
            await self._push_status(OrderStatus.ACCEPTED)
            await self._follow_m3_until_invoiced()
            await self._collect_payment()
        except _Cancelled:
            await self._remove_batch_order_on_cancel()
        self._publish()
        return self._result()

    async def _place_order_in_m3(self) -> Order:
        """Steps 2-4, repeated after each operator fix until the order is confirmed in M3."""
        while True:
            try:
                return await self._try_place_order()
            except NeedsAttention as parked:
                decision = await self._park(parked.attention)
                if isinstance(decision, FixPayload):
                    # A corrected order may name another customer or other lines: the batch order
                    # made from the old one must not be confirmed, nor left behind.
                    if self._view.m3_temporary_order_number and self._view.m3_customer_number:
                        await self._remove_batch_order(
                            self._view.m3_customer_number, self._view.m3_temporary_order_number
                        )
                    self._payload = decision.payload

    async def _try_place_order(self) -> Order:
        transformed = await self._business_step(
            self._call_out(
                transform_order,
                mapping := TransformOrderInput(payload=self._payload, order_type=self._order_type),
                summary=summaries.transform_order(mapping),
            )
        )
        if transformed.order is None or transformed.issues:
            raise NeedsAttention(
                Attention(
                    kind="invalid_payload",
                    summary=f"The BNG order does not validate ({len(transformed.issues)} problem(s))",
                    issues=transformed.issues,
                    step="validate order",
                    data=self._payload,
                )
            )
        order = transformed.order
        self._set_stage(
            Stage.VALIDATED,
            f"{len(transformed.lines)} line(s) mapped to M3 (maps {transformed.map_version or '-'})",
        )

        customer = await self._business_step(
            self._call_out(
                M3CustomerActivities.ensure_m3_customer,
                wanted := EnsureCustomerInput(bng_customer_id=order.CustomerID),
                summary=summaries.ensure_m3_customer(wanted),
            )
        )
        self._view.m3_customer_number = customer.cuno
        self._search_attribute(sa.M3_CUSTOMER_NUMBER.value_set(customer.cuno))
        created = " (created from BNG)" if customer.created else ""
        self._set_stage(Stage.CUSTOMER_READY, f"M3 customer {customer.cuno}{created}")

        items = await self._business_step(
            self._call_out(
                M3ItemActivities.check_m3_items,
                item_check := CheckItemsInput(item_numbers=[line["ITNO"] for line in transformed.lines]),
                summary=summaries.check_m3_items(item_check),
            )
        )
        if items.problems:
            raise NeedsAttention(item_problems(items.problems))

        await self._create_m3_order(customer.cuno, transformed.head, transformed.lines)
        return order

    async def _create_m3_order(self, cuno: str, head: dict[str, str], lines: list[dict[str, str]]) -> None:
        created = await self._business_step(
            self._call_out(
                M3OrderActivities.add_m3_order_head,
                head_input := AddOrderHeadInput(bng_order_id=self._view.bng_order_id, cuno=cuno, head=head),
                summary=summaries.add_m3_order_head(head_input),
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
                self._call_out(
                    M3OrderActivities.add_m3_order_lines,
                    lines_input := AddOrderLinesInput(temporary_order_number=temp, lines=lines),
                    summary=summaries.add_m3_order_lines(lines_input),
                )
            )
            self._log("M3 batch order lines", f"OIS100MI/AddBatchLine: {added} line(s) in the batch order")
            orno = await self._business_step(
                self._call_out(
                    M3OrderActivities.confirm_m3_order,
                    confirm := ConfirmOrderInput(
                        bng_order_id=self._view.bng_order_id,
                        cuno=cuno,
                        temporary_order_number=temp,
                    ),
                    summary=summaries.confirm_m3_order(confirm),
                )
            )
        except NeedsAttention as parked:
            if parked.attention.kind in ("outage", "unexpected"):
                raise  # the batch order waits as it is; a retry continues it
            # The order cannot be completed: remove the batch, then say why.
            what = await self._remove_batch_order(cuno, temp)
            parked.attention.summary += f" (batch order {temp} {what})"
            raise
        self._order_confirmed(orno, f"OIS100MI/Confirm: order {orno}")

    async def _remove_batch_order(self, cuno: str, temp: str) -> str:
        """Compensation: delete a batch order that will not be confirmed; says what became of it."""
        deleted = await self._attempt(
            "delete batch order",
            lambda data: self._call_out(
                M3OrderActivities.delete_m3_batch_order,
                data,
                summary=summaries.delete_m3_batch_order(data),
            ),
            DeleteBatchOrderInput(cuno=cuno, cuor=self._view.bng_order_id, temporary_order_number=temp),
        )
        self._view.m3_temporary_order_number = None
        what = {True: "deleted", False: "already gone", None: "left in M3 by the operator"}[deleted]
        self._log("Compensated", f"OIS100MI/DelBatchHead: batch order {temp} {what}", "info")
        return what

    async def _remove_batch_order_on_cancel(self) -> None:
        """A cancelled order leaves no batch order in M3 that someone could still confirm."""
        temp, cuno = self._view.m3_temporary_order_number, self._view.m3_customer_number
        if temp is None or cuno is None:
            return
        try:
            deleted = await self._call_out(
                M3OrderActivities.delete_m3_batch_order,
                removal := DeleteBatchOrderInput(
                    cuno=cuno, cuor=self._view.bng_order_id, temporary_order_number=temp
                ),
                notice=True,
                summary=summaries.delete_m3_batch_order(removal),
            )
        except ActivityError as error:
            self._log("Compensation", f"batch order {temp} not deleted: {error.cause or error}", "error")
            return
        self._view.m3_temporary_order_number = None
        self._log(
            "Compensated",
            f"OIS100MI/DelBatchHead: batch order {temp} {'deleted' if deleted else 'already gone'}",
            "info",
        )

    async def _follow_m3_until_invoiced(self) -> None:
        while self._view.invoice is None:
            self._publish()
            await workflow.wait_condition(lambda: bool(self._m3_events))
            await self._apply_m3_event(self._m3_events.pop(0))

    async def _apply_m3_event(self, event: M3OrderEvent) -> None:
        if event.noun == "Invoice":
            await self._apply_invoice(event)
            return
        if event.order_number and event.order_number != self._view.m3_order_number:
            self._log(
                "Ignored BOD", f"{event.noun} {event.bod_id} is about order {event.order_number}", "info"
            )
            return
        if event.noun == "SalesOrder" and event.orsl:
            self._view.m3_status = f"{event.orsl}/{event.orst or event.orsl}"
            stage = M3_STATUS_STAGES.get(event.orsl)
            if stage in SALES_ORDER_BOD_STAGES and self._advance_to(stage):
                self._set_stage(stage, f"M3 status {self._view.m3_status} (SyncSalesOrder)")
                await self._push_status(_BNG_STATUS[stage])
        elif event.noun == "Shipment" and event.delivery_number:
            first_time = self._view.delivery_number is None
            self._view.delivery_number = event.delivery_number
            if self._advance_to(Stage.SHIPPED):
                self._set_stage(Stage.SHIPPED, f"delivery {event.delivery_number} (SyncShipment)")
            if first_time and self._view.stage.rank <= Stage.SHIPPED.rank:
                await self._push_status(OrderStatus.SHIPPED)

    async def _apply_invoice(self, event: M3OrderEvent) -> None:
        """An invoice moves money: it must be complete and about this order, or it parks."""
        while (invoice := self._invoice_from(event)) is None or isinstance(invoice, str):
            attention = Attention(
                kind="invalid_bod",
                summary=f"SyncInvoice {event.bod_id} cannot be used: {invoice or 'incomplete'}",
                step="invoice",
                data=event.model_dump(mode="json"),
                actions=["retry", "fix", "skip", "cancel"],
            )
            decision = await self._park(attention, fix_model=M3OrderEvent)
            if isinstance(decision, SkipStep):
                self._log("Ignored BOD", f"SyncInvoice {event.bod_id} skipped: {decision.reason}", "info")
                return
            if isinstance(decision, FixPayload):
                event = M3OrderEvent.model_validate({**event.model_dump(mode="json"), **decision.payload})
        self._view.invoice = invoice
        await self._attempt(
            "invoice to BNG",
            lambda data: self._call_out(
                BngOrderActivities.push_invoice_to_bng,
                data,
                summary=summaries.push_invoice_to_bng(data),
            ),
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
        )
        self._log(
            "Invoice to BNG", f"invoice {invoice.invoice_number} {invoice.total_amount} {invoice.currency}"
        )
        self._set_stage(Stage.INVOICED, f"invoice {invoice.invoice_number} (SyncInvoice)")
        await self._push_status(OrderStatus.INVOICED)

    def _invoice_from(self, event: M3OrderEvent) -> InvoiceInfo | str:
        """The invoice a SyncInvoice describes, or what is wrong with it."""
        missing = [
            name
            for name, value in (
                ("invoice number", event.invoice_number),
                ("total amount", event.total_amount),
                ("currency", event.currency),
                ("order number", event.order_number),
            )
            if value in (None, "")
        ]
        if missing:
            return "no " + ", no ".join(missing)
        if event.order_number != self._view.m3_order_number:
            return f"it is about order {event.order_number}, not {self._view.m3_order_number}"
        assert event.invoice_number and event.total_amount is not None and event.currency
        if event.total_amount < 0:
            return f"negative total {event.total_amount}"
        return InvoiceInfo(
            invoice_number=event.invoice_number,
            invoice_year=event.invoice_year or workflow.now().year,
            invoice_date=event.invoice_date or workflow.now().date(),
            due_date=event.due_date,
            net_amount=event.net_amount if event.net_amount is not None else event.total_amount,
            tax_amount=event.tax_amount or Decimal(0),
            total_amount=event.total_amount,
            currency=event.currency,
        )

    async def _collect_payment(self) -> None:
        invoice = self._view.invoice
        assert invoice is not None and self._view.m3_customer_number is not None
        while self._paid < invoice.total_amount:
            if not await self._next_payment_in_time():
                decision = await self._park(
                    Attention(
                        kind="underpaid",
                        summary=(
                            f"Invoice {invoice.invoice_number} is paid {self._paid} of "
                            f"{invoice.total_amount} {invoice.currency}; the rest did not come within "
                            f"{self._payment_wait}"
                        ),
                        step="collect payment",
                        actions=["retry", "skip", "cancel"],
                    )
                )
                if isinstance(decision, SkipStep):
                    self._log("Underpayment accepted", decision.reason, "info")
                    break
                continue
            if late := self._another_invoice():
                await self._refuse_another_invoice(late)
                continue
            payment = self._payments.pop(0)
            received = PostPaymentInput(
                payment_id=payment.payment_id,
                cuno=self._view.m3_customer_number,
                invoice_number=invoice.invoice_number,
                invoice_year=invoice.invoice_year,
                amount=payment.amount,
                currency=payment.currency,
                payment_date=payment.captured_at.date(),
                paid_before=self._paid,
            )
            posting = await self._checked_payment(received, invoice)
            if posting is None:
                self._taken_payments.append(payment.payment_id)
                continue
            # No fix here: the batch may exist already, and only the checks above may shape it.
            posted = await self._attempt(
                "post payment",
                lambda data: self._call_out(
                    M3PaymentActivities.post_payment_to_m3,
                    data,
                    summary=summaries.post_payment_to_m3(data),
                ),
                posting,
                actions=["retry", "skip", "cancel"],
            )
            self._taken_payments.append(payment.payment_id)
            if posted is None:
                self._log("Payment not posted", f"{payment.payment_id} skipped by the operator", "info")
                continue
            self._paid += posting.amount
            self._view.payment_id = payment.payment_id
            self._log(
                "Payment to M3",
                f"ARS040MI batch {posted.payment_batch}: {posting.amount} {posting.currency} "
                f"on invoice {invoice.invoice_number}",
            )
            if workflow.patched("payment-gl"):  # orders paid before it was added replay without it
                await self._payment_gl(posting, payment)
        await self._refuse_extra_payments(invoice)
        self._set_stage(Stage.PAID, f"paid {self._paid} {invoice.currency}")
        await self._push_status(OrderStatus.PAID)
        if self._payments:  # came in while BNG was told
            await self._refuse_extra_payments(invoice)
            await self._push_status(OrderStatus.PAID)

    async def _payment_gl(self, posting: PostPaymentInput, payment: PaymentCaptured) -> None:
        """The payment's GL side: M3's own (ARS040MI) or a clearing journal (setting payment_gl)."""
        if self._payment_gl_route == "m3_ar_batch":
            self._log("Payment GL", "the GL posting is M3's: ARS040MI batch accounting", "info")
            return
        gl = await self._attempt(
            "payment GL",
            lambda data: self._call_out(
                M3JournalActivities.post_payment_gl,
                data,
                summary=summaries.post_payment_gl(data),
            ),
            PaymentGlInput(
                payment_id=payment.payment_id,
                order_id=self._view.bng_order_id,
                amount=posting.amount,
                currency=posting.currency,
                payment_date=posting.payment_date,
            ),
            actions=["retry", "skip", "cancel"],
        )
        if gl is not None:
            self._log("Payment GL", gl.detail, "info")

    async def _refuse_extra_payments(self, invoice: InvoiceInfo) -> None:
        """Money beyond the invoice is never posted on its own: each extra payment waits for an operator."""
        while self._payments:
            payment = self._payments.pop(0)
            decision = await self._park(
                Attention(
                    kind="payment_mismatch",
                    summary=(
                        f"Payment {payment.payment_id} of {payment.amount} {payment.currency} came after "
                        f"invoice {invoice.invoice_number} was settled"
                    ),
                    step="extra payment",
                    data=payment.model_dump(mode="json"),
                    actions=["skip", "cancel"],
                )
            )
            self._taken_payments.append(payment.payment_id)
            self._log("Payment not posted", f"{payment.payment_id}: {_reason(decision)}", "info")

    def _another_invoice(self) -> M3OrderEvent | None:
        """An invoice BOD other than the order's invoice (a credit note, a second invoice)."""
        invoice = self._view.invoice
        while self._m3_events:
            event = self._m3_events.pop(0)
            if event.noun == "Invoice" and invoice and event.invoice_number != invoice.invoice_number:
                return event
            # Status BODs after the invoice, and the invoice again, change nothing.
        return None

    async def _refuse_another_invoice(self, event: M3OrderEvent) -> None:
        await self._park(
            Attention(
                kind="invalid_bod",
                summary=(
                    f"SyncInvoice {event.bod_id} brings invoice {event.invoice_number} for an order already "
                    f"invoiced as {self._view.invoice.invoice_number if self._view.invoice else '-'}"
                ),
                step="another invoice",
                data=event.model_dump(mode="json"),
                actions=["skip", "cancel"],
            )
        )

    async def _next_payment_in_time(self) -> bool:
        """Wait for a payment (or another invoice); once partly paid, only for the payment wait."""

        def arrived() -> bool:
            return bool(self._payments) or any(e.noun == "Invoice" for e in self._m3_events)

        self._publish()
        if self._paid == 0:
            await workflow.wait_condition(arrived)
            return True
        try:
            await workflow.wait_condition(arrived, timeout=self._payment_wait)
        except TimeoutError:
            return False
        return True

    async def _checked_payment(
        self, posting: PostPaymentInput, invoice: InvoiceInfo
    ) -> PostPaymentInput | None:
        """A payment must be in the invoice's currency and not more than is open; else it parks."""
        while True:
            open_amount = invoice.total_amount - self._paid
            if posting.currency != invoice.currency:
                problem = f"is in {posting.currency}, the invoice in {invoice.currency}"
            elif posting.amount <= 0:
                problem = f"is {posting.amount}"
            elif posting.amount > open_amount:
                problem = f"is {posting.amount} {posting.currency}, more than the {open_amount} still open"
            else:
                return posting
            decision = await self._park(
                Attention(
                    kind="payment_mismatch",
                    summary=f"Payment {posting.payment_id} {problem} on invoice {invoice.invoice_number}",
                    step="check payment",
                    data=posting.model_dump(mode="json"),
                    actions=["fix", "skip", "cancel"],
                ),
                fix_model=PostPaymentInput,
            )
            if isinstance(decision, SkipStep):
                self._log("Payment not posted", f"{posting.payment_id}: {decision.reason}", "info")
                return None
            if isinstance(decision, FixPayload):
                posting = PostPaymentInput.model_validate(
                    {**posting.model_dump(mode="json"), **decision.payload}
                )

    # ---------------------------------------------------------------- operator hand-offs

    async def _attempt(
        self,
        step: str,
        run: Callable[[M], Awaitable[T]],
        data: M,
        actions: list[OperatorAction] | None = None,
    ) -> T | None:
        """Run one step; whatever retrying could not fix parks it until an operator decides.

        Retry runs it again, a fix runs it with edited data, skip leaves it undone (None).
        """
        while True:
            try:
                return await run(data)
            except ActivityError as error:
                attention = attention_for(error, step)
            attention.data = data.model_dump(mode="json")
            attention.actions = actions or ["retry", "fix", "skip", "cancel"]
            decision = await self._park(attention, fix_model=type(data))
            if isinstance(decision, SkipStep):
                self._log("Skipped", f"{step}: {decision.reason}", "info")
                return None
            if isinstance(decision, FixPayload):
                data = type(data).model_validate({**data.model_dump(mode="json"), **decision.payload})

    async def _park(self, attention: Attention, fix_model: type[BaseModel] | None = None) -> Decision:
        """Wait in NeedsAttention for an operator. Raises _Cancelled if the order is cancelled."""
        attention.since = workflow.now()
        self._decision = None
        self._fix_model = fix_model
        self._view.attention = attention
        stage_before = self._view.stage
        metrics.document_parked(stage_before.value, attention.kind)
        self._set_stage(Stage.NEEDS_ATTENTION, attention.summary, outcome="error")
        if attention.kind != "invalid_payload":
            await self._notify(OrderStatus.ON_HOLD, attention.summary[:250])
        self._publish()
        await workflow.wait_condition(lambda: self._decision is not None)
        decision, self._decision = self._decision, None
        assert decision is not None
        self._view.attention = None
        self._fix_model = None
        if isinstance(decision, CancelOrder):
            self._set_stage(Stage.CANCELLED, f"cancelled by operator: {decision.reason}", outcome="info")
            if self._view.m3_order_number is None:
                await self._notify(OrderStatus.CANCELLED, decision.reason)
            else:
                self._log("M3 order kept", f"order {self._view.m3_order_number} stays in M3 as it is", "info")
            raise _Cancelled()
        # Back to where the order was; the step that parked it runs again (or is skipped).
        self._set_stage(stage_before, f"{type(decision).__name__}: {_reason(decision)}", outcome="info")
        if isinstance(decision, FixPayload):
            self._log("Payload corrected", decision.reason or "operator sent corrected data", "info")
        return decision

    async def _business_step(self, step: Awaitable[T]) -> T:
        """Run an activity of the order's placement; what retrying cannot fix parks the order."""
        try:
            return await step
        except ActivityError as error:
            raise NeedsAttention(attention_for(error, "place order")) from error

    # ---------------------------------------------------------------- messages

    @workflow.signal
    def m3_order_event(self, event: M3OrderEvent) -> None:
        # ION delivers at least once: the BOD id makes a repeated delivery harmless.
        if event.bod_id not in self._seen_bods:
            self._seen_bods.add(event.bod_id)
            self._m3_events.append(event)

    @workflow.signal
    def note(self, note: TimelineNote) -> None:
        """Only a timeline entry: the order's process does not change."""
        self._log(note.step, note.detail, note.outcome)

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
        self._require_parked("a corrected payload", "fix")
        if self._fix_model is None:
            if fix.payload.get("OrderID") not in (None, self._view.bng_order_id):
                raise ValueError(f"OrderID must stay {self._view.bng_order_id}")
            return
        # Corrected data for a step: it must make a valid input of that step, about the same objects.
        attention = self._view.attention
        data = (attention and attention.data) or {}
        changed_keys = [
            name
            for name in KEY_FIELDS & fix.payload.keys()
            if data.get(name) not in (None, "", fix.payload[name])
        ]
        if changed_keys:
            raise ValueError(f"{', '.join(sorted(changed_keys))} cannot be changed by a fix")
        try:
            self._fix_model.model_validate({**data, **fix.payload})
        except ValidationError as error:
            raise ValueError(f"the corrected data does not fit the step: {error}") from error

    @workflow.update
    def resume(self, request: Resume) -> OrderView:
        self._decision = request
        return self._view

    @resume.validator
    def _validate_resume(self, request: Resume) -> None:
        self._require_parked("resume", "retry")

    @workflow.update
    def skip(self, request: SkipStep) -> OrderView:
        self._decision = request
        return self._view

    @skip.validator
    def _validate_skip(self, request: SkipStep) -> None:
        self._require_parked("skip", "skip")
        if not request.reason.strip():
            raise ValueError("skipping a step needs a reason")

    @workflow.update
    def cancel(self, request: CancelOrder) -> OrderView:
        self._decision = request
        return self._view

    @cancel.validator
    def _validate_cancel(self, request: CancelOrder) -> None:
        self._require_parked("cancel", "cancel")

    @workflow.query
    def status(self) -> OrderView:
        return self._view

    # ---------------------------------------------------------------- bookkeeping

    def _require_parked(self, what: str, action: str) -> None:
        attention = self._view.attention
        if self._view.stage != Stage.NEEDS_ATTENTION or self._decision is not None or attention is None:
            raise ValueError(
                f"Order {self._view.bng_order_id} is {self._view.stage}; {what} needs NeedsAttention"
            )
        if action not in attention.actions:
            raise ValueError(
                f"Order {self._view.bng_order_id} is parked at '{attention.step}'; "
                f"{what} is not possible there (possible: {', '.join(attention.actions)})"
            )

    def _order_confirmed(self, orno: str, detail: str) -> None:
        self._view.m3_order_number = orno
        self._view.m3_temporary_order_number = None
        self._view.m3_status = "22/22"
        self._search_attribute(sa.M3_ORDER_NUMBER.value_set(orno))
        self._set_stage(Stage.ORDER_CREATED, detail)

    def _advance_to(self, stage: Stage) -> bool:
        return stage.rank > self._view.stage.rank

    def _set_stage(self, stage: Stage, detail: str, outcome: str = "ok") -> None:
        self._view.stage = stage
        self._search_attribute(sa.ORDER_STAGE.value_set(stage.value))
        metrics.stage_entered(stage.value)
        self._log(stage.value, detail, outcome)

    def _search_attribute(self, update: SearchAttributeUpdate[str]) -> None:
        """Visibility shows where the order waits: with local calls, the stages it passes through
        between two waits are published together, as one history event."""
        if self._local:
            self._unpublished[update.key.name] = update
        else:
            workflow.upsert_search_attributes([update])

    def _publish(self) -> None:
        if self._unpublished:
            workflow.upsert_search_attributes(list(self._unpublished.values()))
            self._unpublished.clear()

    def _call_out(
        self, activity: Callable[..., Awaitable[T]], arg: Any, summary: str, notice: bool = False
    ) -> Awaitable[T]:
        """One call to M3 or BNG: local first (activity_options.local_first), or a regular activity."""
        options = self._notice if notice else self._call
        if self._local:
            return local_first(activity, arg, options, summary)
        return cast(Awaitable[T], workflow.execute_activity(activity, arg, **options, summary=summary))

    def _log(self, step: str, detail: str = "", outcome: str = "ok") -> None:
        self._view.timeline.append(
            TimelineEntry(at=workflow.now(), step=step, detail=detail, outcome=outcome)
        )
        workflow.set_current_details(summaries.order_progress(self._view))

    def _status_update(self, status: OrderStatus, reason: str | None = None) -> PushOrderStatusInput:
        return PushOrderStatusInput(
            bng_order_id=self._view.bng_order_id,
            status=status,
            m3_order_number=self._view.m3_order_number,
            delivery_number=self._view.delivery_number,
            reason=reason,
        )

    async def _push_status(self, status: OrderStatus) -> None:
        pushed = await self._attempt(
            f"status {status.value} to BNG",
            lambda data: self._call_out(
                BngOrderActivities.push_order_status_to_bng,
                data,
                summary=summaries.push_order_status_to_bng(data),
            ),
            self._status_update(status),
        )
        if pushed:
            self._log("Status to BNG", status.value, "info")

    async def _notify(self, status: OrderStatus, reason: str) -> None:
        """Tell BNG about a hold or a cancellation; if it cannot be told, the reason stays first."""
        try:
            await self._call_out(
                BngOrderActivities.push_order_status_to_bng,
                notice := self._status_update(status, reason),
                notice=True,
                summary=summaries.push_order_status_to_bng(notice),
            )
        except ActivityError as error:
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
            payment_ids=self._taken_payments,
        )


_BNG_STATUS: dict[Stage, OrderStatus] = {
    Stage.ALLOCATED: OrderStatus.ALLOCATED,
    Stage.PICKING: OrderStatus.PICKING,
    Stage.SHIPPED: OrderStatus.SHIPPED,
}


def _reason(decision: Decision) -> str:
    return decision.reason or "operator decision"
