"""Full reconciliation of one entity, a page at a time: find every record that differs between
BNG and M3 (or exists on one side only) and have its entity workflow fix it.

Pass 1 pages through M3's list transaction and compares each record with its BNG counterpart;
pass 2 pages through BNG for the records no link knows and M3 lacks. Only one page is held at a
time, so memory stays bounded however many records there are. Fixes go through the records'
own workflows (update-with-start), never around them: a reconciliation running while events
flow cannot race an event's write, and every fix is reported with what it did.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.client import Client

from activities.connections import Connections
from activities.errors import classified_errors
from activities.heartbeat import auto_heartbeat
from activities.master_data import bulk, entity_workflows
from activities.master_data.bng_records import bng_records, external_id
from activities.master_data.m3_records import m3_records, split_inventory_key
from activities.master_data.models import RecordChanged, SyncOutcome
from activities.master_data.sync import bng_key_for_m3, implied_m3_key, key_parts
from clients import metrics
from mapping.ownership import PlanAction, SyncPlan, entity_spec, from_bng, from_m3, plan_sync
from storage import xref

# Differences listed in a report; the counts cover all of them.
DIFFERENCES_KEPT = 200
# Differences no fix can remove: creating the record there is not allowed.
REPORT_ONLY = ("only_in_bng", "only_in_m3")
# Fixes in flight at once, per page.
FIX_CONCURRENCY = 8
# Records of a page that must be created in BNG before they are created in bulk, not one by one.
BULK_MIN = 2


class ReconcilePageInput(BaseModel):
    entity: str
    page_size: int = 200
    # Pass 1 continues after this M3 key; pass 2 from this BNG cursor.
    after: str | None = None
    cursor: str | None = None
    fix: bool = True


class Difference(BaseModel):
    bng_key: str
    m3_key: str | None
    kind: str
    to_m3: list[str] = Field(default_factory=list)
    to_bng: list[str] = Field(default_factory=list)
    outcome: str = ""
    # The agreed state of an equal, unlinked record; kept out of reports.
    state: dict[str, str] = Field(default_factory=dict, exclude=True)


class PageReport(BaseModel):
    examined: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    differences: list[Difference] = Field(default_factory=list)
    # Where the next page starts; None when this pass is done.
    next_after: str | None = None
    next_cursor: str | None = None


class RunRecord(BaseModel):
    entity: str
    trigger: str = "schedule"
    run_id: int | None = None
    status: str = "completed"
    counts: dict[str, int] = Field(default_factory=dict)
    differences: list[Difference] = Field(default_factory=list)
    error: str | None = None


class Reconciler:
    """Reconciliation activities; they start and update entity workflows, so they need a client."""

    def __init__(self, connections: Connections, client: Client) -> None:
        self._c = connections
        self._client = client

    @activity.defn
    @auto_heartbeat
    async def reconcile_m3_page(self, data: ReconcilePageInput) -> PageReport:
        m3_side = m3_records(data.entity, self._c.m3, self._c.settings)
        bng_side = bng_records(data.entity, self._c.bng)
        with classified_errors():
            page = await m3_side.page(data.after, data.page_size)
        links = await asyncio.to_thread(self._links, data.entity, m3_keys=list(page.records))
        bng_keys = {
            m3_key: link.bng_key if (link := links.get(m3_key)) else bng_key_for_m3(data.entity, m3_key)
            for m3_key in page.records
        }
        # The whole page's BNG side in one call where BNG can; the comparison is in memory.
        with classified_errors():
            bng_page = await bulk.read_bng_page(data.entity, self._c.bng, bng_side, list(bng_keys.values()))
        found: list[Difference] = []
        for m3_key, m3_raw in page.records.items():
            link = links.get(m3_key)
            bng_key = bng_keys[m3_key]
            synced = dict(link.synced_state) if link and link.synced_state is not None else None
            difference = _compare(
                data.entity, bng_key, m3_key, bng_page[bng_key], dict(m3_raw), synced, linked=link is not None
            )
            if difference is not None:
                found.append(difference)
        report = await self._settle(data, found, examined=len(page.records), m3_page=page.records)
        report.counts["examined_in_m3"] = len(page.records)  # every record once: the run's size
        report.next_after = page.last_key
        return report

    @activity.defn
    @auto_heartbeat
    async def reconcile_bng_page(self, data: ReconcilePageInput) -> PageReport:
        """BNG records that pass 1 could not see: unlinked, and not in M3 under their own key."""
        m3_side = m3_records(data.entity, self._c.m3, self._c.settings)
        bng_side = bng_records(data.entity, self._c.bng)
        with classified_errors():
            records, next_cursor = await bng_side.page(data.cursor, data.page_size)
        links = await asyncio.to_thread(self._links, data.entity, bng_keys=list(records))
        unlinked = {
            bng_key: implied_m3_key(data.entity, bng_key) or external_id(bng_side, bng_raw)
            for bng_key, bng_raw in records.items()
            if bng_key not in links  # linked: pass 1 compares it with its M3 record
        }
        with classified_errors():
            implied_keys = [key for key in unlinked.values() if key]
            in_m3 = await bulk.m3_keys_present(data.entity, self._c.m3, m3_side, implied_keys)
        found: list[Difference] = []
        for bng_key, implied in unlinked.items():
            if implied in in_m3:
                continue  # pass 1 meets it under its M3 key
            bng_raw = records[bng_key]
            difference = _compare(data.entity, bng_key, implied, bng_raw, None, None, linked=False)
            if difference is not None:
                found.append(difference)
        report = await self._settle(data, found, examined=len(records))
        report.next_cursor = next_cursor
        return report

    async def _settle(
        self,
        data: ReconcilePageInput,
        found: list[Difference],
        *,
        examined: int,
        m3_page: Mapping[str, Mapping[str, str]] | None = None,
    ) -> PageReport:
        counts: Counter[str] = Counter({"examined": examined, "in_sync": examined - len(found)})
        counts.update(difference.kind for difference in found)
        if data.fix:
            # Equal on both sides but never linked (an initial load): only the store needs to learn
            # it, and no system is written, so no workflow has to be involved.
            unlinked = [d for d in found if d.kind == "unlinked" and d.m3_key is not None]
            await asyncio.to_thread(self._link_equal, data.entity, unlinked)
            counts["linked"] += sum(d.outcome == "linked" for d in unlinked)
            to_fix = [d for d in found if d.kind not in ("unlinked", *REPORT_ONLY)]
            if data.entity in bulk.BULK_ENTITIES and m3_page is not None:
                to_fix = await self._create_in_bulk(data.entity, to_fix, m3_page, counts)
        if data.fix and to_fix:
            limit = asyncio.Semaphore(FIX_CONCURRENCY)

            async def fix(difference: Difference) -> None:
                async with limit:
                    outcome = await self._fix(data.entity, difference)
                difference.outcome = outcome.outcome
                counts[f"outcome_{outcome.outcome}"] += 1
                counts["fixed_in_m3"] += bool(outcome.m3_fields)
                counts["fixed_in_bng"] += bool(outcome.bng_fields)

            await asyncio.gather(*(fix(difference) for difference in to_fix))
        return PageReport(examined=examined, counts=dict(counts), differences=found[:DIFFERENCES_KEPT])

    async def _create_in_bulk(
        self,
        entity: str,
        to_fix: list[Difference],
        m3_page: Mapping[str, Mapping[str, str]],
        counts: Counter[str],
    ) -> list[Difference]:
        """Create in BNG, in bulk, the page's records that exist only in M3; returns the
        differences left to the records' own workflows. See activities/master_data/bulk.py for
        why this keeps one writer per record."""
        candidates = [d for d in to_fix if d.kind == "missing_in_bng" and d.m3_key in m3_page]
        if len(candidates) < BULK_MIN:
            return to_fix
        running = await bulk.running_entity_workflows(self._client, entity, [d.bng_key for d in candidates])
        if entity == "inventory":
            # BNG refuses a level for a product it lacks, and would refuse the whole batch: those
            # go to their records' workflows (which park them, as they would anyway).
            with classified_errors():
                skus = await bulk.products_present(self._c.bng, [d.bng_key for d in candidates])
            candidates = [d for d in candidates if split_inventory_key(d.bng_key)[0] in skus]
        build = bulk.BUILDERS[entity]
        records: dict[str, BaseModel] = {}
        differences: dict[str, Difference] = {}
        for difference in candidates:
            assert difference.m3_key is not None
            if difference.bng_key in running:
                continue  # its workflow is handling an event, or waits for an operator
            record = build(difference.bng_key, difference.m3_key, difference.state)
            if record is not None:
                records[difference.bng_key] = record
                differences[difference.bng_key] = difference
        if not records:
            return to_fix
        with classified_errors():
            held = await bulk.create_in_bng(entity, self._c.bng, records)
        # Settled like an entity workflow's second look after a create: equal now, or not ours.
        settled: list[xref.NewLink] = []
        for bng_key, difference in differences.items():
            assert difference.m3_key is not None
            if _holds(held.get(bng_key), records[bng_key]):
                # BNG holds exactly what was sent: the state the record was created from.
                settled.append(
                    xref.NewLink(bng_key=bng_key, m3_key=difference.m3_key, state=difference.state)
                )
                continue
            after = _compare(
                entity,
                bng_key,
                difference.m3_key,
                held.get(bng_key),
                dict(m3_page[difference.m3_key]),
                None,
                linked=False,
            )
            if after is not None and after.kind == "unlinked":
                settled.append(xref.NewLink(bng_key=bng_key, m3_key=difference.m3_key, state=after.state))
        linked = await asyncio.to_thread(self._link_new, entity, settled)
        for bng_key in linked:
            differences[bng_key].outcome = "created"
        counts["bulk_created"] += len(linked)
        counts["outcome_created"] += len(linked)
        counts["fixed_in_bng"] += len(linked)
        return [d for d in to_fix if d.bng_key not in linked]

    def _link_new(self, entity: str, links: list[xref.NewLink]) -> set[str]:
        with self._c.sessions.begin() as session:
            return xref.link_new_synced(session, entity, self._c.settings.m3_cono, links)

    async def _fix(self, entity: str, difference: Difference) -> SyncOutcome:
        change = RecordChanged(m3_key=difference.m3_key, reason="reconciliation")
        settings = self._c.settings
        return await entity_workflows.sync_now(
            self._client,
            settings.task_queue,
            entity,
            difference.bng_key,
            change,
            idle_minutes=settings.sync_idle_minutes,
        )

    @activity.defn
    @auto_heartbeat
    async def record_run(self, data: RunRecord) -> int:
        """Open (no run_id) or close the reconciliation run's row in the store; returns its id."""

        def write() -> int:
            with self._c.sessions.begin() as session:
                if data.run_id is None:
                    return xref.start_run(session, data.entity, data.trigger).id
                run = xref.finish_run(
                    session,
                    data.run_id,
                    status=data.status,
                    counts=data.counts,
                    differences=[d.model_dump() for d in data.differences],
                    error=data.error,
                )
                return run.id

        run_id = await asyncio.to_thread(write)
        if data.run_id is not None:
            metrics.record_reconcile_run(data.entity, data.status, [d.kind for d in data.differences])
        return run_id

    def _link_equal(self, entity: str, differences: list[Difference]) -> None:
        with self._c.sessions.begin() as session:
            for difference in differences:
                assert difference.m3_key is not None
                try:
                    with session.begin_nested():
                        xref.record_synced(
                            session,
                            entity,
                            cono=self._c.settings.m3_cono,
                            bng_key=difference.bng_key,
                            m3_key=difference.m3_key,
                            state=difference.state,
                        )
                    difference.outcome = "linked"
                except xref.XrefConflictError as error:
                    # One side is linked to another record: an operator's case, not this batch's.
                    difference.outcome = f"not linked: {error}"

    def _links(
        self, entity: str, *, m3_keys: list[str] | None = None, bng_keys: list[str] | None = None
    ) -> dict[str, xref.LinkedPair]:
        """The page's links by M3 key (``m3_keys``) or by BNG key (``bng_keys``)."""
        cono = self._c.settings.m3_cono
        with self._c.sessions() as session:
            if m3_keys is not None:
                return {
                    pair.m3_key: pair for pair in xref.pairs_by_keys(session, entity, cono, m3_keys=m3_keys)
                }
            pairs = xref.pairs_by_keys(session, entity, cono, bng_keys=bng_keys or [])
            return {pair.bng_key: pair for pair in pairs}


def _holds(held: Mapping[str, Any] | None, sent: BaseModel) -> bool:
    """True if BNG's record is what was sent, apart from the timestamp BNG stamps it with."""
    if held is None:
        return False
    return {k: v for k, v in held.items() if k != "UpdatedAt"} == sent.model_dump(
        mode="json", exclude_none=True
    )


def _compare(
    entity: str,
    bng_key: str,
    m3_key: str | None,
    bng_raw: Mapping[str, Any] | None,
    m3_raw: Mapping[str, str] | None,
    synced: dict[str, str] | None,
    *,
    linked: bool,
) -> Difference | None:
    """The difference between the two sides of one record, or None if they agree."""
    bng = from_bng(entity, bng_raw).values if bng_raw is not None else None
    m3 = from_m3(entity, m3_raw) if m3_raw is not None else None
    plan: SyncPlan = plan_sync(
        entity_spec(entity), bng=bng, m3=m3, synced=synced, key_parts=key_parts(entity, bng_key)
    )
    if plan.action is PlanAction.NOTHING:
        # One side has it but may not create it on the other (create_in_*: false): report only.
        if bng is not None or m3 is not None:
            return Difference(
                bng_key=bng_key, m3_key=m3_key, kind="only_in_bng" if m3 is None else "only_in_m3"
            )
        return None
    if plan.action is PlanAction.IN_SYNC and linked and synced == plan.desired:
        return None
    kind = {
        PlanAction.IN_SYNC: "unlinked",
        PlanAction.UPDATE: "differs",
        PlanAction.CREATE_IN_M3: "missing_in_m3",
        PlanAction.CREATE_IN_BNG: "missing_in_bng",
        PlanAction.DEACTIVATE_IN_M3: "deleted_in_bng",
        PlanAction.CONFLICT: "conflict",
    }[plan.action]
    return Difference(
        bng_key=bng_key,
        m3_key=m3_key,
        kind=kind,
        to_m3=sorted(plan.to_m3),
        to_bng=sorted(plan.to_bng),
        state=plan.desired if kind in ("unlinked", "missing_in_bng") else {},
    )
