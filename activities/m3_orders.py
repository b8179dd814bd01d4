"""Create the M3 customer order with OIS100MI batch entry, idempotently, and undo it when needed.

Every step first looks for what an earlier attempt may already have done (by the BNG order id,
which travels as the customer's order number CUOR), so retries and worker crashes never create
a second order.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import first_attempt, write_once
from activities.heartbeat import auto_heartbeat
from clients.m3.client import M3Transaction
from clients.m3.errors import M3BusinessError
from storage import xref


class AddOrderHeadInput(BaseModel):
    bng_order_id: str
    cuno: str
    head: dict[str, str]


class OrderHead(BaseModel):
    temporary_order_number: str | None = None
    order_number: str | None = Field(default=None, description="Set when the order was already confirmed")


class AddOrderLinesInput(BaseModel):
    temporary_order_number: str
    lines: list[dict[str, str]]


class ConfirmOrderInput(BaseModel):
    bng_order_id: str
    cuno: str
    temporary_order_number: str


class DeleteBatchOrderInput(BaseModel):
    cuno: str
    cuor: str
    temporary_order_number: str


class M3OrderActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def add_m3_order_head(self, data: AddOrderHeadInput) -> OrderHead:
        cuno, cuor = data.cuno, data.bng_order_id

        async def find() -> OrderHead | None:
            confirmed = await self._confirmed_order(cuno, cuor)
            if confirmed:
                return OrderHead(order_number=confirmed)
            pending = await self._batch_heads(cuno, cuor)
            if not pending:
                return None
            # Heads beyond the first were left by writes resent blindly (before this protocol).
            for orphan in pending[1:]:
                await self._c.m3.execute("OIS100MI", "DelBatchHead", {"ORNO": orphan}, write=True)
            return OrderHead(temporary_order_number=pending[0])

        async def add() -> OrderHead:
            record = {**data.head, "CUNO": cuno, "CUOR": cuor}
            head = await self._c.m3.get_one("OIS100MI", "AddBatchHead", record, write=True)
            return OrderHead(temporary_order_number=head["ORNO"])

        what = f"OIS100MI/AddBatchHead CUOR {cuor}"
        with classified_errors():
            first = await first_attempt(self._c.sessions, what)
            head = await write_once(what, find=find, write=add, look_first=not first)
        if head.temporary_order_number:
            await asyncio.to_thread(self._link, cuor, head.temporary_order_number, None)
        return head

    @activity.defn
    @auto_heartbeat
    async def add_m3_order_lines(self, data: AddOrderLinesInput) -> int:
        """Add the lines an earlier attempt did not add; return how many lines the batch order has."""
        temp = data.temporary_order_number
        missing = list(data.lines)

        async def find() -> int | None:
            nonlocal missing
            existing = await self._c.m3.execute("OIS100MI", "LstBatchLine", {"ORNO": temp}, maxrecs=0)
            present = {row.get("PONR", "").lstrip("0") for row in existing}
            missing = [line for line in data.lines if line.get("PONR", "").lstrip("0") not in present]
            return None if missing else len(data.lines)

        async def add() -> int:
            transactions = [M3Transaction("AddBatchLine", {**line, "ORNO": temp}) for line in missing]
            results = await self._c.m3.bulk("OIS100MI", transactions, write=True)
            failed = [r.error for r in results if r.error is not None]
            if failed:
                raise _one_error(failed)
            return len(data.lines)

        what = f"OIS100MI/AddBatchLine ORNO {temp}"
        with classified_errors():
            first = await first_attempt(self._c.sessions, what)
            return await write_once(what, find=find, write=add, look_first=not first)

    @activity.defn
    @auto_heartbeat
    async def confirm_m3_order(self, data: ConfirmOrderInput) -> str:
        async def find() -> str | None:
            return await self._confirmed_order(data.cuno, data.bng_order_id)

        async def confirm() -> str:
            confirmed = await self._c.m3.get_one(
                "OIS100MI", "Confirm", {"ORNO": data.temporary_order_number}, write=True
            )
            return confirmed["ORNO"]

        what = f"OIS100MI/Confirm CUOR {data.bng_order_id}"
        with classified_errors():
            first = await first_attempt(self._c.sessions, what)
            # Any refusal may mean an earlier attempt confirmed it (the batch is gone): look by CUOR.
            orno = await write_once(what, find=find, write=confirm, done_codes=None, look_first=not first)
        await asyncio.to_thread(self._link, data.bng_order_id, data.temporary_order_number, orno)
        return orno

    @activity.defn
    @auto_heartbeat
    async def delete_m3_batch_order(self, data: DeleteBatchOrderInput) -> bool:
        """Compensation: remove a batch order that can no longer be confirmed. True if it was deleted."""
        temp = data.temporary_order_number

        async def gone() -> bool | None:
            return True if temp not in await self._batch_heads(data.cuno, data.cuor) else None

        async def delete() -> bool:
            await self._c.m3.execute("OIS100MI", "DelBatchHead", {"ORNO": temp}, write=True)
            return True

        with classified_errors():
            if await gone():
                return False
            return await write_once(
                f"OIS100MI/DelBatchHead ORNO {temp}",
                find=gone,
                write=delete,
                done_codes=None,
                look_first=False,
            )

    async def _confirmed_order(self, cuno: str, cuor: str) -> str | None:
        linked = await asyncio.to_thread(self._linked_order, cuor)
        if linked:
            return linked
        rows = await self._c.m3.execute("OIS100MI", "LstHead", {"CUNO": cuno}, maxrecs=0)
        return next((row["ORNO"] for row in rows if row.get("CUOR") == cuor), None)

    async def _batch_heads(self, cuno: str, cuor: str) -> list[str]:
        rows = await self._c.m3.execute("OIS100MI", "LstBatchHead", {"CUNO": cuno, "CUOR": cuor}, maxrecs=0)
        return [row["ORNO"] for row in rows if row.get("CUOR") == cuor]

    def _linked_order(self, bng_order_id: str) -> str | None:
        with self._c.sessions() as session:
            link = xref.find_order_by_bng(session, bng_order_id)
            return link.m3_orno if link else None

    def _link(self, bng_order_id: str, temp: str | None, orno: str | None) -> None:
        # to_thread carries the activity context, so the running workflow's id is at hand.
        workflow_id = activity.info().workflow_id or ""
        with self._c.sessions() as session:
            xref.link_order(
                session,
                bng_order_id=bng_order_id,
                cono=self._c.settings.m3_cono,
                workflow_id=workflow_id,
                temp_orno=temp,
                orno=orno,
            )
            session.commit()


def _one_error(failed: list[M3BusinessError]) -> M3BusinessError:
    """The first failure names M3's code and field; the rest are in the message."""
    first = failed[0]
    if len(failed) == 1:
        return first
    others = "; ".join(f"{e.code}: {e.message}" for e in failed[1:])
    return M3BusinessError(
        program=first.program,
        transaction=first.transaction,
        code=first.code,
        field=first.field,
        message=f"{first.message} (and {len(failed) - 1} more: {others})",
    )
