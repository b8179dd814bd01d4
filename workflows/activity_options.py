"""Activity options every workflow uses for calls to M3 and BNG, and how a call runs as a local activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypedDict, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, RetryState

T = TypeVar("T")


class ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    heartbeat_timeout: timedelta
    retry_policy: RetryPolicy


# Transient failures (M3 or BNG down, 5xx, timeouts) are retried for a long time with backoff;
# business errors are raised non-retryable by the activities and never come back here as retries.
SYSTEM_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(minutes=2),
    "schedule_to_close_timeout": timedelta(hours=12),
    # Activities heartbeat while they wait; a killed worker's activity is retried after this.
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
    ),
}


# A page of reconciliation: minutes of work that reports progress by heartbeat.
PAGE_CALL: ActivityOptions = {
    "start_to_close_timeout": timedelta(minutes=10),
    "schedule_to_close_timeout": timedelta(hours=2),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
}


# A local activity's own tries: enough for a blip (a 502, a dropped connection), short enough to
# keep the workflow task brief. The SDK does not bound a local activity's retries by its
# schedule-to-close timeout (seen with temporalio 1.35), so the window is left to the server.
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_attempts=3
)


async def local_first(
    activity: Callable[..., Awaitable[T]], arg: Any, options: ActivityOptions, summary: str
) -> T:
    """Run ``activity`` as a local activity (inside the workflow task: one marker event, no task
    round trip); if it still fails after a few quick tries, go on as a regular activity with
    ``options``: M3 or BNG is down, and the rest of the retry window is the server's to time, with
    the attempts and the last failure pending in the UI.

    A business error is final at once. The SDK raises a local activity's failure unwrapped (the
    ApplicationError itself); it is wrapped here as a regular activity's failure would be, so that
    the workflows classify both alike. Running the call again is safe: every activity looks for
    its effect before it writes.
    """
    try:
        return cast(
            T,
            await workflow.execute_local_activity(
                activity,
                arg,
                start_to_close_timeout=options["start_to_close_timeout"],
                retry_policy=LOCAL_RETRY,
                summary=summary,
            ),
        )
    except FailureError as failure:
        cause = failure.cause if isinstance(failure, ActivityError) else failure
        if not (isinstance(cause, ApplicationError) and cause.non_retryable):
            return cast(T, await workflow.execute_activity(activity, arg, **options, summary=summary))
        if isinstance(failure, ActivityError):
            raise
        raise ActivityError(
            cause.message,
            scheduled_event_id=0,
            started_event_id=0,
            identity="",
            activity_type=getattr(activity, "__name__", ""),
            activity_id="",
            retry_state=RetryState.NON_RETRYABLE_FAILURE,
        ) from failure
