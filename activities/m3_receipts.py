"""Post a BNG goods receipt to M3 as a PO receipt, exactly once per receipt id.

M3's staged warehouse transactions (MHS850MI, qualifier 20 "PO receipt with direct put-away") are
used rather than PPS001MI/Receipt because they can be looked up by our own key: the BNG receipt id
travels as the message's external number PMSN, and MHS850MI/GetMvxMsg finds the message by it.
So every step looks before it writes: the message (GetMvxMsg), its lines (LstWhsLine), and
whether it was processed (the lines' status).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.exactly_once import write_once
from activities.heartbeat import auto_heartbeat
from clients.m3.errors import M3BusinessError

# Qualifier 20: receipt of a purchase order with direct put-away (PPS300).
PO_RECEIPT = "20"
# MHS850MI line status once M3 has processed it without error.
PROCESSED = "90"
# PrcWhsTran's processing flag: execute, not only validate.
EXECUTE = "*EXE"


class ReceiptLine(BaseModel):
    pnli: int
    itno: str
    quantity: Decimal


class PostReceiptInput(BaseModel):
    receipt_id: str
    puno: str
    whlo: str
    delivery_note: str | None = None
    lines: list[ReceiptLine]


class PostedReceipt(BaseModel):
    msgn: str
    receipt_numbers: list[str] = []


class M3ReceiptActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def post_goods_receipt(self, data: PostReceiptInput) -> PostedReceipt:
        with classified_errors():
            msgn = await write_once(
                f"MHS850MI/AddWhsHead PMSN {data.receipt_id}",
                find=lambda: self._message(data.receipt_id),
                write=lambda: self._add_head(data),
            )
            for line in data.lines:
                await write_once(
                    f"MHS850MI/AddWhsLine MSGN {msgn} PNLI {line.pnli}",
                    find=lambda line=line: self._staged_line(msgn, line.pnli),  # type: ignore[misc]
                    write=lambda line=line: self._add_line(msgn, data, line),  # type: ignore[misc]
                )
            lines = await write_once(
                f"MHS850MI/PrcWhsTran MSGN {msgn}",
                find=lambda: self._processed(msgn),
                write=lambda: self._process(msgn),
                done_codes=None,
            )
        failed = [row for row in lines if row.get("STAT") != PROCESSED]
        if failed:
            first = failed[0]
            messages = "; ".join(
                f"line {row.get('RIDL')} status {row.get('STAT')}: {row.get('MSID')} {row.get('MSGD')}"
                for row in failed
            )
            with classified_errors():
                raise M3BusinessError(
                    program="MHS850MI",
                    transaction="PrcWhsTran",
                    code=first.get("MSID") or None,
                    field=None,
                    message=f"receipt {data.receipt_id} not posted: {messages}",
                )
        numbers = sorted({row["REPN"].strip() for row in lines if (_number(row.get("REPN")) or 0) > 0})
        return PostedReceipt(msgn=msgn, receipt_numbers=numbers)

    async def _message(self, receipt_id: str) -> str | None:
        settings = self._c.settings
        try:
            row = await self._c.m3.get_one(
                "MHS850MI", "GetMvxMsg", {"E0PB": settings.m3_wms_partner, "PMSN": receipt_id}
            )
        except M3BusinessError:
            return None
        return row.get("MSGN") or None

    async def _add_head(self, data: PostReceiptInput) -> str:
        settings = self._c.settings
        head = await self._c.m3.get_one(
            "MHS850MI",
            "AddWhsHead",
            {
                "WHLO": data.whlo,
                "QLFR": PO_RECEIPT,
                "E0PA": settings.m3_wms_partner,
                "E0PB": settings.m3_wms_partner,
                "E065": settings.m3_wms_message_type,
                "PMSN": data.receipt_id,
            },
            write=True,
        )
        return head["MSGN"]

    async def _staged(self, msgn: str) -> list[dict[str, str]]:
        return await self._c.m3.execute("MHS850MI", "LstWhsLine", {"MSGN": msgn}, maxrecs=0)

    async def _staged_line(self, msgn: str, pnli: int) -> bool | None:
        rows = await self._staged(msgn)
        return True if any(_number(row.get("RIDL")) == pnli for row in rows) else None

    async def _add_line(self, msgn: str, data: PostReceiptInput, line: ReceiptLine) -> bool:
        record = {
            "MSGN": msgn,
            "WHLO": data.whlo,
            "QLFR": PO_RECEIPT,
            # One package per receipt: M3H5 marks PACN required on the line.
            "PACN": data.receipt_id,
            "RIDN": data.puno,
            "RIDL": str(line.pnli),
            "RIDX": "0",
            "ITNO": line.itno,
            "RVQA": str(line.quantity),
        }
        if data.delivery_note:
            record["SUDO"] = data.delivery_note
        await self._c.m3.execute("MHS850MI", "AddWhsLine", record, write=True)
        return True

    async def _processed(self, msgn: str) -> list[dict[str, str]] | None:
        """The lines once M3 processed them (each with a final status), None while still staged."""
        rows = await self._staged(msgn)
        done = all((_number(row.get("REPN")) or 0) > 0 or (row.get("MSID") or "").strip() for row in rows)
        return rows if rows and done else None

    async def _process(self, msgn: str) -> list[dict[str, str]]:
        await self._c.m3.execute("MHS850MI", "PrcWhsTran", {"MSGN": msgn, "PRFL": EXECUTE}, write=True)
        return await self._staged(msgn)


def _number(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None
