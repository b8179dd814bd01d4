"""``/api/v1/customers``: emits customer.created, customer.updated and customer.deleted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from clients.bng.models import Customer
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import CUSTOMER, Page

router = APIRouter(prefix="/customers", tags=["customers"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_customers(sandbox: Sandbox, paging: PagingParams) -> JSONResponse:
    page = sandbox.store.list_documents(CUSTOMER, **paging.model_dump())
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=Customer)
async def create_customer(
    request: Request, sandbox: Sandbox, client: ApiClient, customer: Customer
) -> JSONResponse:
    return await idempotent(request, sandbox, client, lambda: (201, sandbox.store.create_customer(customer)))


@router.get("/{customer_id}", response_model=Customer)
async def get_customer(sandbox: Sandbox, customer_id: str) -> JSONResponse:
    return json(sandbox.store.require(CUSTOMER, customer_id))


@router.patch("/{customer_id}", response_model=Customer)
async def update_customer(
    sandbox: Sandbox, customer_id: str, changes: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Partial update: only the fields sent change; the result must still be a valid Customer."""
    return json(sandbox.store.update_customer(customer_id, changes))


@router.delete("/{customer_id}", status_code=204, response_class=Response)
async def delete_customer(sandbox: Sandbox, customer_id: str) -> Response:
    """Delete for good (GET then answers 404); emits customer.deleted with the last body as data."""
    sandbox.store.delete(CUSTOMER, customer_id)
    return Response(status_code=204)
