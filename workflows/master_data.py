"""Master-data sync: one durable workflow per record (customer, product, supplier, balance).

Events from both systems (BNG webhooks, M3 BODs) and reconciliation arrive as "this record
changed". Changes to one record are handled one at a time, in order, so two events can never
race each other's writes; different records run in parallel workflows. Each change:

1. inspect the record in BNG and M3 against the last synced state, by field ownership;
2. park it for an operator if both sides changed a shared field (a conflict), if it matches
   several M3 records (ambiguous), if it cannot be mapped, or if a call fails in a way retrying
   cannot fix (M3 or BNG refuses it, an outage outlasts the retry window, anything unexpected);
   an operator resolves, retries or skips it. The workflow itself never fails;
3. otherwise create it where it is missing, or write the changed fields where they are owned,
   and remember the new synced state. A change that only reflects m3bng's own last write (an
   echo) finds nothing to do.

The workflow finishes after a quiet spell and continues as new before its history grows large.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    import workflows.search_attributes as sa
    import workflows.summaries as summaries
    from activities.master_data.models import (
        EntitySyncInput,
        EntitySyncView,
        RecordChanged,
        Resolution,
        SyncAttention,
        SyncOutcome,
        SyncState,
        SyncStep,
    )
    from activities.master_data.sync import (
        STALE_SYNC_STATE,
        Applied,
        ApplyInput,
        InspectInput,
        Inspection,
        MasterDataActivities,
    )
    from clients import metrics
    from mapping.engine import FieldError
    from mapping.ownership import PlanAction, Side
    from workflows.activity_options import SYSTEM_CALL, ActivityOptions
    from workflows.attention import classify

HISTORY_KEPT = 50
# Rounds of inspect-and-write per change: a create is followed by a second look that settles the
# fields the new record got from its system's defaults.
MAX_ROUNDS = 3
# Stock moves in bursts: an order's allocation and its delivery each change a balance line by
# line, and M3 sends a BOD for every change. Changes of one balance that arrive within this
# time are synced together, with one look at M3 and at most one write to BNG.
SETTLE = {"inventory": timedelta(seconds=2)}


# create_record or apply_plan: both write one record's plan.
_WriteActivity = Callable[[MasterDataActivities, ApplyInput], Awaitable[Applied]]


class _Parked(Exception):
    def __init__(self, attention: SyncAttention) -> None:
        super().__init__(attention.summary)
        self.attention = attention


@workflow.defn
class EntitySyncWorkflow:
    @workflow.init
    def __init__(self, data: EntitySyncInput) -> None:
        self._entity = data.entity
        self._bng_key = data.bng_key
        self._m3_key = data.m3_key
        self._attention = data.attention
        self._history = list(data.history)
        self._changes_seen = data.changes_seen
        self._queue: list[tuple[int, RecordChanged]] = []
        # Tickets of sync_now updates: their callers wait for the answer, so nothing settles.
        self._awaited: set[int] = set()
        self._resolution: tuple[int, Resolution] | None = None
        self._outcomes: dict[int, SyncOutcome] = {}
        self._next_ticket = 0
        self._syncing = False
        # True from a resolve update's acceptance until it is answered: one at a time.
        self._resolving = False
        self._call: ActivityOptions = {**SYSTEM_CALL, "schedule_to_close_timeout": data.retry_window}
        for change in data.pending:
            self._enqueue(change)

    @workflow.run
    async def run(self, data: EntitySyncInput) -> EntitySyncView:
        changes_this_run = 0
        self._publish_state()
        while True:
            try:
                await workflow.wait_condition(
                    lambda: bool(self._queue) or self._resolution is not None,
                    timeout=None if self._attention else timedelta(minutes=data.idle_minutes),
                )
            except TimeoutError:
                if not self._queue and workflow.all_handlers_finished():
                    return self.status()
                continue
            await self._settle()
            batch, self._queue = self._queue, []
            resolution, self._resolution = self._resolution, None
            if resolution is not None and resolution[1].skip:
                self._answer_resolution(resolution[0], self._skip(resolution[1]))
                resolution = None
                if not batch:
                    continue
            outcome = await self._handle(batch, resolution)
            for ticket, _ in batch:
                self._outcomes[ticket] = outcome
            if resolution is not None:
                self._answer_resolution(resolution[0], outcome)
            changes_this_run += len(batch)
            long_run = (
                changes_this_run >= data.changes_per_run or workflow.info().is_continue_as_new_suggested()
            )
            if not long_run:
                continue
            # Let the updates just answered return first; new work postpones the move.
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or bool(self._queue) or self._resolution is not None
            )
            if not self._queue and self._resolution is None:
                workflow.continue_as_new(
                    EntitySyncInput(
                        entity=self._entity,
                        bng_key=self._bng_key,
                        m3_key=self._m3_key,
                        idle_minutes=data.idle_minutes,
                        changes_per_run=data.changes_per_run,
                        retry_window=data.retry_window,
                        attention=self._attention,
                        changes_seen=self._changes_seen,
                        history=self._history,
                    )
                )

    # -- messages ----------------------------------------------------------------------------

    @workflow.signal
    def record_changed(self, change: RecordChanged) -> None:
        self._enqueue(change)

    @workflow.update
    async def sync_now(self, change: RecordChanged) -> SyncOutcome:
        """Like the signal, but answers with what the sync did: reconciliation counts on it."""
        ticket = self._enqueue(change)
        self._awaited.add(ticket)
        await workflow.wait_condition(lambda: ticket in self._outcomes)
        self._awaited.discard(ticket)
        return self._outcomes.pop(ticket)

    @workflow.update
    async def resolve(self, resolution: Resolution) -> SyncOutcome:
        """An operator's decision for a parked record; see Resolution (retry, skip, winner...)."""
        # Set before the first await, so a second resolve's validator already sees it.
        self._resolving = True
        ticket = self._take_ticket()
        self._resolution = (ticket, resolution)
        await workflow.wait_condition(lambda: ticket in self._outcomes)
        return self._outcomes.pop(ticket)

    @resolve.validator
    def _validate_resolve(self, resolution: Resolution) -> None:
        self._require_parked("resolve")
        assert self._attention is not None
        if resolution.skip:
            if not resolution.note.strip():
                raise ValueError("skipping a parked record needs a reason in note")
            return
        if self._attention.kind == "conflict" and resolution.winner is None:
            raise ValueError("a conflict is resolved by choosing a winner: bng or m3")
        if self._attention.kind == "ambiguous-match" and not (resolution.link_to or resolution.create_new):
            raise ValueError("an ambiguous match is resolved with link_to=<M3 key> or create_new")

    @workflow.query
    def status(self) -> EntitySyncView:
        return EntitySyncView(
            entity=self._entity,
            bng_key=self._bng_key,
            m3_key=self._m3_key,
            state=self._state(),
            attention=self._attention,
            pending=len(self._queue),
            changes_seen=self._changes_seen,
            history=self._history,
        )

    # -- the process -------------------------------------------------------------------------

    async def _handle(
        self, batch: list[tuple[int, RecordChanged]], resolution: tuple[int, Resolution] | None
    ) -> SyncOutcome:
        started = workflow.now()
        # Every queued change says "look again"; one look at the latest state answers them all.
        last = batch[-1][1] if batch else RecordChanged(reason="operator resolution")
        self._changes_seen += len(batch)
        if last.m3_key:
            self._m3_key = self._m3_key or last.m3_key
        self._syncing = True
        self._publish_state()
        try:
            outcome = await self._sync(last.origin, resolution[1] if resolution else None)
            self._attention = None
        except _Parked as parked:
            self._attention = parked.attention
            outcome = SyncOutcome(outcome="parked", detail=parked.attention.summary)
        except ActivityError as error:
            # Whatever retrying could not fix parks the record: the workflow itself never fails.
            self._attention = failure_attention(error, workflow.now())
            outcome = SyncOutcome(outcome="parked", detail=self._attention.summary)
        finally:
            self._syncing = False
        trigger = "resolution" if resolution else (last.reason or f"{last.origin or 'reconcile'} change")
        if len(batch) > 1:
            trigger += f" (+{len(batch) - 1} coalesced)"
        self._record(trigger, outcome)
        kind = self._attention.kind if self._attention else None
        metrics.sync_outcome(self._entity, outcome.outcome, kind, lag=workflow.now() - started)
        return outcome

    def _skip(self, resolution: Resolution) -> SyncOutcome:
        """Leave a parked record as it is; its next change looks at it again."""
        self._attention = None
        outcome = SyncOutcome(outcome="skipped", detail=f"skipped by the operator: {resolution.note}")
        self._record("resolution", outcome)
        return outcome

    def _record(self, trigger: str, outcome: SyncOutcome) -> None:
        detail = outcome.detail or ", ".join(outcome.m3_fields + outcome.bng_fields)
        self._history = [
            *self._history,
            SyncStep(at=workflow.now(), trigger=trigger, outcome=outcome.outcome, detail=detail),
        ][-HISTORY_KEPT:]
        self._publish_state()

    async def _sync(self, origin: Side | None, resolution: Resolution | None) -> SyncOutcome:
        created: Applied | None = None
        for _ in range(MAX_ROUNDS):
            inspection = await self._inspect(origin, resolution)
            resolution = None  # an operator's decision applies to the first look only
            plan = inspection.plan
            if plan.action in (PlanAction.CREATE_IN_M3, PlanAction.CREATE_IN_BNG):
                created = await self._write(MasterDataActivities.create_record, inspection)
                origin = Side.M3 if created.created is Side.M3 else Side.BNG
                continue
            if plan.action is PlanAction.NOTHING:
                detail = "the record exists in neither system"
                if inspection.bng is not None or inspection.m3 is not None:
                    detail = "the record exists on one side only, and ownership.yaml does not create it"
                return SyncOutcome(outcome="nothing", detail=detail)
            settled = inspection.version is not None and inspection.synced == plan.desired
            if plan.action is PlanAction.IN_SYNC and settled:
                if created is not None:
                    return _created(created)
                return SyncOutcome(outcome="echo" if plan.echo else "in-sync", not_owned=plan.not_owned)
            try:
                applied = await self._write(MasterDataActivities.apply_plan, inspection)
            except _Stale:
                continue  # someone else recorded a newer state meanwhile: look again
            if created is not None:
                created.bng_fields += applied.bng_fields
                created.m3_fields += applied.m3_fields
                return _created(created)
            kind = "deactivated" if plan.action is PlanAction.DEACTIVATE_IN_M3 else "updated"
            if not applied.m3_fields and not applied.bng_fields:
                kind = "in-sync"
            return SyncOutcome(
                outcome=kind,
                m3_fields=applied.m3_fields,
                bng_fields=applied.bng_fields,
                not_owned=plan.not_owned,
            )
        return SyncOutcome(
            outcome="failed", detail=f"not settled after {MAX_ROUNDS} rounds; the next change retries"
        )

    async def _inspect(self, origin: Side | None, resolution: Resolution | None) -> Inspection:
        inspection = await workflow.execute_activity_method(
            MasterDataActivities.inspect_record,
            looking := InspectInput(
                entity=self._entity,
                bng_key=self._bng_key,
                m3_key=self._m3_key,
                origin=origin,
                resolve=resolution.winner if resolution else None,
                link_to=resolution.link_to if resolution else None,
                create_new=resolution.create_new if resolution else False,
            ),
            **self._call,
            summary=summaries.inspect_record(looking),
        )
        if inspection.m3_key:
            self._m3_key = inspection.m3_key
        now = workflow.now()
        if inspection.candidates:
            names = ",".join(c.m3_key for c in inspection.candidates)
            raise _Parked(
                SyncAttention(
                    kind="ambiguous-match",
                    summary=f"matches {len(inspection.candidates)} M3 records ({names}): link one or add new",
                    candidates=[c.model_dump() for c in inspection.candidates],
                    since=now,
                )
            )
        if inspection.invalid:
            raise _Parked(_invalid_attention(inspection.invalid, now))
        if inspection.plan.action is PlanAction.CONFLICT:
            fields = ", ".join(c.field for c in inspection.plan.conflicts)
            raise _Parked(
                SyncAttention(
                    kind="conflict",
                    summary=f"changed in both BNG and M3 since the last sync: {fields}",
                    conflicts=inspection.plan.conflicts,
                    bng=inspection.bng,
                    m3=inspection.m3,
                    synced=inspection.synced,
                    since=now,
                )
            )
        return inspection

    async def _write(
        self,
        activity: Callable[[MasterDataActivities, ApplyInput], Awaitable[Applied]],
        inspection: Inspection,
    ) -> Applied:
        assert inspection.m3_key is not None
        try:
            return await workflow.execute_activity_method(
                activity,
                applying := ApplyInput(
                    entity=self._entity,
                    bng_key=self._bng_key,
                    m3_key=inspection.m3_key,
                    plan=inspection.plan,
                    expected_version=inspection.version,
                ),
                **self._call,
                summary=summaries.write_record(applying),
            )
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == STALE_SYNC_STATE:
                raise _Stale() from error
            raise  # parked by _handle

    # -- bookkeeping -------------------------------------------------------------------------

    def _require_parked(self, what: str) -> None:
        # Like the order workflow's: one decision at a time, so no update is left waiting for
        # an answer that a later one took, which would block idle completion and continue-as-new.
        if self._attention is None:
            raise ValueError(f"nothing to {what}: {self._entity} {self._bng_key} is not parked")
        if self._resolving:
            raise ValueError(f"{self._entity} {self._bng_key} is being resolved already; try again after")

    def _answer_resolution(self, ticket: int, outcome: SyncOutcome) -> None:
        self._outcomes[ticket] = outcome
        self._resolving = False

    def _take_ticket(self) -> int:
        self._next_ticket += 1
        return self._next_ticket

    async def _settle(self) -> None:
        """Let a burst of signalled changes gather (SETTLE), unless someone waits for an answer."""
        settle = SETTLE.get(self._entity)
        if settle is None or self._resolution is not None:
            return
        if any(ticket in self._awaited for ticket, _ in self._queue):
            return
        if workflow.patched("settle-bursts"):  # histories from before it replay without the wait
            await workflow.sleep(settle)

    def _enqueue(self, change: RecordChanged) -> int:
        ticket = self._take_ticket()
        self._queue.append((ticket, change))
        return ticket

    def _state(self) -> SyncState:
        if self._attention is not None:
            return SyncState.NEEDS_ATTENTION
        return SyncState.SYNCING if (self._syncing or self._queue) else SyncState.IN_SYNC

    def _publish_state(self) -> None:
        workflow.upsert_search_attributes(
            [
                sa.SYNC_ENTITY.value_set(self._entity),
                sa.SYNC_KEY.value_set(self._bng_key),
                sa.SYNC_STATE.value_set(self._state().value),
            ]
        )
        last = self._history[-1] if self._history else None
        workflow.set_current_details(
            summaries.record_progress(
                self._state().value,
                self._m3_key,
                f"{last.trigger}: {last.outcome} {last.detail}".strip() if last else None,
                self._attention.summary if self._attention else None,
            )
        )


class _Stale(Exception):
    pass


def _created(applied: Applied) -> SyncOutcome:
    where = "M3" if applied.created is Side.M3 else "BNG"
    return SyncOutcome(
        outcome="created",
        m3_fields=applied.m3_fields,
        bng_fields=applied.bng_fields,
        detail=f"created in {where}",
    )


def _invalid_attention(errors: list[FieldError], now: datetime) -> SyncAttention:
    return SyncAttention(
        kind="invalid_record",
        summary="; ".join(error.message for error in errors),
        errors=errors,
        since=now,
    )


def failure_attention(error: ActivityError, now: datetime) -> SyncAttention:
    """Why a record parks after a call that retrying could not fix: the class, reason and data."""
    failure = classify(error)
    if failure.kind == "invalid":
        return _invalid_attention([FieldError.model_validate(d) for d in failure.detail or []], now)
    data: dict[str, Any] = {"activity": error.activity_type, "retry_state": _name(error.retry_state)}
    if failure.error_type:
        data["error_type"] = failure.error_type
    if failure.m3 is not None:
        data.update(failure.m3.model_dump())  # program, transaction, code, field, message
        return SyncAttention(kind="m3_business_error", summary=failure.message, data=data, since=now)
    if failure.kind == "bng_business_error":
        return SyncAttention(kind="bng_business_error", summary=failure.message, data=data, since=now)
    data["message"] = failure.message
    if isinstance(error.cause, ActivityTimeoutError):
        data["timeout_type"] = _name(error.cause.type)
    if failure.kind == "outage":
        summary = (
            f"M3 or BNG kept failing for the whole retry window ({error.activity_type}): {failure.message}"
        )
        return SyncAttention(kind="outage", summary=summary, data=data, since=now)
    return SyncAttention(
        kind="unexpected", summary=f"{error.activity_type} failed: {failure.message}", data=data, since=now
    )


def _name(value: Any) -> str | None:
    return getattr(value, "name", None) if value is not None else None
