"""Create, change and cancel M3 purchase orders exactly once (PPS370MI batch entry, PPS200MI).

The BNG PO id travels as the PO head's "your reference" YRE1 (A36), which PPS200MI/GetHead returns
and SearchHead can search: that is how every attempt looks for a PO an earlier one placed.

PPS370MI's interface entry (the MSGN) cannot be read back, so a write into it whose outcome is
unknown is resolved by deleting the whole entry (DeleteEntry, allowed while it is at status 10) and
entering the PO again; nothing half-entered is ever finished. FinishEntry itself is checked with
PPS200MI/GetHead on the PUNO that AddHead returned.
"""

from __future__ import annotations

import asyncio

import structlog
from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import change_once, holds, write_once
from activities.heartbeat import auto_heartbeat
from clients.m3.errors import M3AmbiguousWriteError, M3BusinessError
from storage import document_links

log = structlog.get_logger(__name__)

KIND = "purchase_order"
# PPS200MI line status: deleted lines stay listed with 99.
DELETED = "99"
# Fields of a line that a buyer's change may move (PPS200MI/UpdLine inputs).
CHANGEABLE_LINE_FIELDS = ("ORQA", "PUPR", "DWDT")
CHANGEABLE_HEAD_FIELDS = ("DWDT", "BUYE")


class PlacePurchaseOrderInput(BaseModel):
    bng_id: str
    suno: str
    head: dict[str, str]
    lines: list[dict[str, str]]


class PlacedPurchaseOrder(BaseModel):
    puno: str
    # True when an earlier attempt had placed it already (the answer was lost, or a worker died).
    found: bool = False


class ChangePurchaseOrderInput(BaseModel):
    bng_id: str
    puno: str
    head: dict[str, str] = {}
    # The lines as the buyer wants them now (PNLI, ITNO, ORQA, PUPR, DWDT).
    lines: list[dict[str, str]] = []
    # PNLIs of lines to delete (cancelled by the buyer, or the whole PO cancelled).
    delete: list[int] = []


class PurchaseOrderChanges(BaseModel):
    updated: list[int] = []
    added: list[int] = []
    deleted: list[int] = []
    head_changed: bool = False

    def describe(self) -> str:
        parts = [
            f"{label} line(s) {', '.join(map(str, numbers))}"
            for label, numbers in (
                ("changed", self.updated),
                ("added", self.added),
                ("deleted", self.deleted),
            )
            if numbers
        ]
        if self.head_changed:
            parts.insert(0, "head changed")
        return "; ".join(parts) or "nothing to change"


class M3PurchaseOrderActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def place_m3_purchase_order(self, data: PlacePurchaseOrderInput) -> PlacedPurchaseOrder:
        with classified_errors():
            placed = await self._placed(data.bng_id)
            if placed:
                await asyncio.to_thread(self._link, data.bng_id, placed, None)
                return PlacedPurchaseOrder(puno=placed, found=True)
            await self._discard_unfinished_entry(data.bng_id)
            puno = await self._enter(data)
        await asyncio.to_thread(self._link, data.bng_id, puno, None)
        return PlacedPurchaseOrder(puno=puno)

    @activity.defn
    @auto_heartbeat
    async def change_m3_purchase_order(self, data: ChangePurchaseOrderInput) -> PurchaseOrderChanges:
        """Bring the M3 PO to the buyer's version; M3 refuses what its status no longer allows."""
        puno = data.puno
        changes = PurchaseOrderChanges()
        with classified_errors():
            head = {
                name: value for name, value in data.head.items() if name in CHANGEABLE_HEAD_FIELDS and value
            }
            if head and not _holds_all(await self._head(puno), head):
                await change_once(
                    f"PPS200MI/UpdHead PUNO {puno}",
                    read=lambda: self._head(puno),
                    wanted=head,
                    write=lambda: self._c.m3.execute(
                        "PPS200MI", "UpdHead", {"PUNO": puno, **head}, write=True
                    ),
                )
                changes.head_changed = True
            current = await self._lines(puno)
            for line in data.lines:
                pnli = int(line["PNLI"])
                if pnli in data.delete:
                    continue
                existing = current.get(pnli)
                if existing is None:
                    await self._add_line(puno, pnli, line)
                    changes.added.append(pnli)
                    continue
                wanted = {name: line[name] for name in CHANGEABLE_LINE_FIELDS if line.get(name)}
                if not _holds_all(existing, wanted):
                    await self._update_line(puno, pnli, wanted)
                    changes.updated.append(pnli)
            for pnli in data.delete:
                existing = current.get(pnli)
                if existing is not None and existing.get("PUSL") != DELETED:
                    await self._delete_line(puno, pnli)
                    changes.deleted.append(pnli)
        return changes

    # ---------------------------------------------------------------- placing

    async def _enter(self, data: PlacePurchaseOrderInput) -> str:
        m3 = self._c.m3
        entry = await m3.get_one(
            "PPS370MI", "StartEntry", {"BAOR": self._c.settings.m3_po_batch_origin}, write=True
        )
        msgn = entry["MSGN"]
        await asyncio.to_thread(self._remember_entry, data.bng_id, msgn)
        try:
            head = await m3.get_one(
                "PPS370MI", "AddHead", {**data.head, "MSGN": msgn, "SUNO": data.suno}, write=True
            )
            puno = head["PUNO"]
            for line in data.lines:
                await m3.execute("PPS370MI", "AddLine", {**line, "MSGN": msgn, "PUNO": puno}, write=True)
        except (M3AmbiguousWriteError, M3BusinessError) as error:
            # The entry cannot be read back: remove it whole. An M3 refusal then parks the PO; an
            # unknown outcome is retried from the start, with a fresh entry.
            log.warning("po.entry_discarded", msgn=msgn, bng_id=data.bng_id, error=str(error))
            await self._delete_entry(msgn)
            raise

        async def finished() -> str | None:
            return puno if await self._head(puno) else None

        async def finish() -> str:
            await m3.execute("PPS370MI", "FinishEntry", {"MSGN": msgn}, write=True)
            return puno

        # Any refusal may mean an earlier FinishEntry got through: the PO is then in PPS200MI.
        return await write_once(
            f"PPS370MI/FinishEntry MSGN {msgn}", find=finished, write=finish, done_codes=None
        )

    async def _placed(self, bng_id: str) -> str | None:
        """The PUNO of the PO placed for ``bng_id``: the link first, then M3's own search by YRE1."""
        link = await asyncio.to_thread(self._find_link, bng_id)
        candidates = [link.m3_key] if link and link.m3_key else []
        rows = await self._c.m3.execute("PPS200MI", "SearchHead", {"SQRY": f"YRE1:'{bng_id}'"}, maxrecs=0)
        candidates += [row["PUNO"] for row in rows if row.get("PUNO")]
        for puno in dict.fromkeys(candidates):
            head = await self._head(puno)
            if head and head.get("YRE1", "").strip() == bng_id:
                return puno
        return None

    async def _discard_unfinished_entry(self, bng_id: str) -> None:
        """An entry an earlier attempt started but did not finish (the worker died) is removed."""
        link = await asyncio.to_thread(self._find_link, bng_id)
        if link and link.m3_extra:
            await self._delete_entry(link.m3_extra)

    async def _delete_entry(self, msgn: str) -> None:
        """An unknown outcome (M3AmbiguousWriteError) propagates: the next attempt deletes it again."""
        try:
            await self._c.m3.execute("PPS370MI", "DeleteEntry", {"MSGN": msgn}, write=True)
        except M3BusinessError as error:
            # Gone already (an earlier delete whose answer was lost); there is nothing else it can be,
            # since a finished entry would have been found by YRE1 before.
            log.info("po.entry_already_gone", msgn=msgn, error=str(error))

    # ---------------------------------------------------------------- changing

    async def _add_line(self, puno: str, pnli: int, line: dict[str, str]) -> None:
        async def present() -> bool | None:
            return True if await self._line(puno, pnli) else None

        async def add() -> bool:
            record = {name: value for name, value in line.items() if value}
            await self._c.m3.execute(
                "PPS200MI", "AddLine", {**record, "PUNO": puno, "PNLI": str(pnli)}, write=True
            )
            return True

        await write_once(f"PPS200MI/AddLine PUNO {puno} PNLI {pnli}", find=present, write=add)

    async def _update_line(self, puno: str, pnli: int, wanted: dict[str, str]) -> None:
        await change_once(
            f"PPS200MI/UpdLine PUNO {puno} PNLI {pnli}",
            read=lambda: self._line(puno, pnli),
            wanted=wanted,
            write=lambda: self._c.m3.execute(
                "PPS200MI", "UpdLine", {"PUNO": puno, "PNLI": str(pnli), "PNLS": "0", **wanted}, write=True
            ),
        )

    async def _delete_line(self, puno: str, pnli: int) -> None:
        async def deleted() -> bool | None:
            line = await self._line(puno, pnli)
            return True if line is None or line.get("PUSL") == DELETED else None

        async def delete() -> bool:
            await self._c.m3.execute(
                "PPS200MI", "DltLine", {"PUNO": puno, "PNLI": str(pnli), "PNLS": "0"}, write=True
            )
            return True

        # Only a look can tell a refused delete from one an earlier attempt made.
        await write_once(
            f"PPS200MI/DltLine PUNO {puno} PNLI {pnli}", find=deleted, write=delete, done_codes=None
        )

    # ---------------------------------------------------------------- reading

    async def _head(self, puno: str) -> dict[str, str] | None:
        try:
            return await self._c.m3.get_one("PPS200MI", "GetHead", {"PUNO": puno})
        except M3BusinessError:
            return None

    async def _line(self, puno: str, pnli: int) -> dict[str, str] | None:
        try:
            return await self._c.m3.get_one(
                "PPS200MI", "GetLine", {"PUNO": puno, "PNLI": str(pnli), "PNLS": "0"}
            )
        except M3BusinessError:
            return None

    async def _lines(self, puno: str) -> dict[int, dict[str, str]]:
        rows = await self._c.m3.execute("PPS200MI", "LstLine", {"PUNO": puno}, maxrecs=0)
        return {int(row["PNLI"]): row for row in rows}

    # ---------------------------------------------------------------- the link

    def _find_link(self, bng_id: str) -> document_links.DocumentLink | None:
        with self._c.sessions() as session:
            return document_links.find_by_bng(session, KIND, bng_id)

    def _remember_entry(self, bng_id: str, msgn: str) -> None:
        """Note the entry before writing into it, so a later attempt can remove it if unfinished."""
        self._link(bng_id, None, msgn)

    def _link(self, bng_id: str, puno: str | None, msgn: str | None) -> None:
        with self._c.sessions.begin() as session:
            document_links.link(
                session,
                KIND,
                bng_id,
                cono=self._c.settings.m3_cono,
                m3_key=puno,
                workflow_id=activity.info().workflow_id or "",
                m3_extra=msgn,
            )


def _holds_all(current: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    return current is not None and holds(current, wanted)
