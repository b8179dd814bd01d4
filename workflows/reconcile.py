"""Full reconciliation of one entity: page through M3, then through BNG, fixing what differs.

Run by a Temporal Schedule (``starter/schedules.py``) and by ``m3bng sync <entity> --full``,
which follows the ``progress`` query. The report is kept in the store (``sync_run``). Every few
pages the workflow continues as new, carrying the report and its place in the current pass, so
its history stays short however many records there are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import workflows.summaries as summaries
    from activities.master_data.reconcile import (
        DIFFERENCES_KEPT,
        Difference,
        PageReport,
        ReconcilePageInput,
        Reconciler,
        RunRecord,
    )
    from workflows.activity_options import PAGE_CALL, ActivityOptions
    from workflows.attention import failure_text


# Runs started since this patch run both passes side by side.
PASSES_TOGETHER = "reconcile-passes-together"


class ReconcileReport(BaseModel):
    entity: str
    run_id: int | None = None
    # m3, bng, then done; failed when M3, BNG or the store stayed down for the whole retry window.
    # Since "reconcile-passes-together" both passes run side by side: m3 while pass 1 runs.
    phase: str = "m3"
    m3_done: bool = False
    bng_done: bool = False
    error: str | None = None
    pages: int = 0
    examined: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    differences: list[Difference] = Field(default_factory=list)


class ReconcileInput(BaseModel):
    entity: str
    # At most 500: BNG's batch calls take 500 records.
    page_size: int = 500
    fix: bool = True
    trigger: str = "schedule"
    # Continue as new after this many pages (sooner if Temporal suggests it), so that a
    # reconciliation of 100,000 records keeps a short history.
    pages_per_run: int = 20
    # How long a page may keep failing (M3, BNG or the store down) before the run ends as failed.
    retry_window: timedelta = timedelta(hours=2)
    # Carried over by continue-as-new: the report so far and where the current pass goes on.
    progress: ReconcileReport | None = None
    after: str | None = None
    cursor: str | None = None


@workflow.defn
class ReconcileWorkflow:
    @workflow.init
    def __init__(self, data: ReconcileInput) -> None:
        self._report = data.progress or ReconcileReport(entity=data.entity)
        self._call: ActivityOptions = {**PAGE_CALL, "schedule_to_close_timeout": data.retry_window}

    @workflow.run
    async def run(self, data: ReconcileInput) -> ReconcileReport:
        report = self._report
        try:
            if report.run_id is None:
                opening = RunRecord(entity=data.entity, trigger=data.trigger)
                report.run_id = await workflow.execute_activity_method(
                    Reconciler.record_run, opening, **self._call, summary=summaries.record_run(opening)
                )
            await self._reconcile(data)
        except ActivityError as error:
            # Nothing to park: this run ends as failed in its report, and the next one starts over.
            report.phase, report.error = "failed", failure_text(error)
        if report.run_id is None:
            return report  # the store was down from the start: there is no row to close
        try:
            await workflow.execute_activity_method(
                Reconciler.record_run,
                closing := RunRecord(
                    entity=data.entity,
                    run_id=report.run_id,
                    status="failed" if report.phase == "failed" else "completed",
                    error=report.error,
                    counts=report.counts,
                    differences=report.differences,
                ),
                **self._call,
                summary=summaries.record_run(closing),
            )
        except ActivityError as error:
            workflow.logger.warning("reconciliation report not stored: %s", error.cause or error)
        return report

    async def _reconcile(self, data: ReconcileInput) -> None:
        if workflow.patched(PASSES_TOGETHER):
            await self._passes_together(data)
        else:
            await self._passes_in_turn(data)

    async def _passes_together(self, data: ReconcileInput) -> None:
        """Both passes side by side, a page of each at a time (they touch different records:
        pass 2 only takes BNG records no link knows and M3 lacks); continues as new once a run
        has done ``pages_per_run`` pages."""
        report = self._report
        page = ReconcilePageInput(
            entity=data.entity, page_size=data.page_size, fix=data.fix, after=data.after, cursor=data.cursor
        )
        if report.phase == "bng":
            report.m3_done = True  # carried over from a run that did the passes in turn
        pages_this_run = 0
        while not (report.m3_done and report.bng_done):
            calls: list[Awaitable[PageReport]] = []
            if not report.m3_done:
                calls.append(
                    workflow.execute_activity_method(
                        Reconciler.reconcile_m3_page,
                        page,
                        **self._call,
                        summary=summaries.reconcile_m3_page(page),
                    )
                )
            if not report.bng_done:
                calls.append(
                    workflow.execute_activity_method(
                        Reconciler.reconcile_bng_page,
                        page,
                        **self._call,
                        summary=summaries.reconcile_bng_page(page),
                    )
                )
            results = list(await asyncio.gather(*calls))
            if not report.m3_done:
                result = results.pop(0)
                self._add(result)
                report.m3_done = result.next_after is None
                page = page.model_copy(update={"after": result.next_after})
            if not report.bng_done:
                result = results.pop(0)
                self._add(result)
                report.bng_done = result.next_cursor is None
                page = page.model_copy(update={"cursor": result.next_cursor})
            report.phase = "m3" if not report.m3_done else "bng" if not report.bng_done else "done"
            pages_this_run += len(calls)
            if report.phase != "done" and (
                pages_this_run >= data.pages_per_run or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    data.model_copy(update={"progress": report, "after": page.after, "cursor": page.cursor})
                )

    async def _passes_in_turn(self, data: ReconcileInput) -> None:
        """Both passes, page by page; continues as new every ``pages_per_run`` pages."""
        report = self._report
        page = ReconcilePageInput(
            entity=data.entity, page_size=data.page_size, fix=data.fix, after=data.after, cursor=data.cursor
        )
        pages_this_run = 0
        while report.phase != "done":
            if report.phase == "m3":
                result = await workflow.execute_activity_method(
                    Reconciler.reconcile_m3_page,
                    page,
                    **self._call,
                    summary=summaries.reconcile_m3_page(page),
                )
                self._add(result)
                if result.next_after is None:
                    report.phase = "bng"
                    page = page.model_copy(update={"after": None, "cursor": None})
                else:
                    page = page.model_copy(update={"after": result.next_after})
            else:
                result = await workflow.execute_activity_method(
                    Reconciler.reconcile_bng_page,
                    page,
                    **self._call,
                    summary=summaries.reconcile_bng_page(page),
                )
                self._add(result)
                if result.next_cursor is None:
                    report.phase = "done"
                else:
                    page = page.model_copy(update={"cursor": result.next_cursor})
            pages_this_run += 1
            more = report.phase != "done"
            if more and (
                pages_this_run >= data.pages_per_run or workflow.info().is_continue_as_new_suggested()
            ):
                # Only queries reach this workflow today; a handler added later must finish first.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    data.model_copy(update={"progress": report, "after": page.after, "cursor": page.cursor})
                )

    @workflow.query
    def progress(self) -> ReconcileReport:
        return self._report

    def _add(self, page: PageReport) -> None:
        report = self._report
        report.pages += 1
        # What the UI shows while the run goes on: which pass, how far.
        workflow.set_current_details(
            f"**{report.entity}**: pass {report.phase}, {report.pages} page(s), "
            f"{report.examined + page.examined} record(s) examined"
        )
        report.examined += page.examined
        for name, count in page.counts.items():
            report.counts[name] = report.counts.get(name, 0) + count
        room = DIFFERENCES_KEPT - len(report.differences)
        report.differences.extend(page.differences[:room])
