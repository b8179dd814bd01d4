"""The Temporal Schedules that run a full reconciliation of every entity at a set interval."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.master_data.models import ENTITIES
from settings import Settings
from workflows.reconcile import ReconcileInput, ReconcileWorkflow


def _schedule(settings: Settings, entity: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(entity=entity, trigger="schedule"),
            id=f"reconcile-{entity}",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(minutes=settings.reconcile_every_minutes))]
        ),
        # A reconciliation still running when the next is due: skip the next, never run two.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconcile_schedules(client: Client, settings: Settings) -> list[str]:
    """Create each entity's schedule, or bring an existing one up to the current settings."""
    ids = []
    for entity in ENTITIES:
        schedule_id = f"reconcile-{entity}"
        schedule = _schedule(settings, entity)
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(replace)
        ids.append(schedule_id)
    return ids
