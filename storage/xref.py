"""Repository functions for the cross-reference store.

Every function takes a ``Session`` and only flushes: the caller owns the transaction, e.g.
``with session_factory.begin() as session: link_customer(session, ...)``.

Inserts that can race run inside a savepoint. When another transaction wins the race, the
unique constraint raises, the savepoint alone is rolled back, and the winner's row is re-read,
so the caller's transaction stays usable.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import CustomerXref, EventSource, OrderXref, ReceivedEvent


class XrefConflictError(Exception):
    """One side of a link is already linked to something else."""


def find_customer(session: Session, bng_customer_id: str) -> CustomerXref | None:
    return session.scalars(
        select(CustomerXref).where(CustomerXref.bng_customer_id == bng_customer_id)
    ).one_or_none()


def find_customer_by_cuno(session: Session, cono: int, cuno: str) -> CustomerXref | None:
    return session.scalars(
        select(CustomerXref).where(CustomerXref.m3_cono == cono, CustomerXref.m3_cuno == cuno)
    ).one_or_none()


def link_customer(
    session: Session,
    *,
    bng_customer_id: str,
    cono: int,
    cuno: str,
    external_id: str | None = None,
) -> CustomerXref:
    """Link a BNG customer to an M3 customer; linking the same pair again returns the same row.

    Raises XrefConflictError if either side is already linked to something else.
    """
    existing = _existing_customer_link(session, bng_customer_id, cono, cuno)
    if existing is None:
        row = CustomerXref(
            bng_customer_id=bng_customer_id, bng_external_id=external_id, m3_cono=cono, m3_cuno=cuno
        )
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            # A concurrent transaction linked one of the two sides first; judge its row instead.
            existing = _existing_customer_link(session, bng_customer_id, cono, cuno)
            if existing is None:
                raise
    if external_id is not None and existing.bng_external_id != external_id:
        existing.bng_external_id = external_id
        session.flush()
    return existing


def find_order_by_bng(session: Session, bng_order_id: str) -> OrderXref | None:
    return session.scalars(select(OrderXref).where(OrderXref.bng_order_id == bng_order_id)).one_or_none()


def find_order_by_m3(session: Session, cono: int, orno: str) -> OrderXref | None:
    return session.scalars(
        select(OrderXref).where(OrderXref.m3_cono == cono, OrderXref.m3_orno == orno)
    ).one_or_none()


def link_order(
    session: Session,
    *,
    bng_order_id: str,
    cono: int,
    workflow_id: str,
    temp_orno: str | None = None,
    orno: str | None = None,
) -> OrderXref:
    """Create or update the link of a BNG order. None leaves a stored order number as it is.

    Raises XrefConflictError if the order belongs to another company, already has a different
    final ORNO, or if ``orno`` is linked to another BNG order.
    """
    if orno is not None:
        owner = find_order_by_m3(session, cono, orno)
        if owner is not None and owner.bng_order_id != bng_order_id:
            raise XrefConflictError(
                f"M3 order {cono}/{orno} is already linked to BNG order {owner.bng_order_id!r}"
            )
    row = find_order_by_bng(session, bng_order_id)
    if row is None:
        row = OrderXref(
            bng_order_id=bng_order_id,
            m3_cono=cono,
            workflow_id=workflow_id,
            m3_temp_orno=temp_orno,
            m3_orno=orno,
        )
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            row = find_order_by_bng(session, bng_order_id)
            if row is None:
                # Not our key that collided: the ORNO was linked concurrently to another order.
                raise XrefConflictError(
                    f"M3 order {cono}/{orno} was linked concurrently to another BNG order"
                ) from None
    _update_order(row, cono=cono, workflow_id=workflow_id, temp_orno=temp_orno, orno=orno)
    session.flush()
    return row


def record_event(session: Session, source: EventSource | str, event_id: str) -> bool:
    """Remember a delivery; True the first time, False for a duplicate."""
    source = EventSource(source)  # an unknown source is a bug, not a new kind of event
    if _event_seen(session, source, event_id):
        return False
    try:
        with session.begin_nested():
            session.add(ReceivedEvent(source=source.value, event_id=event_id))
    except IntegrityError:
        if _event_seen(session, source, event_id):
            return False
        raise
    return True


def _existing_customer_link(
    session: Session, bng_customer_id: str, cono: int, cuno: str
) -> CustomerXref | None:
    """The row for exactly this pair, None if neither side is linked, or a conflict."""
    by_bng = find_customer(session, bng_customer_id)
    if by_bng is not None:
        if (by_bng.m3_cono, by_bng.m3_cuno) != (cono, cuno):
            raise XrefConflictError(
                f"BNG customer {bng_customer_id!r} is already linked to M3 customer "
                f"{by_bng.m3_cono}/{by_bng.m3_cuno}, not {cono}/{cuno}"
            )
        return by_bng
    by_m3 = find_customer_by_cuno(session, cono, cuno)
    if by_m3 is not None and by_m3.bng_customer_id == bng_customer_id:
        return by_m3  # committed by a concurrent transaction between the two reads
    if by_m3 is not None:
        raise XrefConflictError(
            f"M3 customer {cono}/{cuno} is already linked to BNG customer {by_m3.bng_customer_id!r}, "
            f"not {bng_customer_id!r}"
        )
    return None


def _update_order(
    row: OrderXref, *, cono: int, workflow_id: str, temp_orno: str | None, orno: str | None
) -> None:
    if row.m3_cono != cono:
        raise XrefConflictError(
            f"BNG order {row.bng_order_id!r} belongs to M3 company {row.m3_cono}, not {cono}"
        )
    if orno is not None and row.m3_orno not in (None, orno):
        raise XrefConflictError(
            f"BNG order {row.bng_order_id!r} is already linked to M3 order {row.m3_orno}, not {orno}"
        )
    # A restarted workflow takes over the order; the newest id is the one to signal.
    row.workflow_id = workflow_id
    if temp_orno is not None:
        row.m3_temp_orno = temp_orno
    if orno is not None:
        row.m3_orno = orno


def _event_seen(session: Session, source: EventSource, event_id: str) -> bool:
    found = session.scalar(
        select(ReceivedEvent.id).where(
            ReceivedEvent.source == source.value, ReceivedEvent.event_id == event_id
        )
    )
    return found is not None
