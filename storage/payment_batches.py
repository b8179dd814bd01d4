"""Payment batch numbers (ARS040MI PBID) for BNG payments, from the store's own sequence.

A hash of the payment id could give two payments one batch, and the second would then be taken
for "already posted". Here each payment gets the next free number of a range reserved for m3bng,
once: every later attempt to post it reads the same number back.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import PaymentBatch

# M3's PBID is numeric, ten digits.
LARGEST_PBID = 9_999_999_999


class PaymentBatchRangeExhaustedError(Exception):
    """Every batch number of the configured range has been given out."""


def batch_number_for(session: Session, bng_payment_id: str, *, cono: int, first: int) -> int:
    """The PBID of this payment: the one it was given before, or the next free one from ``first``.

    Safe against concurrent callers: a number or a payment taken by another transaction first
    makes this one re-read and try the next number. The caller commits.
    """
    while True:
        existing = _batch_of(session, bng_payment_id)
        if existing is not None:
            return existing.pbid
        highest = session.scalar(
            select(func.max(PaymentBatch.pbid)).where(
                PaymentBatch.m3_cono == cono, PaymentBatch.pbid >= first
            )
        )
        pbid = first if highest is None else highest + 1
        if pbid > LARGEST_PBID:
            raise PaymentBatchRangeExhaustedError(f"no PBID left after {highest} (range from {first})")
        try:
            with session.begin_nested():
                session.add(PaymentBatch(bng_payment_id=bng_payment_id, m3_cono=cono, pbid=pbid))
            return pbid
        except IntegrityError:
            continue


def has_batch(session: Session, bng_payment_id: str) -> bool:
    """Whether the payment was given its batch number already (an earlier attempt to post it)."""
    return _batch_of(session, bng_payment_id) is not None


def _batch_of(session: Session, bng_payment_id: str) -> PaymentBatch | None:
    return session.scalar(select(PaymentBatch).where(PaymentBatch.bng_payment_id == bng_payment_id))
