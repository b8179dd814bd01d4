"""Full reconciliation of one entity: page through M3, then through BNG, fixing what differs.

Run by a Temporal Schedule (``starter/schedules.py``) and by ``m3bng sync <entity> --full``,
which follows the ``progress`` query. The report is kept in the store (``sync_run``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.master_data.reconcile import (
        DIFFERENCES_KEPT,
        Difference,
        PageReport,
        ReconcilePageInput,
        Reconciler,
        RunRecord,
    )
    from workflows.activity_options import PAGE_CALL


class ReconcileInput(BaseModel):
    entity: str
    page_size: int = 200
    fix: bool = True
    trigger: str = "schedule"


class ReconcileReport(BaseModel):
    entity: str
    run_id: int | None = None
    phase: str = "m3"
    pages: int = 0
    examined: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    differences: list[Difference] = Field(default_factory=list)


@workflow.defn
class ReconcileWorkflow:
    @workflow.init
    def __init__(self, data: ReconcileInput) -> None:
        self._report = ReconcileReport(entity=data.entity)

    @workflow.run
    async def run(self, data: ReconcileInput) -> ReconcileReport:
        report = self._report
        report.run_id = await workflow.execute_activity_method(
            Reconciler.record_run, RunRecord(entity=data.entity, trigger=data.trigger), **PAGE_CALL
        )
        page = ReconcilePageInput(entity=data.entity, page_size=data.page_size, fix=data.fix)
        while True:
            result = await workflow.execute_activity_method(Reconciler.reconcile_m3_page, page, **PAGE_CALL)
            self._add(result)
            if result.next_after is None:
                break
            page = page.model_copy(update={"after": result.next_after})
        report.phase = "bng"
        page = ReconcilePageInput(entity=data.entity, page_size=data.page_size, fix=data.fix)
        while True:
            result = await workflow.execute_activity_method(Reconciler.reconcile_bng_page, page, **PAGE_CALL)
            self._add(result)
            if result.next_cursor is None:
                break
            page = page.model_copy(update={"cursor": result.next_cursor})
        report.phase = "done"
        await workflow.execute_activity_method(
            Reconciler.record_run,
            RunRecord(
                entity=data.entity,
                run_id=report.run_id,
                counts=report.counts,
                differences=report.differences,
            ),
            **PAGE_CALL,
        )
        return report

    @workflow.query
    def progress(self) -> ReconcileReport:
        return self._report

    def _add(self, page: PageReport) -> None:
        report = self._report
        report.pages += 1
        report.examined += page.examined
        for name, count in page.counts.items():
            report.counts[name] = report.counts.get(name, 0) + count
        room = DIFFERENCES_KEPT - len(report.differences)
        report.differences.extend(page.differences[:room])
