"""``/api/v1/vendors``: BNG's suppliers; emits vendor.created, vendor.updated and vendor.deleted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from clients.bng.models import Vendor
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import VENDOR, Page

router = APIRouter(prefix="/vendors", tags=["vendors"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_vendors(sandbox: Sandbox, paging: PagingParams) -> JSONResponse:
    page = sandbox.store.list_documents(VENDOR, **paging.model_dump())
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=Vendor)
async def create_vendor(
    request: Request, sandbox: Sandbox, client: ApiClient, vendor: Vendor
) -> JSONResponse:
    """Create a vendor (409 if the VendorID exists); emits vendor.created with it as data."""
    return await idempotent(request, sandbox, client, lambda: (201, sandbox.store.create_vendor(vendor)))


@router.get("/{vendor_id}", response_model=Vendor)
async def get_vendor(sandbox: Sandbox, vendor_id: str) -> JSONResponse:
    return json(sandbox.store.require(VENDOR, vendor_id))


@router.patch("/{vendor_id}", response_model=Vendor)
async def update_vendor(
    sandbox: Sandbox, vendor_id: str, changes: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Partial update: only the fields sent change; the result must still be a valid Vendor.

    VendorID cannot change. An update that changes nothing emits nothing.
    """
    return json(sandbox.store.update_vendor(vendor_id, changes))


@router.delete("/{vendor_id}", status_code=204, response_class=Response)
async def delete_vendor(sandbox: Sandbox, vendor_id: str) -> Response:
    """Delete for good (GET then answers 404); emits vendor.deleted with the last body as data."""
    sandbox.store.delete(VENDOR, vendor_id)
    return Response(status_code=204)
