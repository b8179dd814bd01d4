"""Document links (purchase orders, supplier invoices, journals, refunds, goods receipts), on
SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from storage.document_links import find_by_bng, find_by_m3, forget, link
from storage.models import DocumentKind, DocumentLink
from storage.xref import XrefConflictError

Factory = sessionmaker[Session]
THREADS = 8


def rows(factory: Factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(DocumentLink)) or 0


def test_a_document_is_linked_before_m3_gave_its_number_and_filled_in_later(
    session_factory: Factory,
) -> None:
    with session_factory.begin() as session:
        first = link(session, "purchase_order", "PO-1", 100, None, "po-PO-1", m3_extra="00000042")
        assert (first.m3_key, first.m3_extra) == (None, "00000042")
    with session_factory() as session:
        created = session.scalars(select(DocumentLink.created_at)).one()
    with session_factory.begin() as session:
        # FinishEntry gave the PUNO: the MSGN stays unless a value replaces it.
        filled = link(session, DocumentKind.PURCHASE_ORDER, "PO-1", 100, "1000123", "po-PO-1")
        assert filled.id == first.id
    with session_factory() as session:
        row = find_by_bng(session, "purchase_order", "PO-1")
        assert row is not None
        assert (row.kind, row.bng_id, row.cono, row.m3_key, row.m3_extra, row.workflow_id) == (
            "purchase_order",
            "PO-1",
            100,
            "1000123",
            "00000042",
            "po-PO-1",
        )
        assert row.created_at == created and row.updated_at >= created
        found = find_by_m3(session, "purchase_order", 100, "1000123")
        assert found is not None and found.id == row.id
    assert rows(session_factory) == 1


def test_a_later_link_changes_the_extra_number_and_the_workflow(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link(session, "purchase_order", "PO-2", 100, None, "po-PO-2", m3_extra="00000001")
    with session_factory.begin() as session:
        # An ambiguous PPS370MI write: DeleteEntry, a fresh entry, a new MSGN.
        link(session, "purchase_order", "PO-2", 100, None, "po-PO-2-restarted", m3_extra="00000002")
    with session_factory() as session:
        row = find_by_bng(session, "purchase_order", "PO-2")
        assert row is not None
        assert (row.m3_key, row.m3_extra, row.workflow_id) == (None, "00000002", "po-PO-2-restarted")


def test_kinds_and_companies_keep_their_numbers_apart(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link(session, "supplier_invoice", "SI-1", 100, "5001", "supplier-invoice-SI-1")
        link(session, "journal", "SI-1", 100, "5001", "journal-SI-1")  # same ids, another kind
        link(session, "supplier_invoice", "SI-2", 200, "5001", "supplier-invoice-SI-2")
    with session_factory() as session:
        invoice = find_by_m3(session, "supplier_invoice", 100, "5001")
        journal = find_by_m3(session, "journal", 100, "5001")
        other_company = find_by_m3(session, "supplier_invoice", 200, "5001")
        assert invoice is not None and journal is not None and other_company is not None
        assert (invoice.bng_id, journal.bng_id, other_company.bng_id) == ("SI-1", "SI-1", "SI-2")
        assert find_by_m3(session, "refund", 100, "5001") is None
        assert find_by_m3(session, "supplier_invoice", 300, "5001") is None
        assert find_by_bng(session, "refund", "SI-1") is None
    assert rows(session_factory) == 3


def test_one_m3_number_is_never_given_to_two_documents(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link(session, "purchase_order", "PO-A", 100, "1000001", "po-PO-A")
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="'PO-A'"):
        link(session, "purchase_order", "PO-B", 100, "1000001", "po-PO-B")
    with session_factory.begin() as session:
        link(session, "purchase_order", "PO-B", 100, None, "po-PO-B")
        with pytest.raises(XrefConflictError):
            link(session, "purchase_order", "PO-B", 100, "1000001", "po-PO-B")
    with session_factory() as session:
        row = find_by_bng(session, "purchase_order", "PO-B")
        assert row is not None and row.m3_key is None


def test_a_document_stays_in_its_company(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link(session, "refund", "RF-1", 100, None, "refund-RF-1")
    with session_factory.begin() as session, pytest.raises(XrefConflictError, match="company 100"):
        link(session, "refund", "RF-1", 200, "X", "refund-RF-1")


def test_forget_removes_only_that_link(session_factory: Factory) -> None:
    with session_factory.begin() as session:
        link(session, "goods_receipt", "GR-1", 100, "0000000777", "po-PO-1")
        link(session, "goods_receipt", "GR-2", 100, "0000000778", "po-PO-1")
    with session_factory.begin() as session:
        assert forget(session, "goods_receipt", "GR-1") is True
        assert forget(session, "goods_receipt", "GR-1") is False
        assert forget(session, "purchase_order", "GR-2") is False
    with session_factory() as session:
        assert find_by_bng(session, "goods_receipt", "GR-1") is None
        assert find_by_m3(session, "goods_receipt", 100, "0000000777") is None
        assert find_by_bng(session, "goods_receipt", "GR-2") is not None
    with session_factory.begin() as session:  # and the document can be linked again
        link(session, "goods_receipt", "GR-1", 100, "0000000779", "po-PO-1")
    assert rows(session_factory) == 2


def test_an_unknown_kind_is_refused(session_factory: Factory) -> None:
    with session_factory() as session:
        with pytest.raises(ValueError):
            link(session, "sales_order", "X", 100, None, "wf")
        with pytest.raises(ValueError):
            find_by_bng(session, "invoice", "X")


def test_concurrent_first_links_leave_one_row(session_factory: Factory) -> None:
    # The webhook's workflow start and a replay both link the same new document at once.
    barrier = threading.Barrier(THREADS)

    def deliver(index: int) -> int:
        barrier.wait(timeout=10)
        with session_factory.begin() as session:
            return link(session, "journal", "JE-RACE", 100, None, "journal-JE-RACE", m3_extra=f"V{index}").id

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        ids = list(pool.map(deliver, range(THREADS)))  # re-raises any exception from a thread

    assert len(set(ids)) == 1
    assert rows(session_factory) == 1


def test_the_table_has_its_unique_key_and_m3_index(session_factory: Factory) -> None:
    with session_factory() as session:
        inspector = inspect(session.connection())
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("document_link")}
        indexes = {i["name"]: tuple(i["column_names"]) for i in inspector.get_indexes("document_link")}
    assert ("kind", "bng_id") in uniques
    assert indexes["ix_document_link_kind_cono_m3_key"] == ("kind", "cono", "m3_key")
