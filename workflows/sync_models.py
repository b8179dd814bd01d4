"""What goes in and out of a master-data entity workflow."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from mapping.engine import FieldError
from mapping.ownership import Canonical, FieldConflict, Side

ENTITIES = ("customer", "product", "supplier", "inventory")


def entity_workflow_id(entity: str, bng_key: str) -> str:
    """One workflow per record, named by its BNG key: "customer-CUST-0001", "inventory-SKU/100"."""
    return f"{entity}-{bng_key}"


class SyncState(StrEnum):
    SYNCING = "Syncing"
    IN_SYNC = "InSync"
    NEEDS_ATTENTION = "NeedsAttention"


class RecordChanged(BaseModel):
    """A record changed on one side (a webhook, a BOD) or may differ (reconciliation)."""

    origin: Side | None = None
    m3_key: str | None = None
    event_id: str = ""
    reason: str = ""


class Resolution(BaseModel):
    """An operator's decision for a parked record: the winner of conflicting fields, the M3
    record an ambiguous match should link to, or a new record instead of any candidate."""

    winner: Side | None = None
    link_to: str | None = None
    create_new: bool = False
    note: str = ""


class SyncAttention(BaseModel):
    kind: Literal["conflict", "ambiguous-match", "invalid-record", "m3-rejected", "bng-rejected"]
    summary: str
    conflicts: list[FieldConflict] = Field(default_factory=list)
    candidates: list[dict[str, object]] = Field(default_factory=list)
    errors: list[FieldError] = Field(default_factory=list)
    # Both versions, for a conflict: what BNG and M3 hold now and what was last synced.
    bng: Canonical | None = None
    m3: Canonical | None = None
    synced: Canonical | None = None
    since: datetime | None = None


class SyncOutcome(BaseModel):
    outcome: Literal["in-sync", "echo", "updated", "created", "deactivated", "parked", "failed", "nothing"]
    m3_fields: list[str] = Field(default_factory=list)
    bng_fields: list[str] = Field(default_factory=list)
    not_owned: list[str] = Field(default_factory=list)
    detail: str = ""


class SyncStep(BaseModel):
    at: datetime
    trigger: str
    outcome: str
    detail: str = ""


class EntitySyncInput(BaseModel):
    entity: str
    bng_key: str
    m3_key: str | None = None
    idle_minutes: float = 30.0
    # Continue as new after this many changes, even if Temporal does not suggest it yet.
    changes_per_run: int = 500
    # Carried over by continue-as-new.
    pending: list[RecordChanged] = Field(default_factory=list)
    attention: SyncAttention | None = None
    changes_seen: int = 0
    history: list[SyncStep] = Field(default_factory=list)


class EntitySyncView(BaseModel):
    entity: str
    bng_key: str
    m3_key: str | None
    state: SyncState
    attention: SyncAttention | None
    pending: int
    changes_seen: int
    history: list[SyncStep]
