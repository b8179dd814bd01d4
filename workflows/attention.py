"""One translator for every workflow: why an activity could not do its work, as an operator reads it."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.errors import BNG_BUSINESS_ERROR, INVALID_RECORD, M3_BUSINESS_ERROR, M3ErrorDetail
    from activities.m3_items import ItemProblem
    from workflows.models import Attention, FieldIssue


def attention_for(error: ActivityError, step: str) -> Attention:
    """Why an activity could not do its work, as an operator reads it."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == M3_BUSINESS_ERROR:
        detail = M3ErrorDetail.model_validate(cause.details[0])
        return Attention(
            kind="m3_business_error",
            summary=f"M3 {detail.program}/{detail.transaction} {detail.code}: {detail.message}",
            issues=[FieldIssue(field=detail.field or "", message=detail.message)],
            m3_program=detail.program,
            m3_transaction=detail.transaction,
            m3_code=detail.code,
            step=step,
        )
    if isinstance(cause, ApplicationError) and cause.type == BNG_BUSINESS_ERROR:
        return Attention(kind="bng_business_error", summary=f"BNG: {cause.message}", step=step)
    if isinstance(cause, ApplicationError) and cause.type == INVALID_RECORD:
        return Attention(kind="invalid_payload", summary=cause.message, step=step)
    # Retried for the whole window: M3 or BNG (or the workers) were down all that time.
    gave_up = error.retry_state in (RetryState.TIMEOUT, RetryState.MAXIMUM_ATTEMPTS_REACHED)
    if gave_up and not (isinstance(cause, ApplicationError) and cause.non_retryable):
        summary = f"{step}: M3 or BNG kept failing for the whole retry window"
        return Attention(kind="outage", summary=f"{summary} ({cause or error})", step=step)
    return Attention(kind="unexpected", summary=f"{step}: {cause or error}", step=step)


def item_problems(problems: list[ItemProblem]) -> Attention:
    """Items M3 does not have or will not sell (MMS200MI/GetItmBasic): the document cannot be placed."""
    return Attention(
        kind="m3_business_error",
        summary="; ".join(problem.message for problem in problems),
        issues=[FieldIssue(field="ITNO", message=p.message, source="SKU") for p in problems],
        m3_program="MMS200MI",
        m3_transaction="GetItmBasic",
        m3_code=problems[0].code,
        step="check items",
    )


def failure_text(error: ActivityError) -> str:
    """What went wrong, with every cause: Temporal's own "giving up" text hides the last attempt's error."""
    parts: list[str] = []
    current: BaseException | None = error.cause or error
    while current is not None:
        text = getattr(current, "message", None) or str(current)
        if text and text not in parts:
            parts.append(text)
        current = getattr(current, "cause", None)
    return ": ".join(parts)
