"""Post a BNG payment to M3 accounts receivable with the customer payment interface ARS040MI.

The payment batch number (PBID) is derived from the BNG payment id, so a retried posting finds
the batch and line an earlier attempt created ("record already exists") instead of paying twice.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.heartbeat import auto_heartbeat
from activities.errors import classified_errors
from clients.m3.errors import M3BusinessError

ALREADY_EXISTS = "XRE0103"


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
            invoice_before = await self._invoice(data)
            await _tolerating_exists(
                m3.execute(
                    "ARS040MI",
                    "AddBatchHead",
                    {
                        "PBID": pbid,
                        "BOPE": self._c.settings.m3_payment_batch_type,
                        "ACDT": data.payment_date,
                    },
                )
            )
            await _tolerating_exists(
                m3.execute(
                    "ARS040MI",
                    "AddBatchLine",
                    {
                        "PBID": pbid,
                        "TRNO": 1,
                        "CINO": data.invoice_number,
                        "INYR": data.invoice_year,
                        "CUNO": data.cuno,
                        "PYAM": data.amount,
                        "CUCD": data.currency,
                    },
                )
            )
            try:
                await m3.execute("ARS040MI", "ControlBatch", {"PBID": pbid})
            except M3BusinessError:
                # Already posted by an earlier attempt if the invoice no longer carries this amount.
                open_now = _open_amount(await self._invoice(data))
                if open_now is None or open_now > _open_amount(invoice_before, default=Decimal(0)) - data.amount:
                    raise
            open_amount = _open_amount(await self._invoice(data))
        return PostedPayment(payment_batch=pbid, open_amount=open_amount)

    async def _invoice(self, data: PostPaymentInput) -> dict[str, str]:
        return await self._c.m3.get_one(
            "ARS200MI",
            "GetInvoice",
            {"CUNO": data.cuno, "CINO": data.invoice_number, "INYR": data.invoice_year},
        )


def _open_amount(invoice: dict[str, str], default: Decimal | None = None) -> Decimal | None:
    value = invoice.get("OPAM") or invoice.get("CUAM")
    return Decimal(value) if value not in (None, "") else default


async def _tolerating_exists(call: object) -> None:
    try:
        await call  # type: ignore[misc]
    except M3BusinessError as error:
        if error.code != ALREADY_EXISTS:
            raise
