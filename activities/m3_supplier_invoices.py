"""Supplier invoices into M3 accounts payable (APS450MI, APS455MI), matched first, entered exactly once.

The BNG invoice id travels as the invoice head's correlation id CORI (A36): APS450MI/LstInvBySupInv
finds the supplier's invoice by its number, and GetHead's CORI tells whether it is ours (an earlier
attempt's) or another invoice with the same number (a duplicate, refused).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connections import Connections
from activities.errors import INVALID_RECORD, classified_errors
from activities.exactly_once import write_once
from activities.heartbeat import auto_heartbeat
from activities.three_way_match import InvoiceToMatch, MatchResult, PoLine, match_invoice
from clients.m3.errors import M3BusinessError
from storage import document_links

KIND = "supplier_invoice"
# APS450MI invoice status (SUPA): 15 validated with errors; 20 validated (the sandbox's value for
# "validated without errors": only 15 is documented publicly).
VALIDATED_WITH_ERRORS = "15"
VALIDATED = "20"


class ResolvePurchaseOrdersInput(BaseModel):
    bng_po_ids: list[str]


class FindEarlierInvoiceInput(BaseModel):
    bng_id: str
    suno: str
    sino: str


class EarlierInvoice(BaseModel):
    inbn: str
    cori: str
    status: str = ""

    def ours(self, bng_id: str) -> bool:
        return self.cori == bng_id


class MatchInvoiceInput(BaseModel):
    invoice: InvoiceToMatch


class EnterInvoiceInput(BaseModel):
    bng_id: str
    suno: str
    sino: str
    head: dict[str, str]
    # The APS450MI AddLine records to send (from the match's line plan).
    lines: list[dict[str, str]]


class ValidateInvoiceInput(BaseModel):
    inbn: str


class M3SupplierInvoiceActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def resolve_purchase_orders(self, data: ResolvePurchaseOrdersInput) -> dict[str, str]:
        """The M3 PO number (PUNO) of every BNG PO an invoice names; unknown ones are an error."""
        found = await asyncio.to_thread(self._punos, data.bng_po_ids)
        missing = [bng_id for bng_id in data.bng_po_ids if bng_id not in found]
        if missing:
            raise ApplicationError(
                f"purchase order(s) {', '.join(missing)} not placed in M3 by m3bng",
                type=INVALID_RECORD,
                non_retryable=True,
            )
        return found

    @activity.defn
    @auto_heartbeat
    async def find_earlier_supplier_invoice(self, data: FindEarlierInvoiceInput) -> EarlierInvoice | None:
        """An invoice the supplier already has in M3 with this number: ours, or a duplicate."""
        with classified_errors():
            return await self._earlier(data.suno, data.sino, data.bng_id)

    @activity.defn
    @auto_heartbeat
    async def match_supplier_invoice(self, data: MatchInvoiceInput) -> MatchResult:
        """Three-way match: the invoice against its PO lines and what was received, as M3 has them."""
        po_lines: list[PoLine] = []
        wanted = sorted({(line.PUNO, line.PNLI) for line in data.invoice.lines if line.PUNO})
        with classified_errors():
            for puno, pnli in wanted:
                try:
                    row = await self._c.m3.get_one(
                        "PPS200MI", "GetLine", {"PUNO": puno, "PNLI": str(pnli), "PNLS": "0"}
                    )
                except M3BusinessError:
                    continue  # the match names the line as not found in M3
                po_lines.append(PoLine.model_validate({name: value.strip() for name, value in row.items()}))
        return match_invoice(data.invoice, po_lines)

    @activity.defn
    @auto_heartbeat
    async def enter_supplier_invoice(self, data: EnterInvoiceInput) -> str:
        """APS450MI AddHead and AddLine; returns the invoice batch number INBN."""

        async def ours() -> str | None:
            earlier = await self._earlier(data.suno, data.sino, data.bng_id)
            if earlier is None:
                return None
            if not earlier.ours(data.bng_id):
                raise _duplicate(data.sino, earlier)
            return earlier.inbn

        async def add_head() -> str:
            head = await self._c.m3.get_one(
                "APS450MI", "AddHead", {**data.head, "SUNO": data.suno, "CORI": data.bng_id}, write=True
            )
            return head["INBN"]

        with classified_errors():
            # Any refusal of AddHead may be M3's duplicate check on an earlier attempt's head: look.
            inbn = await write_once(
                f"APS450MI/AddHead SINO {data.sino}", find=ours, write=add_head, done_codes=None
            )
            await asyncio.to_thread(self._link, data.bng_id, inbn)
            for line in data.lines:
                await write_once(
                    f"APS450MI/AddLine INBN {inbn} {_line_key(line)}",
                    find=lambda line=line: self._has_line(inbn, line),  # type: ignore[misc]
                    write=lambda line=line: self._add_line(inbn, line),  # type: ignore[misc]
                )
        return inbn

    @activity.defn
    @auto_heartbeat
    async def validate_supplier_invoice(self, data: ValidateInvoiceInput) -> str:
        """APS455MI/ValidByBatchNo, then GetHead: the status, or M3's refusal (validated with errors)."""
        with classified_errors():
            head = await self._c.m3.get_one("APS450MI", "GetHead", {"INBN": data.inbn})
            if head.get("SUPA") != VALIDATED:
                # Validating again is harmless: M3 re-runs its checks on the same batch.
                await self._c.m3.execute(
                    "APS455MI",
                    "ValidByBatchNo",
                    {"INBN": data.inbn, "DIVI": self._c.settings.m3_divi},
                    write=True,
                )
                head = await self._c.m3.get_one("APS450MI", "GetHead", {"INBN": data.inbn})
            status = head.get("SUPA", "")
            if status != VALIDATED:
                flags = ", ".join(f"{name}={head.get(name)}" for name in ("IBHE", "IBLE") if head.get(name))
                raise M3BusinessError(
                    program="APS455MI",
                    transaction="ValidByBatchNo",
                    code=status,
                    message=(
                        f"invoice batch {data.inbn} has status {status or '-'} after validation "
                        f"({flags or 'no flags'})"
                    ),
                )
        return status

    # ---------------------------------------------------------------- reading

    async def _earlier(self, suno: str, sino: str, bng_id: str) -> EarlierInvoice | None:
        try:
            rows = await self._c.m3.execute(
                "APS450MI", "LstInvBySupInv", {"SPYN": suno, "SUNO": suno, "SINO": sino}, maxrecs=0
            )
        except M3BusinessError:
            return None
        candidates = []
        for row in rows:
            inbn = row.get("INBN", "").strip()
            if not inbn:
                continue
            head = await self._c.m3.get_one("APS450MI", "GetHead", {"INBN": inbn})
            candidates.append(
                EarlierInvoice(inbn=inbn, cori=head.get("CORI", "").strip(), status=head.get("SUPA", ""))
            )
        # Ours first: an earlier attempt of this very invoice is not a duplicate.
        candidates.sort(key=lambda earlier: not earlier.ours(bng_id))
        return candidates[0] if candidates else None

    async def _has_line(self, inbn: str, line: dict[str, str]) -> bool | None:
        rows = await self._c.m3.execute("APS450MI", "LstLines", {"INBN": inbn}, maxrecs=0)
        return True if any(_line_key(row) == _line_key(line) for row in rows) else None

    async def _add_line(self, inbn: str, line: dict[str, str]) -> bool:
        await self._c.m3.execute("APS450MI", "AddLine", {**line, "INBN": inbn}, write=True)
        return True

    def _punos(self, bng_po_ids: list[str]) -> dict[str, str]:
        with self._c.sessions() as session:
            found = {}
            for bng_id in bng_po_ids:
                link = document_links.find_by_bng(session, "purchase_order", bng_id)
                if link and link.m3_key:
                    found[bng_id] = link.m3_key
            return found

    def _link(self, bng_id: str, inbn: str) -> None:
        with self._c.sessions.begin() as session:
            document_links.link(
                session,
                KIND,
                bng_id,
                cono=self._c.settings.m3_cono,
                m3_key=inbn,
                workflow_id=activity.info().workflow_id or "",
            )


def _line_key(line: dict[str, str]) -> str:
    """What tells one invoice line from another in a batch: its type and PO line, or its account."""
    rdtp = line.get("RDTP", "").strip()
    if rdtp == "8":
        return f"RDTP 8 AIT1 {line.get('AIT1', '').strip()}"
    return f"RDTP {rdtp} PUNO {line.get('PUNO', '').strip()} PNLI {_number(line.get('PNLI'))}"


def _number(value: str | None) -> int:
    return int(Decimal((value or "0").strip() or "0"))


def _decimal(value: str | None) -> Decimal:
    return Decimal((value or "0").strip() or "0")


def _duplicate(sino: str, earlier: EarlierInvoice) -> M3BusinessError:
    return M3BusinessError(
        program="APS450MI",
        transaction="AddHead",
        code="DUPLICATE",
        message=(
            f"supplier invoice {sino} is already in M3 as invoice batch {earlier.inbn} "
            f"({earlier.cori or 'not entered by m3bng'})"
        ),
    )
