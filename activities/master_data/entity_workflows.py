"""Tell a record's entity workflow that the record changed, starting the workflow if need be.

Used by the webhook receiver and the BOD endpoint (through starter/sync_routing.py) and by
reconciliation, so that every change to one record, whatever reported it, lands in the same
workflow and is applied in order. The workflow is named by its type and handler names: activities
do not import workflow code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from activities.master_data.models import EntitySyncInput, RecordChanged, SyncOutcome, entity_workflow_id
from activities.master_data.sync import bng_key_for_m3
from storage import xref

ENTITY_SYNC_WORKFLOW = "EntitySyncWorkflow"
RECORD_CHANGED_SIGNAL = "record_changed"
SYNC_NOW_UPDATE = "sync_now"


def _start_input(entity: str, bng_key: str, change: RecordChanged, idle_minutes: float) -> EntitySyncInput:
    return EntitySyncInput(entity=entity, bng_key=bng_key, m3_key=change.m3_key, idle_minutes=idle_minutes)


async def notify_change(
    client: Client,
    task_queue: str,
    entity: str,
    bng_key: str,
    change: RecordChanged,
    *,
    idle_minutes: float,
    summary: tuple[str, str] | None = None,
) -> str:
    """Signal-with-start: returns as soon as Temporal has recorded the change.

    ``summary``: the workflow's static summary and details for the Temporal UI, if it starts now.
    """
    workflow_id = entity_workflow_id(entity, bng_key)
    static_summary, static_details = summary or (None, None)
    await client.start_workflow(
        ENTITY_SYNC_WORKFLOW,
        _start_input(entity, bng_key, change, idle_minutes),
        id=workflow_id,
        task_queue=task_queue,
        start_signal=RECORD_CHANGED_SIGNAL,
        start_signal_args=[change],
        static_summary=static_summary,
        static_details=static_details,
    )
    return workflow_id


async def sync_now(
    client: Client,
    task_queue: str,
    entity: str,
    bng_key: str,
    change: RecordChanged,
    *,
    idle_minutes: float,
    summary: tuple[str, str] | None = None,
) -> SyncOutcome:
    """Update-with-start: waits until the record's workflow has handled the change, and says how."""
    static_summary, static_details = summary or (None, None)
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        ENTITY_SYNC_WORKFLOW,
        _start_input(entity, bng_key, change, idle_minutes),
        id=entity_workflow_id(entity, bng_key),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=static_summary,
        static_details=static_details,
    )
    outcome: SyncOutcome = await client.execute_update_with_start_workflow(
        SYNC_NOW_UPDATE, change, start_workflow_operation=start, result_type=SyncOutcome
    )
    return outcome


async def bng_key_of_m3_record(sessions: sessionmaker[Session], cono: int, entity: str, m3_key: str) -> str:
    """The BNG key (and so the workflow) of an M3 record: its link's, or the one it will get."""

    def lookup() -> str | None:
        with sessions() as session:
            link = xref.find_link(session, entity, cono=cono, m3_key=m3_key)
            return link.bng_key if link else None

    return await asyncio.to_thread(lookup) or bng_key_for_m3(entity, m3_key)
