"""What goes in and out of a master-data entity workflow: its workflow, activities and starters share it."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

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
    record an ambiguous match should link to, or a new record instead of any candidate.

    Without any of them it is a retry: look at both sides again (after fixing the cause, or
    once an outage is over). ``skip`` leaves the record as it is until its next change; ``note``
    says why, and is required then.
    """

    winner: Side | None = None
    link_to: str | None = None
    create_new: bool = False
    skip: bool = False
    note: str = ""


AttentionKind = Literal[
    "conflict",  # both sides changed a shared field: an operator picks the winner
    "ambiguous-match",  # several M3 records match: link one or create a new one
    "invalid_record",  # it cannot be mapped or validated: the field errors
    "m3_business_error",  # M3 refused a transaction (NOK): its code, field and message
    "bng_business_error",  # BNG refused a call (4xx)
    "outage",  # M3 or BNG stayed unreachable for the whole retry window
    "unexpected",  # any other failure retrying cannot fix: a defect to report, with its message
]
# Names used before the failure classes matched the order workflow's; carried-over state may have them.
_LEGACY_KINDS = {
    "invalid-record": "invalid_record",
    "m3-rejected": "m3_business_error",
    "bng-rejected": "bng_business_error",
}


class SyncAttention(BaseModel):
    kind: AttentionKind
    summary: str
    # What failed, for failures: the activity, the error type and its details (M3 code, field...).
    data: dict[str, Any] = Field(default_factory=dict)
    conflicts: list[FieldConflict] = Field(default_factory=list)
    candidates: list[dict[str, object]] = Field(default_factory=list)
    errors: list[FieldError] = Field(default_factory=list)
    # Both versions, for a conflict: what BNG and M3 hold now and what was last synced.
    bng: Canonical | None = None
    m3: Canonical | None = None
    synced: Canonical | None = None
    since: datetime | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _legacy_kind(cls, kind: object) -> object:
        return _LEGACY_KINDS.get(kind, kind) if isinstance(kind, str) else kind


class SyncOutcome(BaseModel):
    outcome: Literal[
        "in-sync", "echo", "updated", "created", "deactivated", "parked", "skipped", "failed", "nothing"
    ]
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
    # How long a call to M3 or BNG is retried before the record parks as an outage.
    retry_window: timedelta = timedelta(hours=12)
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
