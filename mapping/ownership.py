"""Who owns which field of a master-data record, and what a two-way sync must do about it.

Both systems are compared in one *canonical* form: the M3 field names and M3-formatted text of
the fields declared in ``maps/ownership.yaml``. A BNG record reaches that form through the
entity's ``<entity>.bng_to_m3`` map; an M3 record is already in it. The last state m3bng synced
to both sides is kept in the cross-reference store, so for every field we know whether BNG, M3
or both changed it since, and ``plan_sync`` decides, without any I/O, what to write where.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mapping.engine import FieldError, apply_mapping
from mapping.loader import OWNERSHIP_FILE, load_declared, load_lookups, load_mapping
from mapping.spec import MappingSpecError, SpecModel
from mapping.values import as_text, to_m3_number

Canonical = dict[str, str]


class Side(StrEnum):
    BNG = "bng"
    M3 = "m3"


class Owner(StrEnum):
    BNG = "bng"
    M3 = "m3"
    BOTH = "both"


class FieldOwnership(SpecModel):
    owner: Owner
    type: Literal["A", "N"] = "A"
    # Only for owner "both": what happens when both sides changed the field since the last sync.
    conflict: Literal["park", "bng", "m3"] = "park"
    description: str = ""


class OwnerOverride(SpecModel):
    """A different owner for some fields of the records whose key part is one of ``values``."""

    key_part: str
    values: list[str] = Field(min_length=1)
    owner: Owner
    fields: list[str] = Field(min_length=1)
    description: str = ""


class EntitySyncSpec(SpecModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    description: str = ""
    fields: dict[str, FieldOwnership] = Field(min_length=1)
    # Values written to M3 when the BNG record is deleted: a deactivation, never a hard delete.
    deactivate_in_m3: dict[str, str] = Field(default_factory=dict)
    # Values written to BNG when the M3 record is deactivated is just the mapped STAT; a record
    # missing in M3 is never deleted in BNG.
    create_in_m3: bool = True
    create_in_bng: bool = True
    # Deduplication: an unlinked BNG record is matched to an M3 record on the first of these
    # field groups that finds anything; all fields of a group must be equal and non-empty.
    match_on: list[list[str]] = Field(default_factory=list)
    overrides: list[OwnerOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_fields(self) -> EntitySyncSpec:
        named = {name for group in self.match_on for name in group}
        named |= {name for override in self.overrides for name in override.fields}
        named |= set(self.deactivate_in_m3)
        unknown = sorted(named - set(self.fields))
        if unknown:
            raise ValueError(f"names fields that are not declared under 'fields': {', '.join(unknown)}")
        return self

    def owner_of(self, field: str, key_parts: Mapping[str, str]) -> Owner:
        for override in self.overrides:
            if field in override.fields and key_parts.get(override.key_part) in override.values:
                return override.owner
        return self.fields[field].owner


class OwnershipSpec(SpecModel):
    entities: dict[str, EntitySyncSpec]


@cache
def load_ownership() -> OwnershipSpec:
    return load_declared(OWNERSHIP_FILE, OwnershipSpec)


def entity_spec(entity: str) -> EntitySyncSpec:
    specs = load_ownership().entities
    if entity not in specs:
        raise MappingSpecError(f"no ownership declared for {entity!r} (known: {', '.join(sorted(specs))})")
    return specs[entity]


# -- canonical form ----------------------------------------------------------------------------


class Projection(BaseModel):
    """A record in canonical form, or the reasons it cannot be put into it."""

    values: Canonical = Field(default_factory=dict)
    errors: list[FieldError] = Field(default_factory=list)


class BngValues(BaseModel):
    """BNG fields (objects such as addresses nested) made from canonical values, or why not."""

    values: dict[str, Any] = Field(default_factory=dict)
    errors: list[FieldError] = Field(default_factory=list)


def normalize(spec: EntitySyncSpec, values: Mapping[str, Any]) -> Canonical:
    """The declared fields of ``values`` as canonical text; a missing field is ""."""
    result: Canonical = {}
    for name, rule in spec.fields.items():
        text = as_text(values.get(name)).strip()
        # A non-number is left as it is: it differs from any number, so it shows as a difference.
        if rule.type == "N" and text:
            with contextlib.suppress(ValueError):
                text = to_m3_number(text)
        result[name] = text
    return result


def from_bng(entity: str, record: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> Projection:
    """A BNG record (``model_dump(mode="json")``) in canonical form, through ``<entity>.bng_to_m3``."""
    spec = entity_spec(entity)
    mapped = apply_mapping(
        load_mapping(f"{entity}.bng_to_m3"), record, context=context or {}, lookups=load_lookups()
    )
    errors = [error for error in mapped.errors if error.field in spec.fields]
    return Projection(values=normalize(spec, mapped.values), errors=errors)


def from_m3(entity: str, record: Mapping[str, Any]) -> Canonical:
    return normalize(entity_spec(entity), record)


def bng_changes(
    entity: str, desired: Mapping[str, str], fields: set[str], current: Mapping[str, Any]
) -> BngValues:
    """The BNG fields to change so that ``fields`` of BNG's canonical form become ``desired``.

    Only the rules of ``<entity>.m3_to_bng`` that read one of ``fields`` are applied, so a BNG
    field derived from nothing that changed is never touched. Nested objects (addresses) are sent
    whole, merged into the current one, because BNG replaces an object it is sent.
    """
    spec = load_mapping(f"{entity}.m3_to_bng")
    targets = {rule.target for rule in spec.fields if fields & set(rule.paths())}
    if not targets:
        return BngValues()
    mapped = apply_mapping(spec, desired, lookups=load_lookups())
    flat = {target: mapped.values.get(target) for target in targets}
    errors = [error for error in mapped.errors if error.field in targets]
    return BngValues(values=_nest(flat, current), errors=errors)


def bng_record(entity: str, desired: Mapping[str, str]) -> BngValues:
    """A whole BNG record made from canonical values, for creating it in BNG."""
    mapped = apply_mapping(load_mapping(f"{entity}.m3_to_bng"), desired, lookups=load_lookups())
    return BngValues(values=_nest(dict(mapped.values), {}), errors=mapped.errors)


def _nest(flat: Mapping[str, str | None], current: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for target, value in flat.items():
        head, _, rest = target.partition(".")
        if not rest:
            nested[head] = value
            continue
        if head not in nested:
            existing = current.get(head)
            nested[head] = dict(existing) if isinstance(existing, Mapping) else {}
        nested[head][rest] = value
    return nested


# -- the plan ---------------------------------------------------------------------------------


class PlanAction(StrEnum):
    IN_SYNC = "in-sync"
    UPDATE = "update"
    CREATE_IN_M3 = "create-in-m3"
    CREATE_IN_BNG = "create-in-bng"
    DEACTIVATE_IN_M3 = "deactivate-in-m3"
    CONFLICT = "conflict"
    NOTHING = "nothing"  # neither side has the record


class FieldConflict(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    synced: str | None
    bng: str
    m3: str


class SyncPlan(BaseModel):
    action: PlanAction
    # Canonical fields to write, with their new value.
    to_m3: Canonical = Field(default_factory=dict)
    to_bng: Canonical = Field(default_factory=dict)
    conflicts: list[FieldConflict] = Field(default_factory=list)
    # Changed on a side that does not own them: not propagated, the owner's value is restored.
    not_owned: list[str] = Field(default_factory=list)
    # The canonical state both sides hold once the writes are done: the next synced state.
    desired: Canonical = Field(default_factory=dict)
    # The side that reported the change still holds exactly the last synced state.
    echo: bool = False

    @property
    def writes(self) -> bool:
        return bool(self.to_m3 or self.to_bng)


def plan_sync(
    spec: EntitySyncSpec,
    *,
    bng: Canonical | None,
    m3: Canonical | None,
    synced: Canonical | None,
    origin: Side | None = None,
    key_parts: Mapping[str, str] | None = None,
    resolve: Side | None = None,
) -> SyncPlan:
    """Decide what to write so that both sides agree, field by field, by ownership.

    ``origin`` is the side whose event triggered the sync (None for reconciliation); on a first
    sync of two existing records it wins the fields owned by both. ``resolve`` forces the winner
    of every conflicting field: an operator's decision.
    """
    key_parts = key_parts or {}
    if bng is None and m3 is None:
        return SyncPlan(action=PlanAction.NOTHING)
    if m3 is None:
        assert bng is not None
        return _create(spec.create_in_m3, PlanAction.CREATE_IN_M3, bng, to_m3=True)
    if bng is None:
        if synced is not None:
            return _deactivate(spec, m3)
        return _create(spec.create_in_bng, PlanAction.CREATE_IN_BNG, m3, to_m3=False)

    to_m3: Canonical = {}
    to_bng: Canonical = {}
    conflicts: list[FieldConflict] = []
    not_owned: list[str] = []
    desired: Canonical = {}
    for name in spec.fields:
        b, m = bng.get(name, ""), m3.get(name, "")
        s = synced.get(name) if synced is not None else None
        owner = spec.owner_of(name, key_parts)
        value: str | None
        if owner is Owner.BNG:
            # Never synced yet (a new link): a blank never wipes out the other side's value.
            value = b if (b or synced is not None) else m
            if s is not None and m != s and m != b:
                not_owned.append(name)
        elif owner is Owner.M3:
            value = m if (m or synced is not None) else b
            if s is not None and b != s and b != m:
                not_owned.append(name)
        else:
            value = _both(spec.fields[name].conflict, b, m, s, origin, resolve)
            if value is None:
                conflicts.append(FieldConflict(field=name, synced=s, bng=b, m3=m))
                continue
        desired[name] = value
        if value != m:
            to_m3[name] = value
        if value != b:
            to_bng[name] = value
    echo = synced is not None and origin is not None and (bng if origin is Side.BNG else m3) == synced
    if conflicts:
        return SyncPlan(
            action=PlanAction.CONFLICT, conflicts=conflicts, not_owned=not_owned, desired=desired, echo=echo
        )
    action = PlanAction.UPDATE if (to_m3 or to_bng) else PlanAction.IN_SYNC
    return SyncPlan(
        action=action, to_m3=to_m3, to_bng=to_bng, not_owned=not_owned, desired=desired, echo=echo
    )


def _both(rule: str, b: str, m: str, s: str | None, origin: Side | None, resolve: Side | None) -> str | None:
    """The value of a field both sides own; None for a conflict to park."""
    if b == m:
        return b
    if s is not None:
        if m == s:
            return b  # only BNG changed it
        if b == s:
            return m  # only M3 changed it
    winner = resolve or (Side(rule) if rule != "park" else None)
    if winner is None and s is None:
        winner = origin  # first sync of two existing records: the side that spoke last wins
    if winner is None:
        return None
    return b if winner is Side.BNG else m


def _create(allowed: bool, action: PlanAction, values: Canonical, *, to_m3: bool) -> SyncPlan:
    if not allowed:
        return SyncPlan(action=PlanAction.NOTHING)
    if to_m3:
        return SyncPlan(action=action, to_m3=dict(values), desired=dict(values))
    return SyncPlan(action=action, to_bng=dict(values), desired=dict(values))


def _deactivate(spec: EntitySyncSpec, m3: Canonical) -> SyncPlan:
    changes = {name: value for name, value in spec.deactivate_in_m3.items() if m3.get(name) != value}
    desired = {**m3, **spec.deactivate_in_m3}
    if not changes:
        return SyncPlan(action=PlanAction.IN_SYNC, desired=desired)
    return SyncPlan(action=PlanAction.DEACTIVATE_IN_M3, to_m3=changes, desired=desired)
