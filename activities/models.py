"""Models the activities produce and the workflows keep: they live here, where both can depend on them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class FieldIssue(BaseModel):
    """One problem with one field of a document, as an operator reads it."""

    field: str
    message: str
    source: str | None = None
    line: int | None = None


class DocumentType(StrEnum):
    PURCHASE_ORDER = "purchase_order"
    SUPPLIER_INVOICE = "supplier_invoice"
    JOURNAL = "journal"
    REFUND = "refund"


WORKFLOW_ID_PREFIXES: dict[DocumentType, str] = {
    DocumentType.PURCHASE_ORDER: "po-",
    DocumentType.SUPPLIER_INVOICE: "supplier-invoice-",
    DocumentType.JOURNAL: "journal-",
    DocumentType.REFUND: "refund-",
}


def document_workflow_id(document_type: DocumentType, bng_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIXES[document_type]}{bng_id}"
