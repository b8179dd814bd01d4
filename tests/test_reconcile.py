"""Full reconciliation on the real Temporal dev server against both sandboxes: injected drift is
found and fixed in both systems with counts, and thousands of items are paged, not loaded."""

from __future__ import annotations

import functools
import math
import resource
import uuid
from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus

from activities.master_data.models import ENTITIES
from starter.schedules import ensure_reconcile_schedules
from storage.db import make_engine, make_session_factory
from storage.models import SyncRun
from tests.conftest import Stack
from tests.test_master_data import eventually, m3_call, m3_get, m3_knobs, settled
from workflows.reconcile import ReconcileInput, ReconcileReport, ReconcileWorkflow


async def reconcile(stack: Stack, entity: str, *, fix: bool = True, page_size: int = 200) -> ReconcileReport:
    return await stack.client.execute_workflow(
        ReconcileWorkflow.run,
        ReconcileInput(entity=entity, fix=fix, page_size=page_size, trigger="test"),
        id=f"reconcile-{entity}-test-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.task_queue,
    )


async def add_item(stack: Stack, itno: str, name: str) -> None:
    await m3_call(
        stack, "MMS200MI", "AddItmBasic", ITNO=itno, ITDS=name, UNMS="EA", ITTY="FGD", STAT="20", MABU="2"
    )


async def test_reconciliation_fixes_drift_in_both_systems_and_reports_counts(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:5].upper()
    drift_bng, drift_m3, missing, bng_only = f"RB{tag}", f"RM{tag}", f"RN{tag}", f"RO{tag}"
    for itno in (drift_bng, drift_m3):
        await add_item(stack, itno, f"Item {itno}")
        await eventually(functools.partial(_product, stack, itno), what=f"{itno} in BNG")
        await settled(stack, "product", itno)

    # Drift nobody reports: BNG's description (BNG owns it) and M3's name (M3 owns it) change
    # without events, and an item is added to M3 while its BODs are lost.
    response = await stack.bng.post(
        "/_sandbox/drift", json={"kind": "product", "key": drift_bng, "changes": {"Description": "Drifted"}}
    )
    assert response.status_code == 200, response.text
    await m3_knobs(stack, master_data_bods=False)
    try:
        await m3_call(stack, "MMS200MI", "UpdItmBasic", ITNO=drift_m3, ITDS="Renamed in M3")
        await add_item(stack, missing, "Never announced")
    finally:
        await m3_knobs(stack, master_data_bods=True)

    # A product only BNG has: items are born in M3, so it is reported, not created there.
    bulk = await stack.bng.post(
        "/_sandbox/bulk", json={"kind": "product", "documents": [{"SKU": bng_only, "Name": "BNG only"}]}
    )
    assert bulk.status_code == 200, bulk.text

    report = await reconcile(stack, "product")

    found = {d.bng_key: d for d in report.differences}
    assert found[drift_bng].kind == "differs" and found[drift_bng].to_m3 == ["FUDS"]
    assert found[drift_m3].kind == "differs" and found[drift_m3].to_bng == ["ITDS"]
    assert found[missing].kind == "missing_in_bng"
    assert {found[key].outcome for key in (drift_bng, drift_m3)} == {"updated"}
    assert found[missing].outcome == "created"
    assert report.counts["differs"] >= 2 and report.counts["missing_in_bng"] >= 1
    assert report.counts["fixed_in_m3"] >= 1 and report.counts["fixed_in_bng"] >= 2
    assert report.counts["examined"] == report.examined
    assert found[bng_only].kind == "only_in_bng" and found[bng_only].outcome == ""
    assert await m3_get(stack, "MMS200MI", "GetItmBasic", ITNO=bng_only) is None

    assert (await m3_get(stack, "MMS200MI", "GetItmBasic", ITNO=drift_bng) or {}).get("FUDS") == "Drifted"
    assert (await _product(stack, drift_m3) or {}).get("Name") == "Renamed in M3"
    assert (await _product(stack, missing) or {}).get("Name") == "Never announced"

    # A second run finds nothing left to fix for these records.
    again = await reconcile(stack, "product", fix=False)
    assert not {d.bng_key for d in again.differences} & {drift_bng, drift_m3, missing}, again.differences


async def _product(stack: Stack, sku: str) -> dict[str, object] | None:
    response = await stack.bng.get(f"/api/v1/products/{sku}")
    return response.json() if response.status_code == 200 else None


async def test_reconciliation_of_thousands_of_items_pages_with_bounded_memory(stack: Stack) -> None:
    count, prefix = 3000, f"K{uuid.uuid4().hex[:4].upper()}"
    seeded = await stack.m3.post(
        "/_sandbox/seed-items", json={"count": count, "prefix": prefix, "warehouse": "100", "quantity": 5}
    )
    assert seeded.status_code == 200, seeded.text
    # BNG already has them (an earlier catalogue import), three with a drifted name.
    products = [
        {"SKU": f"{prefix}{n:05d}", "Name": f"Seeded item {prefix}{n:05d}"[:30], "UnitOfMeasure": "EA"}
        for n in range(1, count + 1)
    ]
    for product in products[:3]:
        product["Name"] = "Wrong name"
    bulk = await stack.bng.post("/_sandbox/bulk", json={"kind": "product", "documents": products})
    assert bulk.status_code == 200, bulk.text
    lists_before = len(await stack.m3_calls("MMS200MI", "LstItmByItm"))

    # Not tracemalloc: stopping it while Temporal's and the servers' threads allocate can crash
    # CPython 3.11. The process's peak resident size is the coarser but safe measure.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = await reconcile(stack, "product", page_size=200)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before

    assert report.examined >= count
    # Paged: M3's list was read 200 rows at a time, never the whole catalogue at once.
    assert len(await stack.m3_calls("MMS200MI", "LstItmByItm")) - lists_before >= count // 200
    assert report.pages >= 2 * (count // 200)
    ours = {d.bng_key: d for d in report.differences if d.bng_key.startswith(prefix)}
    assert {key for key, d in ours.items() if d.kind == "differs"} == {p["SKU"] for p in products[:3]}
    assert report.counts["linked"] >= count - 3
    # The whole test process (worker, activities, receiver, both sandboxes) grew little meanwhile.
    assert grown_kb < 128 * 1024, f"peak resident size grew by {grown_kb / 1024:.0f} MB"
    assert (await _product(stack, products[0]["SKU"]) or {}).get("Name") == f"Seeded item {prefix}00001"[:30]


async def test_reconciliation_schedules_are_created_then_updated(stack: Stack) -> None:
    ids = await ensure_reconcile_schedules(stack.client, stack.settings)
    try:
        assert ids == [f"reconcile-{entity}" for entity in ENTITIES]
        described = await stack.client.get_schedule_handle("reconcile-customer").describe()
        assert described.schedule.spec.intervals[0].every == timedelta(
            minutes=stack.settings.reconcile_every_minutes
        )
        faster = stack.settings.model_copy(update={"reconcile_every_minutes": 15.0})
        await ensure_reconcile_schedules(stack.client, faster)
        described = await stack.client.get_schedule_handle("reconcile-customer").describe()
        assert described.schedule.spec.intervals[0].every == timedelta(minutes=15)
    finally:
        for schedule_id in ids:
            await stack.client.get_schedule_handle(schedule_id).delete()


async def test_cli_full_sync_follows_progress_and_reports(stack: Stack) -> None:
    from starter.sync_cli import reconcile as cli_reconcile

    report = await cli_reconcile(stack.client, stack.settings, "supplier", fix=False, page_size=50)
    assert report.phase == "done" and report.run_id is not None
    assert report.examined >= 3  # the demo vendors at least
    assert report.counts["examined"] == report.examined


async def runs_of(stack: Stack, workflow_id: str, first_run_id: str | None) -> int:
    """How many runs the workflow took: each run's history ends by naming the next."""
    runs, run_id = 0, first_run_id
    while run_id:
        runs += 1
        history = await stack.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        last = history.events[-1]
        moved = last.HasField("workflow_execution_continued_as_new_event_attributes")
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id if moved else None
        )
    return runs


async def test_long_reconciliation_continues_as_new_and_reports_every_page(stack: Stack) -> None:
    async def run(pages_per_run: int) -> tuple[ReconcileReport, int]:
        handle = await stack.client.start_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(
                entity="supplier", fix=False, page_size=1, pages_per_run=pages_per_run, trigger="test"
            ),
            id=f"reconcile-supplier-test-{uuid.uuid4().hex[:8]}",
            task_queue=stack.settings.task_queue,
        )
        report = await handle.result()
        return report, await runs_of(stack, handle.id, handle.first_execution_run_id)

    whole, whole_runs = await run(pages_per_run=10_000)
    paged, paged_runs = await run(pages_per_run=2)

    assert whole_runs == 1
    assert paged.pages == whole.pages >= 4  # a page per supplier
    assert paged_runs == math.ceil(paged.pages / 2) >= 2
    # Nothing lost between runs: the same counts, differences and one sync_run row.
    assert paged.phase == "done" and paged.run_id is not None and paged.run_id != whole.run_id
    assert paged.examined == whole.examined == paged.counts["examined"]
    assert paged.counts == whole.counts
    assert [d.bng_key for d in paged.differences] == [d.bng_key for d in whole.differences]


async def test_a_reconciliation_whose_pages_keep_failing_ends_as_a_failed_run_not_a_failed_workflow(
    stack: Stack,
) -> None:
    await stack.m3.post(
        "/_sandbox/faults",
        json={"program": "CRS620MI", "transaction": "LstByNumber", "status": 503, "count": 10_000},
    )
    try:
        handle = await stack.client.start_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(entity="supplier", fix=False, trigger="test", retry_window=timedelta(seconds=3)),
            id=f"reconcile-supplier-test-{uuid.uuid4().hex[:8]}",
            task_queue=stack.settings.task_queue,
        )
        report = await handle.result()
    finally:
        await stack.m3.delete("/_sandbox/faults")

    assert report.phase == "failed" and report.error and "CRS620MI/LstByNumber" in report.error
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    with make_session_factory(make_engine(stack.settings.database_url))() as session:
        run = session.get(SyncRun, report.run_id)
        assert run is not None and run.status == "failed" and run.error == report.error
