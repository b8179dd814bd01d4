"""Push what became of a journal in M3 back to BNG: Posted (with KEY1 and voucher), OnHold, Rejected."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import change_once
from activities.heartbeat import auto_heartbeat
from clients.bng.models import JournalStatus, JournalStatusUpdate

# BNG keeps StatusReason as a text of its own; a longer reason is cut, the rest is in m3bng.
MAX_REASON = 250


class PushJournalStatusInput(BaseModel):
    bng_id: str
    status: JournalStatus
    external_id: str | None = None
    # None leaves BNG's reason as it is; "" clears an earlier hold's reason.
    reason: str | None = None


class BngJournalActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def push_journal_status_to_bng(self, data: PushJournalStatusInput) -> bool:
        """True once BNG holds the status (whether this call or an earlier one set it)."""
        update = JournalStatusUpdate(
            Status=data.status,
            ExternalID=data.external_id,
            StatusReason=data.reason[:MAX_REASON] if data.reason is not None else None,
        )
        wanted = update.model_dump(mode="json", exclude_none=True)
        with classified_errors():
            await change_once(
                f"BNG journal {data.bng_id} status {data.status.value}",
                read=lambda: self._journal(data.bng_id),
                wanted=wanted,
                write=lambda: self._c.bng.set_journal_status(data.bng_id, update),
            )
        return True

    async def _journal(self, journal_id: str) -> dict[str, Any]:
        journal = await self._c.bng.get_journal(journal_id)
        return journal.model_dump(mode="json")
