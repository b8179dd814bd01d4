"""Activity options every workflow uses for calls to M3 and BNG."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy


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
