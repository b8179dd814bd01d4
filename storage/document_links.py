"""Links between BNG documents (purchase orders, supplier invoices, journals, refunds, goods
receipts) and the M3 records made from them, with the workflow that carries each.

Like ``storage.xref``, every function takes a ``Session`` and only flushes: the caller owns the
transaction, e.g. ``with sessions.begin() as session: link(session, "purchase_order", ...)``.

A document is linked early, before M3 gave its number (``m3_key`` None), and again as the
workflow learns more: each ``link`` call fills or changes ``m3_key``/``m3_extra``; None leaves
the stored value as it is. The BOD routing then finds the document by its M3 number
(``find_by_m3``), e.g. the purchase-order workflow of a SyncPurchaseOrder's PUNO.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import DocumentKind, DocumentLink
from storage.xref import XrefConflictError

__all__ = ["DocumentKind", "DocumentLink", "XrefConflictError", "find_by_bng", "find_by_m3", "forget", "link"]


def link(
    session: Session,
    kind: DocumentKind | str,
    bng_id: str,
    cono: int,
    m3_key: str | None,
    workflow_id: str,
    m3_extra: str | None = None,
) -> DocumentLink:
    """Create or update the link of a BNG document; returns its row.

    ``m3_key``/``m3_extra`` None leave the stored values as they are; a value fills or replaces
    them. ``workflow_id`` always replaces the stored one (a restarted workflow takes over).
    Raises XrefConflictError if the document belongs to another company, or if ``m3_key`` is
    linked to another BNG document of the same kind; ValueError for an unknown kind.
    """
    kind = DocumentKind(kind)
    if m3_key is not None:
        owner = find_by_m3(session, kind, cono, m3_key)
        if owner is not None and owner.bng_id != bng_id:
            raise XrefConflictError(
                f"M3 {kind.value} {cono}/{m3_key} is already linked to BNG {kind.value} {owner.bng_id!r}"
            )
    row = find_by_bng(session, kind, bng_id)
    if row is None:
        row = DocumentLink(
            kind=kind.value,
            bng_id=bng_id,
            cono=cono,
            m3_key=m3_key,
            m3_extra=m3_extra,
            workflow_id=workflow_id,
        )
        try:
            with session.begin_nested():
                session.add(row)
            return row
        except IntegrityError:
            # A concurrent transaction linked this document first: update its row instead.
            row = find_by_bng(session, kind, bng_id)
            if row is None:
                raise
    if row.cono != cono:
        raise XrefConflictError(f"BNG {kind.value} {bng_id!r} belongs to M3 company {row.cono}, not {cono}")
    row.workflow_id = workflow_id
    if m3_key is not None:
        row.m3_key = m3_key
    if m3_extra is not None:
        row.m3_extra = m3_extra
    session.flush()
    return row


def find_by_bng(session: Session, kind: DocumentKind | str, bng_id: str) -> DocumentLink | None:
    """The link of one BNG document, whichever company it points to."""
    return session.scalars(
        select(DocumentLink).where(
            DocumentLink.kind == DocumentKind(kind).value, DocumentLink.bng_id == bng_id
        )
    ).one_or_none()


def find_by_m3(session: Session, kind: DocumentKind | str, cono: int, m3_key: str) -> DocumentLink | None:
    """The link of the M3 record ``m3_key`` in company ``cono``; None if no document has it.

    ``link`` never gives one number to two documents; should two concurrent links still have
    done so, the most recently updated one is returned.
    """
    return session.scalars(
        select(DocumentLink)
        .where(
            DocumentLink.kind == DocumentKind(kind).value,
            DocumentLink.cono == cono,
            DocumentLink.m3_key == m3_key,
        )
        .order_by(DocumentLink.updated_at.desc(), DocumentLink.id.desc())
        .limit(1)
    ).first()


def forget(session: Session, kind: DocumentKind | str, bng_id: str) -> bool:
    """Remove the link of a BNG document; True if there was one."""
    row = find_by_bng(session, kind, bng_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
