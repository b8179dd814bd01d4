"""The part every procure-to-pay and finance workflow shares with the order workflow's way of working.

A document workflow keeps a view (stage, M3 number, timeline), runs each step as an activity, and
parks in NeedsAttention whatever retrying cannot fix, with its class, reason and data, until an
operator retries, fixes, skips, accepts a suggestion or cancels. The operator's updates and the
``status`` query live here, so ``m3bng po|invoices|journals|refunds`` drive every document alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from clients import metrics
    from workflows.activity_options import SYSTEM_CALL, ActivityOptions
    from workflows.attention import NeedsAttention, attention_for
    from workflows.documents import (
        DocumentInput,
        DocumentResult,
        DocumentStage,
        DocumentType,
        DocumentView,
    )
    from workflows.models import (
        AcceptSuggestion,
        Attention,
        CancelOrder,
        FixPayload,
        OperatorAction,
        Resume,
        SkipStep,
        TimelineEntry,
    )

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Decision = FixPayload | Resume | SkipStep | CancelOrder | AcceptSuggestion
# Telling BNG about a hold is worth a few minutes of retries, not the park itself.
NOTICE_WINDOW = timedelta(minutes=5)
# What a step's data is about: a fix may fill them in where missing, never point them elsewhere.
KEY_FIELDS = frozenset(
    {
        "bng_id",
        "puno",
        "inbn",
        "key1",
        "receipt_id",
        "suno",
        "msgn",
        "PurchaseOrderID",
        "SupplierInvoiceID",
        "JournalID",
        "RefundID",
    }
)


class Cancelled(Exception):
    """Raised out of a park when the operator cancels the document."""


class DocumentWorkflow:
    """Base of the document workflows; subclasses are ``@workflow.defn`` and set ``document_type``."""

    document_type: DocumentType

    def _begin(self, data: DocumentInput) -> None:
        metrics.document_started()  # replay-safe: the workflow meter records nothing on replay
        self._payload: dict[str, Any] = data.payload
        self._call: ActivityOptions = {**SYSTEM_CALL, "schedule_to_close_timeout": data.retry_window}
        self._notice: ActivityOptions = {**SYSTEM_CALL, "schedule_to_close_timeout": NOTICE_WINDOW}
        self._view = DocumentView(
            document_type=self.document_type, document_id=data.bng_id, stage=DocumentStage.RECEIVED
        )
        self._decision: Decision | None = None
        self._fix_model: type[BaseModel] | None = None

    # ---------------------------------------------------------------- hooks for subclasses

    async def _tell_bng_parked(self, attention: Attention) -> None:
        """Tell BNG the document is on hold (subclasses push their status); default: nothing."""

    # ---------------------------------------------------------------- steps and parking

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

    async def _step(self, step: str, call: Awaitable[T]) -> T:
        """Run a step of the document's first phase; what retrying cannot fix raises NeedsAttention."""
        try:
            return await call
        except ActivityError as error:
            raise NeedsAttention(attention_for(error, step)) from error

    async def _until_done(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run the first phase (validate, map, look up, create) until it gets through: each time it
        needs an operator it parks with the document's payload, and a fix replaces the payload."""
        while True:
            try:
                return await run()
            except NeedsAttention as parked:
                parked.attention.data = self._payload
                decision = await self._park(parked.attention)
                if isinstance(decision, FixPayload):
                    self._payload = decision.payload

    async def _must(self, step: str, run: Callable[[M], Awaitable[T]], data: M) -> T:
        """A step the document cannot go on without: it parks until retried, fixed or cancelled."""
        result = await self._attempt(step, run, data, actions=["retry", "fix", "cancel"])
        assert result is not None  # skip is not offered
        return result

    async def _park(self, attention: Attention, fix_model: type[BaseModel] | None = None) -> Decision:
        """Wait in NeedsAttention for an operator. Raises Cancelled if the document is cancelled."""
        attention.since = workflow.now()
        self._decision = None
        self._fix_model = fix_model
        self._view.attention = attention
        stage_before = self._view.stage
        metrics.document_parked(stage_before.value, attention.kind)
        self._set_stage(DocumentStage.NEEDS_ATTENTION, attention.summary, outcome="error")
        await self._tell_bng_parked(attention)
        await workflow.wait_condition(lambda: self._decision is not None)
        decision, self._decision = self._decision, None
        assert decision is not None
        self._view.attention = None
        self._fix_model = None
        if isinstance(decision, CancelOrder):
            self._set_stage(DocumentStage.CANCELLED, f"cancelled by operator: {decision.reason}", "info")
            raise Cancelled(decision.reason)
        # Back to where the document was; the step that parked it runs again (or is skipped).
        self._set_stage(stage_before, f"{type(decision).__name__}: {_reason(decision)}", outcome="info")
        return decision

    async def _notify(self, run: Callable[[M], Awaitable[Any]], data: M, what: str) -> None:
        """Tell BNG something secondary (a hold); if it cannot be told, the reason stays first."""
        try:
            await run(data)
        except ActivityError as error:
            self._log("Status to BNG", f"{what} not accepted: {error.cause or error}", "error")
            return
        self._log("Status to BNG", what, "info")

    # ---------------------------------------------------------------- operator updates and query

    @workflow.update
    def fix_payload(self, fix: FixPayload) -> DocumentView:
        self._decision = fix
        return self._view

    @fix_payload.validator
    def _validate_fix(self, fix: FixPayload) -> None:
        self._require_parked("a corrected payload", "fix")
        attention = self._view.attention
        data = (attention and attention.data) or {}
        changed_keys = [
            name
            for name in KEY_FIELDS & fix.payload.keys()
            if data.get(name) not in (None, "", fix.payload[name])
        ]
        if changed_keys:
            raise ValueError(f"{', '.join(sorted(changed_keys))} cannot be changed by a fix")
        if self._fix_model is not None:
            try:
                self._fix_model.model_validate({**data, **fix.payload})
            except ValidationError as error:
                raise ValueError(f"the corrected data does not fit the step: {error}") from error

    @workflow.update
    def resume(self, request: Resume) -> DocumentView:
        self._decision = request
        return self._view

    @resume.validator
    def _validate_resume(self, request: Resume) -> None:
        self._require_parked("resume", "retry")

    @workflow.update
    def skip(self, request: SkipStep) -> DocumentView:
        self._decision = request
        return self._view

    @skip.validator
    def _validate_skip(self, request: SkipStep) -> None:
        self._require_parked("skip", "skip")
        if not request.reason.strip():
            raise ValueError("skipping a step needs a reason")

    @workflow.update
    def cancel(self, request: CancelOrder) -> DocumentView:
        self._decision = request
        return self._view

    @cancel.validator
    def _validate_cancel(self, request: CancelOrder) -> None:
        self._require_parked("cancel", "cancel")

    @workflow.update
    def accept_suggestion(self, request: AcceptSuggestion) -> DocumentView:
        self._decision = request
        return self._view

    @accept_suggestion.validator
    def _validate_accept(self, request: AcceptSuggestion) -> None:
        self._require_parked("accepting a suggestion", "accept")
        attention = self._view.attention
        offered = [s.id for s in attention.suggestions] if attention else []
        if request.suggestion not in offered:
            raise ValueError(
                f"no suggestion {request.suggestion!r} (offered: {', '.join(offered) or 'none'})"
            )

    @workflow.query
    def status(self) -> DocumentView:
        return self._view

    # ---------------------------------------------------------------- bookkeeping

    def _require_parked(self, what: str, action: str) -> None:
        attention = self._view.attention
        name = f"{self.document_type.value} {self._view.document_id}"
        if (
            self._view.stage != DocumentStage.NEEDS_ATTENTION
            or self._decision is not None
            or attention is None
        ):
            raise ValueError(f"{name} is {self._view.stage}; {what} needs NeedsAttention")
        if action not in attention.actions:
            raise ValueError(
                f"{name} is parked at '{attention.step}'; {what} is not possible there "
                f"(possible: {', '.join(attention.actions)})"
            )

    def _set_m3_number(self, number: str) -> None:
        self._view.m3_number = number
        workflow.upsert_search_attributes([sa.M3_DOCUMENT_NUMBER.value_set(number)])

    def _set_stage(self, stage: DocumentStage, detail: str, outcome: str = "ok") -> None:
        self._view.stage = stage
        workflow.upsert_search_attributes([sa.DOCUMENT_STAGE.value_set(stage.value)])
        metrics.stage_entered(stage.value)
        self._log(stage.value, detail, outcome)

    def _log(self, step: str, detail: str = "", outcome: str = "ok") -> None:
        self._view.timeline.append(
            TimelineEntry(at=workflow.now(), step=step, detail=detail, outcome=outcome)
        )
        workflow.set_current_details(summaries.document_progress(self._view))

    def _result(self) -> DocumentResult:
        return DocumentResult(
            document_type=self.document_type,
            document_id=self._view.document_id,
            stage=self._view.stage,
            m3_number=self._view.m3_number,
        )


def _reason(decision: Decision) -> str:
    return decision.reason or "operator decision"
