"""``/api/v1/supplier-invoices``: vendors' invoices in BNG's accounts payable.

Emits supplierinvoice.created and supplierinvoice.status_changed (m3bng's own status PUT, echoed),
with the ordering key ``supplier-invoice:<SupplierInvoiceID>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from clients.bng.models import SupplierInvoice, SupplierInvoiceStatus, SupplierInvoiceStatusUpdate
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import SUPPLIER_INVOICE, Page

router = APIRouter(prefix="/supplier-invoices", tags=["supplier invoices"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_supplier_invoices(
    sandbox: Sandbox,
    paging: PagingParams,
    status: Annotated[SupplierInvoiceStatus | None, Query()] = None,
    vendor_id: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    equals = {"Status": status.value if status else None, "VendorID": vendor_id}
    page = sandbox.store.list_documents(SUPPLIER_INVOICE, **paging.model_dump(), equals=equals)
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=SupplierInvoice)
async def create_supplier_invoice(
    request: Request, sandbox: Sandbox, client: ApiClient, invoice: SupplierInvoice
) -> JSONResponse:
    """A new invoice (Received; 409 if the id exists); emits supplierinvoice.created.

    TotalAmount must be NetAmount + TaxAmount. With strict references the vendor must exist and
    every line must name a line of one of the vendor's POs.
    """
    strict = sandbox.config.strict_references
    return await idempotent(
        request,
        sandbox,
        client,
        lambda: (201, sandbox.store.create_supplier_invoice(invoice, strict_references=strict)),
    )


@router.get("/{invoice_id}", response_model=SupplierInvoice)
async def get_supplier_invoice(sandbox: Sandbox, invoice_id: str) -> JSONResponse:
    return json(sandbox.store.require(SUPPLIER_INVOICE, invoice_id))


@router.put("/{invoice_id}/status", response_model=SupplierInvoice)
async def set_supplier_invoice_status(
    sandbox: Sandbox, invoice_id: str, update: SupplierInvoiceStatusUpdate
) -> JSONResponse:
    """M3's status for the invoice; emits supplierinvoice.status_changed.

    ExternalID is kept when left out; StatusReason is the update's (none clears it). The same
    update again changes nothing and emits nothing.
    """
    return json(sandbox.store.set_supplier_invoice_status(invoice_id, update))
