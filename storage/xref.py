"""Repository functions for the cross-reference store.

Every function takes a ``Session`` and only flushes: the caller owns the transaction, e.g.
``with session_factory.begin() as session: link(session, "customer", cono=100, ...)``.

Master data (customers, items, suppliers, inventory balances) shares one table, ``entity_link``:
``entity`` says what kind of record a link is about, so every entity links the same way.

Inserts that can race run inside a savepoint. When another transaction wins the race, the
unique constraint raises, the savepoint alone is rolled back, and the winner's row is re-read,
so the caller's transaction stays usable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    EntityLink,
    OrderXref,
    RunStatus,
    SyncRun,
    utcnow,
)


class XrefConflictError(Exception):
    """One side of a link is already linked to something else."""


class StaleSyncStateError(Exception):
    """The link was synced by someone else since the caller read it (its version moved on)."""


# --- links between BNG and M3 records, for every entity ---------------------------------------


def find_link(
    session: Session,
    entity: str,
    *,
    cono: int,
    bng_key: str | None = None,
    m3_key: str | None = None,
) -> EntityLink | None:
    """The link of one BNG or one M3 record (give exactly one key) within M3 company ``cono``."""
    if bng_key is not None and m3_key is None:
        row = _link_by_bng(session, entity, bng_key)
        return row if row is not None and row.m3_cono == cono else None
    if m3_key is not None and bng_key is None:
        return _link_by_m3(session, entity, cono, m3_key)
    raise ValueError("find_link needs exactly one of bng_key and m3_key")


def link(session: Session, entity: str, *, cono: int, bng_key: str, m3_key: str) -> EntityLink:
    """Link a BNG record to an M3 record; linking the same pair again returns the same row.

    Raises XrefConflictError if either side is already linked to something else.
    """
    existing = _existing_link(session, entity, bng_key, cono, m3_key)
    if existing is not None:
        return existing
    row = EntityLink(entity=entity, bng_key=bng_key, m3_cono=cono, m3_key=m3_key, version=0)
    try:
        with session.begin_nested():
            session.add(row)
        return row
    except IntegrityError:
        # A concurrent transaction linked one of the two sides first; judge its row instead.
        existing = _existing_link(session, entity, bng_key, cono, m3_key)
        if existing is None:
            raise
        return existing


def links_by_m3_keys(
    session: Session, entity: str, cono: int, m3_keys: Sequence[str]
) -> dict[str, EntityLink]:
    """The links of a page of M3 records, by M3 key; unlinked keys are absent. One query."""
    keys = _distinct_keys(m3_keys)
    if not keys:
        return {}
    rows = session.scalars(
        select(EntityLink).where(
            EntityLink.entity == entity, EntityLink.m3_cono == cono, EntityLink.m3_key.in_(keys)
        )
    )
    return {row.m3_key: row for row in rows}


def links_by_bng_keys(
    session: Session, entity: str, cono: int, bng_keys: Sequence[str]
) -> dict[str, EntityLink]:
    """The links of a page of BNG records, by BNG key; unlinked keys are absent. One query."""
    keys = _distinct_keys(bng_keys)
    if not keys:
        return {}
    rows = session.scalars(
        select(EntityLink).where(
            EntityLink.entity == entity, EntityLink.m3_cono == cono, EntityLink.bng_key.in_(keys)
        )
    )
    return {row.bng_key: row for row in rows}


# --- last synced state --------------------------------------------------------------------------


def record_synced(
    session: Session,
    entity: str,
    *,
    cono: int,
    bng_key: str,
    m3_key: str,
    state: Mapping[str, str],
    expected_version: int | None = None,
) -> EntityLink:
    """Remember ``state`` as what both systems now hold; links the pair first if needed.

    Every call increments ``version``. With ``expected_version`` (the version the caller read
    before deciding what to write), raises StaleSyncStateError if another sync came in between.
    """
    linked = link(session, entity, cono=cono, bng_key=bng_key, m3_key=m3_key)
    # Re-read under a row lock so the version check and the increment see the committed row, not
    # this session's cached copy. FOR UPDATE on PostgreSQL; SQLite renders nothing, as its
    # BEGIN IMMEDIATE already holds the database's write lock for the whole transaction.
    row = session.scalars(
        select(EntityLink)
        .where(EntityLink.id == linked.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if expected_version is not None and row.version != expected_version:
        raise StaleSyncStateError(
            f"{entity} {bng_key!r} <-> {cono}/{m3_key} is at version {row.version}, "
            f"not {expected_version}: it was synced by someone else in between"
        )
    snapshot = dict(state)
    row.synced_state = snapshot
    row.synced_at = utcnow()
    row.version += 1
    session.flush()
    return row


class LinkedPair(NamedTuple):
    """What a reconciliation page needs of a link, read without loading ORM objects."""

    bng_key: str
    m3_key: str
    synced_state: dict[str, str] | None


def pairs_by_keys(
    session: Session, entity: str, cono: int, *, m3_keys: Sequence[str] = (), bng_keys: Sequence[str] = ()
) -> list[LinkedPair]:
    """The links of a page of M3 or BNG records (give one list of keys), columns only: one query."""
    column, keys = (EntityLink.m3_key, m3_keys) if m3_keys else (EntityLink.bng_key, bng_keys)
    wanted = _distinct_keys(keys)
    if not wanted:
        return []
    rows = session.execute(
        select(EntityLink.bng_key, EntityLink.m3_key, EntityLink.synced_state).where(
            EntityLink.entity == entity, EntityLink.m3_cono == cono, column.in_(wanted)
        )
    )
    return [LinkedPair(bng_key, m3_key, state) for bng_key, m3_key, state in rows]


@dataclass(frozen=True)
class NewLink:
    """A pair a bulk load just made equal on both sides, and the state they now share."""

    bng_key: str
    m3_key: str
    state: Mapping[str, str]


def link_new_synced(session: Session, entity: str, cono: int, links: Sequence[NewLink]) -> set[str]:
    """Link many pairs as synced in one transaction, each only if NEITHER side is linked yet;
    returns the BNG keys linked now. A record that is linked already belongs to whoever linked it
    (its entity workflow, an earlier attempt): it is left exactly as it is, never overwritten."""
    if not links:
        return set()
    # Not filtered by company, like _link_by_bng: a BNG record has one link, whatever company.
    taken_bng = set(
        session.scalars(
            select(EntityLink.bng_key).where(
                EntityLink.entity == entity,
                EntityLink.bng_key.in_(_distinct_keys([r.bng_key for r in links])),
            )
        )
    )
    taken_m3 = {
        pair.m3_key for pair in pairs_by_keys(session, entity, cono, m3_keys=[r.m3_key for r in links])
    }
    now = utcnow()
    fresh = [row for row in links if row.bng_key not in taken_bng and row.m3_key not in taken_m3]
    rows = [
        {
            "entity": entity,
            "bng_key": row.bng_key,
            "m3_cono": cono,
            "m3_key": row.m3_key,
            "synced_state": dict(row.state),
            "synced_at": now,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for row in fresh
    ]
    if not rows:
        return set()
    try:
        with session.begin_nested():
            session.execute(insert(EntityLink), rows)
        return {row.bng_key for row in fresh}
    except IntegrityError:
        pass
    # A concurrent transaction (an entity workflow) linked one of them meanwhile: one at a time.
    linked: set[str] = set()
    for row in rows:
        try:
            with session.begin_nested():
                session.execute(insert(EntityLink), [row])
            linked.add(str(row["bng_key"]))
        except IntegrityError:
            continue
    return linked


# --- reconciliation runs ------------------------------------------------------------------------


def start_run(session: Session, entity: str, trigger: str) -> SyncRun:
    run = SyncRun(
        entity=entity,
        trigger=trigger,
        started_at=utcnow(),
        status=RunStatus.RUNNING.value,
        counts={},
        differences=[],
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: RunStatus | str,
    counts: Mapping[str, int],
    differences: Sequence[Mapping[str, Any]],
    error: str | None = None,
) -> SyncRun:
    """Close a run as completed or failed with its report. ``differences`` is stored as given,
    so the caller caps it."""
    final = RunStatus(status)
    if final is RunStatus.RUNNING:
        raise ValueError("a run finishes as completed or failed, not running")
    run = session.get(SyncRun, run_id)
    if run is None:
        raise LookupError(f"no sync run {run_id}")
    run.status = final.value
    run.finished_at = utcnow()
    run.counts = dict(counts)
    run.differences = [dict(difference) for difference in differences]
    run.error = error
    session.flush()
    return run


def latest_runs(session: Session, entity: str | None = None, limit: int = 10) -> list[SyncRun]:
    """The most recently started runs first, of one entity or of all."""
    query = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(SyncRun.entity == entity)
    return list(session.scalars(query))


# --- orders and events --------------------------------------------------------------------------


def find_order_by_bng(session: Session, bng_order_id: str) -> OrderXref | None:
    return session.scalars(select(OrderXref).where(OrderXref.bng_order_id == bng_order_id)).one_or_none()


def find_order_by_m3(session: Session, cono: int, orno: str) -> OrderXref | None:
    return session.scalars(
        select(OrderXref).where(OrderXref.m3_cono == cono, OrderXref.m3_orno == orno)
    ).one_or_none()


def link_order(
    session: Session,
    *,
    bng_order_id: str,
    cono: int,
    workflow_id: str,
    temp_orno: str | None = None,
    orno: str | None = None,
) -> OrderXref:
    """Create or update the link of a BNG order. None leaves a stored order number as it is.

    Raises XrefConflictError if the order belongs to another company, already has a different
    final ORNO, or if ``orno`` is linked to another BNG order.
    """
    if orno is not None:
        owner = find_order_by_m3(session, cono, orno)
        if owner is not None and owner.bng_order_id != bng_order_id:
            raise XrefConflictError(
                f"M3 order {cono}/{orno} is already linked to BNG order {owner.bng_order_id!r}"
            )
    row = find_order_by_bng(session, bng_order_id)
    if row is None:
        row = OrderXref(
            bng_order_id=bng_order_id,
            m3_cono=cono,
            workflow_id=workflow_id,
            m3_temp_orno=temp_orno,
            m3_orno=orno,
        )
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            row = find_order_by_bng(session, bng_order_id)
            if row is None:
                # Not our key that collided: the ORNO was linked concurrently to another order.
                raise XrefConflictError(
                    f"M3 order {cono}/{orno} was linked concurrently to another BNG order"
                ) from None
    _update_order(row, cono=cono, workflow_id=workflow_id, temp_orno=temp_orno, orno=orno)
    session.flush()
    return row


def _existing_link(session: Session, entity: str, bng_key: str, cono: int, m3_key: str) -> EntityLink | None:
    """The row for exactly this pair, None if neither side is linked, or a conflict."""
    by_bng = _link_by_bng(session, entity, bng_key)
    if by_bng is not None:
        if (by_bng.m3_cono, by_bng.m3_key) != (cono, m3_key):
            raise XrefConflictError(
                f"BNG {entity} {bng_key!r} is already linked to M3 {entity} "
                f"{by_bng.m3_cono}/{by_bng.m3_key}, not {cono}/{m3_key}"
            )
        return by_bng
    by_m3 = _link_by_m3(session, entity, cono, m3_key)
    if by_m3 is not None and by_m3.bng_key == bng_key:
        return by_m3  # committed by a concurrent transaction between the two reads
    if by_m3 is not None:
        raise XrefConflictError(
            f"M3 {entity} {cono}/{m3_key} is already linked to BNG {entity} {by_m3.bng_key!r}, "
            f"not {bng_key!r}"
        )
    return None


def _link_by_bng(session: Session, entity: str, bng_key: str) -> EntityLink | None:
    # Not filtered by company: a BNG record has one link, whichever company it points to.
    return session.scalars(
        select(EntityLink).where(EntityLink.entity == entity, EntityLink.bng_key == bng_key)
    ).one_or_none()


def _link_by_m3(session: Session, entity: str, cono: int, m3_key: str) -> EntityLink | None:
    return session.scalars(
        select(EntityLink).where(
            EntityLink.entity == entity, EntityLink.m3_cono == cono, EntityLink.m3_key == m3_key
        )
    ).one_or_none()


def _distinct_keys(keys: Sequence[str]) -> list[str]:
    if isinstance(keys, str):
        raise TypeError("expected a sequence of keys, not one string")
    return sorted(set(keys))


def _update_order(
    row: OrderXref, *, cono: int, workflow_id: str, temp_orno: str | None, orno: str | None
) -> None:
    if row.m3_cono != cono:
        raise XrefConflictError(
            f"BNG order {row.bng_order_id!r} belongs to M3 company {row.m3_cono}, not {cono}"
        )
    if orno is not None and row.m3_orno not in (None, orno):
        raise XrefConflictError(
            f"BNG order {row.bng_order_id!r} is already linked to M3 order {row.m3_orno}, not {orno}"
        )
    # A restarted workflow takes over the order; the newest id is the one to signal.
    row.workflow_id = workflow_id
    if temp_orno is not None:
        row.m3_temp_orno = temp_orno
    if orno is not None:
        row.m3_orno = orno
