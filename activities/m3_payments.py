"""Post a BNG payment to M3 accounts receivable with the customer payment interface ARS040MI.

Each BNG payment gets its own payment batch number (PBID) from the store, once; every attempt to
post it uses that batch. No public ARS040MI transaction lists batches, so the batch's own unique
keys are the look before each write: M3 refuses a second head with our PBID ("record already
exists"), a second line 1 in it, and a second posting of it ("already posted"). As the PBID
belongs to this payment alone, those refusals prove the earlier attempt's work. A posting is then
proved by the invoice's open amount in ARS200MI, which must show the payment.
"""

from __future__ import annotations

import asyncio
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
from storage.payment_batches import batch_number_for, has_batch

# ARS040MI's answer to any change of a posted batch ("Payment batch … is already posted").
# [unverified: the sandbox's message id; a real tenant's id is to be confirmed]
M3_BATCH_POSTED = "WPB0410"


class PostPaymentInput(BaseModel):
    payment_id: str
    cuno: str
    invoice_number: str
    invoice_year: int
    amount: Decimal
    currency: str
    payment_date: date
    # What earlier payments of this order already took off the invoice: proves a lost posting.
    paid_before: Decimal = Decimal(0)


class PostedPayment(BaseModel):
    payment_batch: str
    open_amount: Decimal | None = None
    # True when an earlier attempt had posted the batch and this one only proved it.
    found_posted: bool = False


class M3PaymentActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def post_payment_to_m3(self, data: PostPaymentInput) -> PostedPayment:
        with classified_errors():
            if not await asyncio.to_thread(self._has_batch, data.payment_id):
                # Nothing of this payment is in M3 yet, and M3's ledger is the truth: money paid there
                # by other means (or a posting an operator skipped) must not be paid again on top.
                await self._check_open_amount(data)
        pbid = await asyncio.to_thread(self._batch_number, data.payment_id)
        m3 = self._c.m3
        line: dict[str, M3Value] = {
            "PBID": pbid,
            "TRNO": 1,
            "CINO": data.invoice_number,
            "INYR": data.invoice_year,
            "CUNO": data.cuno,
            "PYAM": data.amount,
            "CUCD": data.currency,
        }
        with classified_errors():
            await _unless_done(
                m3.execute(
                    "ARS040MI",
                    "AddBatchHead",
                    {"PBID": pbid, "BOPE": self._c.settings.m3_payment_batch_type, "ACDT": data.payment_date},
                    write=True,
                )
            )
            posted_before = await _unless_done(m3.execute("ARS040MI", "AddBatchLine", line, write=True))
            if not posted_before:
                posted_before = await _unless_done(
                    m3.execute("ARS040MI", "ControlBatch", {"PBID": pbid}, write=True)
                )
            invoice = await m3.get_one(
                "ARS200MI",
                "GetInvoice",
                {"CUNO": data.cuno, "CINO": data.invoice_number, "INYR": data.invoice_year},
            )
            open_amount = Decimal(invoice["OPAM"]) if invoice.get("OPAM") else None
            if posted_before:
                _prove_posting(data, pbid, invoice, open_amount)
        return PostedPayment(payment_batch=str(pbid), open_amount=open_amount, found_posted=posted_before)

    async def _check_open_amount(self, data: PostPaymentInput) -> None:
        invoice = await self._c.m3.get_one(
            "ARS200MI",
            "GetInvoice",
            {"CUNO": data.cuno, "CINO": data.invoice_number, "INYR": data.invoice_year},
        )
        if invoice.get("OPAM") and Decimal(invoice["OPAM"]) < data.amount:
            raise M3BusinessError(
                program="ARS200MI",
                transaction="GetInvoice",
                field="OPAM",
                message=(
                    f"Invoice {data.invoice_number} is open for {Decimal(invoice['OPAM'])} in M3, less than "
                    f"payment {data.payment_id} of {data.amount}: not posted"
                ),
            )

    def _has_batch(self, payment_id: str) -> bool:
        with self._c.sessions() as session:
            return has_batch(session, payment_id)

    def _batch_number(self, payment_id: str) -> int:
        settings = self._c.settings
        with self._c.sessions() as session:
            pbid = batch_number_for(
                session, payment_id, cono=settings.m3_cono, first=settings.m3_payment_batch_first
            )
            session.commit()
            return pbid


async def _unless_done(call: Awaitable[object]) -> bool:
    """Run one step of our batch; True if M3 says the batch is posted already (by an earlier attempt).

    "Record already exists" means an earlier attempt made this head or line: nothing to do.
    """
    try:
        await call
    except M3BusinessError as error:
        if error.code == M3_ALREADY_EXISTS:
            return False
        if error.code == M3_BATCH_POSTED:
            return True
        raise
    return False


def _prove_posting(
    data: PostPaymentInput, pbid: int, invoice: dict[str, str], open_amount: Decimal | None
) -> None:
    """The batch was posted by an earlier attempt: its payment must show on the invoice."""
    total = Decimal(invoice["CUAM"]) if invoice.get("CUAM") else None
    if total is None or open_amount is None:
        return  # nothing to compare with; the PBID is ours alone
    most_open = total - data.paid_before - data.amount
    if open_amount > most_open:
        raise M3BusinessError(
            program="ARS040MI",
            transaction="ControlBatch",
            code=M3_BATCH_POSTED,
            field="PBID",
            message=(
                f"Payment batch {pbid} is posted, but invoice {data.invoice_number} is still open for "
                f"{open_amount} (at most {most_open} after this payment): not the payment m3bng sent"
            ),
        )
