"""Post a BNG payment to M3 accounts receivable with the customer payment interface ARS040MI.

The payment batch number (PBID) is derived from the BNG payment id, so a retried posting finds
the batch and line an earlier attempt created ("record already exists") instead of paying twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from datetime import date
from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import M3_ALREADY_EXISTS, classified_errors
from activities.heartbeat import auto_heartbeat
from clients.m3 import M3Value
from clients.m3.errors import M3BusinessError


class PostPaymentInput(BaseModel):
    payment_id: str
    cuno: str
    invoice_number: str
    invoice_year: int
    amount: Decimal
    currency: str
    payment_date: date


class PostedPayment(BaseModel):
    payment_batch: str
    open_amount: Decimal | None = None


def payment_batch_number(payment_id: str) -> str:
    """A stable 10-digit PBID for a BNG payment id."""
    value = int.from_bytes(hashlib.sha256(payment_id.encode()).digest()[:8], "big")
    return str(1_000_000_000 + value % 9_000_000_000)


class M3PaymentActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def post_payment_to_m3(self, data: PostPaymentInput) -> PostedPayment:
        pbid = payment_batch_number(data.payment_id)
        m3 = self._c.m3
        with classified_errors():
            batch_existed = await _exists_already(
                m3.execute(
                    "ARS040MI",
                    "AddBatchHead",
                    {"PBID": pbid, "BOPE": self._c.settings.m3_payment_batch_type, "ACDT": data.payment_date},
                )
            )
            line: dict[str, M3Value] = {
                "PBID": pbid,
                "TRNO": 1,
                "CINO": data.invoice_number,
                "INYR": data.invoice_year,
                "CUNO": data.cuno,
                "PYAM": data.amount,
                "CUCD": data.currency,
            }
            if not await _posted_by_earlier_attempt(
                m3.execute("ARS040MI", "AddBatchLine", line), batch_existed
            ):
                await _posted_by_earlier_attempt(
                    m3.execute("ARS040MI", "ControlBatch", {"PBID": pbid}), batch_existed
                )
            invoice = await m3.get_one(
                "ARS200MI",
                "GetInvoice",
                {"CUNO": data.cuno, "CINO": data.invoice_number, "INYR": data.invoice_year},
            )
        open_amount = invoice.get("OPAM")
        return PostedPayment(payment_batch=pbid, open_amount=Decimal(open_amount) if open_amount else None)


async def _exists_already(call: Awaitable[object]) -> bool:
    """Run an add; True if M3 says the record already exists (an earlier attempt added it)."""
    try:
        await call
    except M3BusinessError as error:
        if error.code != M3_ALREADY_EXISTS:
            raise
        return True
    return False


async def _posted_by_earlier_attempt(call: Awaitable[object], batch_existed: bool) -> bool:
    """Run a batch step; True if it failed only because an earlier attempt already posted our batch."""
    try:
        await call
    except M3BusinessError as error:
        if error.code == M3_ALREADY_EXISTS:
            return False
        # M3 refuses to touch a posted batch, naming PBID; that batch can only be ours.
        if batch_existed and error.field == "PBID":
            return True
        raise
    return False
