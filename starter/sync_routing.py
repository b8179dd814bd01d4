"""Tell a record's entity workflow that the record changed (webhooks, BODs, the CLI), with the
workflow's summary for the Temporal UI; the mechanism is activities/master_data/entity_workflows.py."""

from __future__ import annotations

from temporalio.client import Client

from activities.master_data import entity_workflows
from activities.master_data.entity_workflows import bng_key_of_m3_record
from activities.master_data.models import RecordChanged, SyncOutcome
from workflows import summaries

__all__ = ["bng_key_of_m3_record", "notify_change", "sync_now"]


def _start_summary(entity: str, bng_key: str, change: RecordChanged) -> tuple[str, str]:
    source = " ".join(part for part in (change.origin.value if change.origin else "", change.reason) if part)
    return summaries.record_start(entity, bng_key, change.m3_key, source or None)


async def notify_change(
    client: Client, task_queue: str, entity: str, bng_key: str, change: RecordChanged, *, idle_minutes: float
) -> str:
    """Signal-with-start: returns as soon as Temporal has recorded the change."""
    return await entity_workflows.notify_change(
        client,
        task_queue,
        entity,
        bng_key,
        change,
        idle_minutes=idle_minutes,
        summary=_start_summary(entity, bng_key, change),
    )


async def sync_now(
    client: Client, task_queue: str, entity: str, bng_key: str, change: RecordChanged, *, idle_minutes: float
) -> SyncOutcome:
    """Update-with-start: waits until the record's workflow has handled the change, and says how."""
    return await entity_workflows.sync_now(
        client,
        task_queue,
        entity,
        bng_key,
        change,
        idle_minutes=idle_minutes,
        summary=_start_summary(entity, bng_key, change),
    )
