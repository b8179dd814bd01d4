"""The activities of a master-data entity workflow: inspect a record on both sides, create it
where it is missing, and apply a sync plan.

Every activity re-reads what it needs, so an event only says "this record changed": several
events for one record are handled by reading its latest state, and a retried activity repeats
writes that set values (idempotent) and never applies a stale delta.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connections import Connections
from activities.errors import BNG_BUSINESS_ERROR, INVALID_RECORD, classified_errors
from activities.heartbeat import auto_heartbeat
from activities.master_data.bng_records import BngRecords, bng_records, external_id
from activities.master_data.m3_records import (
    M3Customers,
    M3Records,
    deterministic_key,
    m3_records,
    split_inventory_key,
)
from mapping.engine import FieldError
from mapping.ownership import (
    Canonical,
    PlanAction,
    Side,
    SyncPlan,
    bng_changes,
    bng_record,
    entity_spec,
    from_bng,
    from_m3,
    plan_sync,
)
from storage import xref

# Sync-specific failure types the workflow reacts to.
STALE_SYNC_STATE = "StaleSyncState"

# Prefixes of numbers m3bng gives the records it creates in M3, and of the BNG keys of records
# that came from M3.
NEW_M3_KEY_PREFIX = {"customer": "W", "supplier": "V"}
FROM_M3_PREFIX = "M3-"


def bng_key_for_m3(entity: str, m3_key: str) -> str:
    """The BNG key a record that exists only in M3 gets in BNG (and its workflow is named by)."""
    if entity in NEW_M3_KEY_PREFIX:
        return f"{FROM_M3_PREFIX}{m3_key}"
    return m3_key


class MatchCandidate(BaseModel):
    m3_key: str
    name: str = ""
    matched_on: list[str] = Field(default_factory=list)


class InspectInput(BaseModel):
    entity: str
    bng_key: str
    m3_key: str | None = None
    origin: Side | None = None
    # An operator's decisions: the winner of conflicting fields, the M3 record to link to, or
    # "create a new one" for an ambiguous match.
    resolve: Side | None = None
    link_to: str | None = None
    create_new: bool = False


class Inspection(BaseModel):
    entity: str
    bng_key: str
    m3_key: str | None
    plan: SyncPlan
    bng: Canonical | None = None
    m3: Canonical | None = None
    synced: Canonical | None = None
    version: int | None = None
    invalid: list[FieldError] = Field(default_factory=list)
    candidates: list[MatchCandidate] = Field(default_factory=list)


class ApplyInput(BaseModel):
    entity: str
    bng_key: str
    m3_key: str
    plan: SyncPlan
    expected_version: int | None = None


class Applied(BaseModel):
    m3_fields: list[str] = Field(default_factory=list)
    bng_fields: list[str] = Field(default_factory=list)
    created: Side | None = None
    version: int


class MasterDataActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    def _sides(self, entity: str) -> tuple[M3Records, BngRecords]:
        return m3_records(entity, self._c.m3, self._c.settings), bng_records(entity, self._c.bng)

    @activity.defn
    @auto_heartbeat
    async def inspect_record(self, data: InspectInput) -> Inspection:
        m3_side, bng_side = self._sides(data.entity)
        link = await asyncio.to_thread(self._link, data.entity, data.bng_key)
        with classified_errors():
            bng_raw = await bng_side.read(data.bng_key)
            m3_key = (
                data.link_to
                or (link.m3_key if link else None)
                or external_id(bng_side, bng_raw)
                or data.m3_key
                or implied_m3_key(data.entity, data.bng_key)
            )
            m3_raw = await m3_side.read(m3_key) if m3_key else None
            candidates: list[MatchCandidate] = []
            if m3_raw is None and link is None and bng_raw is not None and not data.create_new:
                candidates = await self._match(data.entity, m3_side, bng_raw)
                if len(candidates) == 1:
                    m3_key = candidates[0].m3_key
                    m3_raw = await m3_side.read(m3_key)
        if len(candidates) > 1:
            return Inspection(
                entity=data.entity,
                bng_key=data.bng_key,
                m3_key=None,
                plan=SyncPlan(action=PlanAction.NOTHING),
                candidates=candidates,
            )
        bng = m3 = None
        invalid: list[FieldError] = []
        if bng_raw is not None:
            projection = from_bng(data.entity, bng_raw, _context(data.entity, m3_key))
            bng, invalid = projection.values, projection.errors
        if m3_raw is not None:
            m3 = from_m3(data.entity, m3_raw)
        synced = dict(link.synced_state) if link and link.synced_state is not None else None
        if m3_key is None and bng is not None:
            m3_key = _new_m3_key(data.entity, data.bng_key)
        plan = plan_sync(
            entity_spec(data.entity),
            bng=bng,
            m3=m3,
            synced=synced,
            origin=data.origin,
            key_parts=key_parts(data.entity, data.bng_key),
            resolve=data.resolve,
        )
        return Inspection(
            entity=data.entity,
            bng_key=data.bng_key,
            m3_key=m3_key,
            plan=plan,
            bng=bng,
            m3=m3,
            synced=synced,
            version=link.version if link else None,
            invalid=invalid,
        )

    @activity.defn
    @auto_heartbeat
    async def create_record(self, data: ApplyInput) -> Applied:
        """Create the record on the side that lacks it, linked before it exists so that the
        event its creation causes finds the link and is recognised as an echo."""
        m3_side, bng_side = self._sides(data.entity)
        await asyncio.to_thread(self._link_keys, data.entity, data.bng_key, data.m3_key)
        with classified_errors():
            if data.plan.action is PlanAction.CREATE_IN_M3:
                bng_raw = await bng_side.read(data.bng_key) or {}
                await m3_side.create(data.m3_key, data.plan.to_m3, bng_raw)
                await self._set_external_id(bng_side, data.bng_key, bng_raw, data.m3_key)
                created, m3_fields, bng_fields = Side.M3, sorted(data.plan.to_m3), []
            elif data.plan.action is PlanAction.CREATE_IN_BNG:
                record = bng_record(data.entity, data.plan.desired)
                if record.errors:
                    raise _invalid(f"cannot create {data.entity} {data.bng_key} in BNG", record.errors)
                await bng_side.create(data.bng_key, data.m3_key, record.values)
                created, m3_fields, bng_fields = Side.BNG, [], sorted(data.plan.to_bng)
            else:
                raise ValueError(f"create_record cannot do {data.plan.action}")
        version = await asyncio.to_thread(self._record_synced, data, None)
        return Applied(m3_fields=m3_fields, bng_fields=bng_fields, created=created, version=version)

    @activity.defn
    @auto_heartbeat
    async def apply_plan(self, data: ApplyInput) -> Applied:
        """Write the plan's fields to M3 and BNG, then remember the new synced state."""
        m3_side, bng_side = self._sides(data.entity)
        plan = data.plan
        with classified_errors():
            if plan.to_m3:
                current = await m3_side.read(data.m3_key)
                await m3_side.change(
                    data.m3_key, plan.to_m3, plan.desired, from_m3(data.entity, current or {})
                )
            bng_raw = await bng_side.read(data.bng_key)
            if bng_raw is not None:
                changes: dict[str, Any] = {}
                if plan.to_bng:
                    projection = bng_changes(data.entity, plan.desired, set(plan.to_bng), bng_raw)
                    if projection.errors:
                        raise _invalid(
                            f"cannot update {data.entity} {data.bng_key} in BNG", projection.errors
                        )
                    changes.update(projection.values)
                if changes:
                    await bng_side.change(data.bng_key, changes)
                await self._set_external_id(bng_side, data.bng_key, bng_raw, data.m3_key)
        version = await asyncio.to_thread(self._record_synced, data, data.expected_version)
        return Applied(m3_fields=sorted(plan.to_m3), bng_fields=sorted(plan.to_bng), version=version)

    async def _match(
        self, entity: str, m3_side: M3Records, bng_raw: Mapping[str, Any]
    ) -> list[MatchCandidate]:
        """Existing M3 records the unlinked BNG record may be, on the first match group that finds any."""
        spec = entity_spec(entity)
        if not spec.match_on or not isinstance(m3_side, M3Customers):
            return []
        values = from_bng(entity, bng_raw).values
        for group in spec.match_on:
            criteria = {name: values.get(name, "") for name in group}
            if not all(criteria.values()):
                continue
            rows = await m3_side.search(criteria)
            linked = await asyncio.to_thread(self._linked_m3_keys, entity, [row["CUNO"] for row in rows])
            found = [
                MatchCandidate(m3_key=row["CUNO"], name=row.get("CUNM", ""), matched_on=list(group))
                for row in rows
                if row["CUNO"] not in linked
            ]
            if found:
                return found
        return []

    async def _set_external_id(
        self, bng_side: BngRecords, bng_key: str, bng_raw: Mapping[str, Any] | None, m3_key: str
    ) -> None:
        field = bng_side.external_id_field
        if field and bng_raw is not None and bng_raw.get(field) != m3_key:
            await bng_side.change(bng_key, {field: m3_key})

    # -- store ------------------------------------------------------------------------------

    def _link(self, entity: str, bng_key: str) -> xref.EntityLink | None:
        with self._c.sessions() as session:
            return xref.find_link(session, entity, cono=self._c.settings.m3_cono, bng_key=bng_key)

    def _link_keys(self, entity: str, bng_key: str, m3_key: str) -> None:
        try:
            with self._c.sessions.begin() as session:
                xref.link(session, entity, cono=self._c.settings.m3_cono, bng_key=bng_key, m3_key=m3_key)
        except xref.XrefConflictError as error:
            raise ApplicationError(str(error), type=BNG_BUSINESS_ERROR, non_retryable=True) from error

    def _linked_m3_keys(self, entity: str, m3_keys: list[str]) -> set[str]:
        with self._c.sessions() as session:
            return set(xref.links_by_m3_keys(session, entity, self._c.settings.m3_cono, m3_keys))

    def _record_synced(self, data: ApplyInput, expected_version: int | None) -> int:
        try:
            with self._c.sessions.begin() as session:
                row = xref.record_synced(
                    session,
                    data.entity,
                    cono=self._c.settings.m3_cono,
                    bng_key=data.bng_key,
                    m3_key=data.m3_key,
                    state=data.plan.desired,
                    expected_version=expected_version,
                )
                return row.version
        except xref.StaleSyncStateError as error:
            raise ApplicationError(str(error), type=STALE_SYNC_STATE, non_retryable=True) from error
        except xref.XrefConflictError as error:
            raise ApplicationError(str(error), type=BNG_BUSINESS_ERROR, non_retryable=True) from error


def _invalid(summary: str, errors: list[FieldError]) -> ApplicationError:
    detail = "; ".join(error.message for error in errors)
    return ApplicationError(
        f"{summary}: {detail}",
        [error.model_dump() for error in errors],
        type=INVALID_RECORD,
        non_retryable=True,
    )


def implied_m3_key(entity: str, bng_key: str) -> str | None:
    """Products and balances have the same key in both systems; records from M3 carry theirs."""
    if entity not in NEW_M3_KEY_PREFIX:
        return bng_key
    if bng_key.startswith(FROM_M3_PREFIX):
        return bng_key.removeprefix(FROM_M3_PREFIX)
    return None


def _new_m3_key(entity: str, bng_key: str) -> str:
    prefix = NEW_M3_KEY_PREFIX.get(entity)
    return deterministic_key(prefix, bng_key) if prefix else bng_key


# The map context field that carries the M3 key of a record m3bng numbers itself.
KEY_CONTEXT = {"customer": "CUNO", "supplier": "SUNO"}


def _context(entity: str, m3_key: str | None) -> dict[str, str]:
    return {KEY_CONTEXT[entity]: m3_key or ""} if entity in KEY_CONTEXT else {}


def key_parts(entity: str, bng_key: str) -> dict[str, str]:
    if entity != "inventory":
        return {}
    itno, whlo = split_inventory_key(bng_key)
    return {"ITNO": itno, "WHLO": whlo}
