"""``m3bng sync``: full reconciliation with a progress bar, and operating parked records.

m3bng sync customer --full [--dry-run] [--page-size 200]
m3bng sync parked [--entity customer]
m3bng sync show customer CUST-0001
m3bng sync resolve customer CUST-0001 --winner m3 | --link-to C000000042 | --create-new
m3bng sync schedule                      create or update the reconciliation schedules
"""

from __future__ import annotations

import argparse
import asyncio
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import Client

from activities.master_data.models import ENTITIES, EntitySyncView, Resolution, entity_workflow_id
from mapping.ownership import Side
from settings import Settings
from starter.schedules import ensure_reconcile_schedules
from workflows import search_attributes as sa
from workflows.master_data import EntitySyncWorkflow
from workflows.reconcile import ReconcileInput, ReconcileReport, ReconcileWorkflow

console = Console()


def add_sync_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sync = commands.add_parser("sync", help="master data: reconcile, list and resolve parked records")
    actions = sync.add_subparsers(dest="action", required=True)
    for entity in ENTITIES:
        full = actions.add_parser(entity, help=f"reconcile {entity} records between BNG and M3")
        full.add_argument("--full", action="store_true", required=True, help="a full reconciliation")
        full.add_argument("--dry-run", action="store_true", help="report differences, fix nothing")
        full.add_argument("--page-size", type=int, default=200)
    parked = actions.add_parser("parked", help="records waiting for an operator")
    parked.add_argument("--entity", choices=ENTITIES)
    for name in ("show", "resolve"):
        sub = actions.add_parser(name)
        sub.add_argument("entity", choices=ENTITIES)
        sub.add_argument("key", help="the BNG key, e.g. CUST-0001, a SKU, or SKU/WAREHOUSE")
        if name == "resolve":
            choice = sub.add_mutually_exclusive_group(required=True)
            choice.add_argument("--winner", choices=[side.value for side in Side])
            choice.add_argument("--link-to", help="the M3 record an ambiguous match should link to")
            choice.add_argument("--create-new", action="store_true")
    actions.add_parser("schedule", help="create or update the scheduled reconciliations")


async def run_sync(args: argparse.Namespace, settings: Settings, client: Client) -> int:
    if args.action in ENTITIES:
        report = await reconcile(
            client, settings, args.action, fix=not args.dry_run, page_size=args.page_size
        )
        _print_report(report)
        return 0
    if args.action == "parked":
        query = f'{sa.SYNC_STATE.name} = "NeedsAttention"'
        if args.entity:
            query += f' AND {sa.SYNC_ENTITY.name} = "{args.entity}"'
        table = Table("Workflow", "Started")
        async for wf in client.list_workflows(query):
            table.add_row(wf.id, str(wf.start_time))
        console.print(table)
        return 0
    if args.action == "schedule":
        for schedule_id in await ensure_reconcile_schedules(client, settings):
            console.print(f"schedule [cyan]{schedule_id}[/] every {settings.reconcile_every_minutes:g} min")
        return 0
    handle = client.get_workflow_handle(entity_workflow_id(args.entity, args.key))
    if args.action == "resolve":
        resolution = Resolution(
            winner=Side(args.winner) if args.winner else None,
            link_to=args.link_to,
            create_new=args.create_new,
        )
        outcome = await handle.execute_update(EntitySyncWorkflow.resolve, resolution)
        console.print(f"resolved: [green]{outcome.outcome}[/] {outcome.detail}")
    _print_view(await handle.query(EntitySyncWorkflow.status))
    return 0


async def reconcile(
    client: Client, settings: Settings, entity: str, *, fix: bool, page_size: int
) -> ReconcileReport:
    handle = await client.start_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(entity=entity, page_size=page_size, fix=fix, trigger="cli"),
        id=f"reconcile-{entity}-cli-{int(time.time() * 1000)}",
        task_queue=settings.task_queue,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"reconcile {entity}", total=None, detail="")
        result = asyncio.ensure_future(handle.result())
        while not result.done():
            report = await handle.query(ReconcileWorkflow.progress)
            differing = report.examined - report.counts.get("in_sync", 0)
            progress.update(
                task,
                completed=report.examined,
                detail=f"{report.phase}: {report.examined} seen, {differing} differ, {report.pages} pages",
            )
            await asyncio.wait([result], timeout=0.5)
        progress.update(task, total=report.examined or 1, completed=report.examined or 1)
    return result.result()


def _print_report(report: ReconcileReport) -> None:
    console.print(
        f"[bold]{report.entity}[/]: {report.examined} records in {report.pages} pages (run {report.run_id})"
    )
    table = Table("Count", "Records")
    for name, count in sorted(report.counts.items()):
        table.add_row(name, str(count))
    console.print(table)
    if report.differences:
        details = Table("BNG key", "M3 key", "Difference", "To M3", "To BNG", "Outcome")
        for d in report.differences:
            details.add_row(
                d.bng_key, d.m3_key or "", d.kind, ",".join(d.to_m3), ",".join(d.to_bng), d.outcome
            )
        console.print(details)


def _print_view(view: EntitySyncView) -> None:
    console.print(
        f"[bold]{view.entity} {view.bng_key}[/] <-> M3 {view.m3_key or '-'}  [cyan]{view.state.value}[/]"
    )
    if view.attention:
        console.print(f"[red]Needs attention ({view.attention.kind}):[/] {view.attention.summary}")
        for conflict in view.attention.conflicts:
            console.print(
                f"  {conflict.field}: BNG {conflict.bng!r}  M3 {conflict.m3!r}  (synced {conflict.synced!r})"
            )
        for candidate in view.attention.candidates:
            console.print(f"  candidate {candidate}")
    table = Table("When", "Trigger", "Outcome", "Detail")
    for step in view.history:
        table.add_row(step.at.strftime("%H:%M:%S"), step.trigger, step.outcome, step.detail)
    console.print(table)
