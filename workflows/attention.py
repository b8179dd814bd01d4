"""One translator for every workflow: why an activity could not do its work, as an operator reads it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.errors import BNG_BUSINESS_ERROR, INVALID_RECORD, M3_BUSINESS_ERROR, M3ErrorDetail
    from activities.m3_items import ItemProblem
    from workflows.models import Attention, FieldIssue


# Failures retrying cannot fix: the activities raise them non-retryable.
BUSINESS_ERRORS = (M3_BUSINESS_ERROR, BNG_BUSINESS_ERROR, INVALID_RECORD)
FailureKind = Literal["m3_business_error", "bng_business_error", "invalid", "outage", "unexpected"]


class Failure(BaseModel):
    """What an activity failure means, before any workflow words it: the one classification."""

    kind: FailureKind
    message: str
    m3: M3ErrorDetail | None = None
    error_type: str | None = None
    # The failure's first detail (e.g. an invalid record's field errors), as the activity sent it.
    detail: Any = None


class NeedsAttention(Exception):
    """Raised inside a workflow's step when it must wait for an operator; the caller parks it."""

    def __init__(self, attention: Attention) -> None:
        super().__init__(attention.summary)
        self.attention = attention


def classify(error: ActivityError) -> Failure:
    """Business errors (M3 NOK, BNG 4xx, an invalid record) are final; an outage is retrying that
    went on for the whole retry window; anything else is unexpected, a defect to report."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in (
        M3_BUSINESS_ERROR,
        BNG_BUSINESS_ERROR,
        INVALID_RECORD,
    ):
        detail = cause.details[0] if cause.details else None
        if cause.type == M3_BUSINESS_ERROR:
            m3 = M3ErrorDetail.model_validate(detail)
            return Failure(
                kind="m3_business_error", message=cause.message, m3=m3, error_type=cause.type, detail=detail
            )
        kind: FailureKind = "bng_business_error" if cause.type == BNG_BUSINESS_ERROR else "invalid"
        return Failure(kind=kind, message=cause.message, error_type=cause.type, detail=detail)
    error_type = cause.type if isinstance(cause, ApplicationError) else None
    gave_up = error.retry_state in (RetryState.TIMEOUT, RetryState.MAXIMUM_ATTEMPTS_REACHED)
    if gave_up and not (isinstance(cause, ApplicationError) and cause.non_retryable):
        return Failure(kind="outage", message=failure_text(error), error_type=error_type)
    return Failure(kind="unexpected", message=str(cause or error), error_type=error_type)


def attention_for(error: ActivityError, step: str) -> Attention:
    """Why an activity could not do its work, as an operator reads it."""
    failure = classify(error)
    if failure.m3 is not None:
        detail = failure.m3
        return Attention(
            kind="m3_business_error",
            summary=f"M3 {detail.program}/{detail.transaction} {detail.code}: {detail.message}",
            issues=[FieldIssue(field=detail.field or "", message=detail.message)],
            m3_program=detail.program,
            m3_transaction=detail.transaction,
            m3_code=detail.code,
            step=step,
        )
    if failure.kind == "bng_business_error":
        return Attention(kind="bng_business_error", summary=f"BNG: {failure.message}", step=step)
    if failure.kind == "invalid":
        return Attention(kind="invalid_payload", summary=failure.message, step=step)
    if failure.kind == "outage":
        summary = f"{step}: M3 or BNG kept failing for the whole retry window"
        return Attention(kind="outage", summary=f"{summary} ({failure.message})", step=step)
    return Attention(kind="unexpected", summary=f"{step}: {failure.message}", step=step)


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
