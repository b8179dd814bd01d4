"""Payment batch numbers: one per BNG payment, never shared, the same on every attempt."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.payment_batches import PaymentBatchRangeExhaustedError, batch_number_for

FIRST = 7_000_000_000


def _number(sessions: sessionmaker[Session], payment_id: str, first: int = FIRST) -> int:
    with sessions() as session:
        pbid = batch_number_for(session, payment_id, cono=100, first=first)
        session.commit()
        return pbid


def test_each_payment_gets_its_own_number_and_keeps_it(session_factory: sessionmaker[Session]) -> None:
    first = _number(session_factory, "PAY-1")
    second = _number(session_factory, "PAY-2")
    assert first == FIRST and second == FIRST + 1
    assert _number(session_factory, "PAY-1") == first


def test_payments_whose_ids_hash_alike_still_get_different_numbers(
    session_factory: sessionmaker[Session],
) -> None:
    # The old PBID was a hash modulo 9e9; here numbers come from a sequence, whatever the ids.
    numbers = {_number(session_factory, f"PAY-{n}") for n in range(50)}
    assert len(numbers) == 50


def test_concurrent_payments_never_share_a_number(session_factory: sessionmaker[Session]) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda n: _number(session_factory, f"PAY-C{n % 20}"), range(40)))
    by_payment: dict[str, set[int]] = {}
    for n, pbid in enumerate(numbers):
        by_payment.setdefault(f"PAY-C{n % 20}", set()).add(pbid)
    assert all(len(pbids) == 1 for pbids in by_payment.values())
    assert len({next(iter(p)) for p in by_payment.values()}) == 20


def test_the_range_ends_at_ten_digits(session_factory: sessionmaker[Session]) -> None:
    assert _number(session_factory, "PAY-LAST", first=9_999_999_999) == 9_999_999_999
    with pytest.raises(PaymentBatchRangeExhaustedError):
        _number(session_factory, "PAY-OVER", first=9_999_999_999)
