"""``/api/v1/products``: emits product.created, product.updated and product.deleted."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from clients.bng.models import Product
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import PRODUCT, Page

router = APIRouter(prefix="/products", tags=["products"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_products(sandbox: Sandbox, paging: PagingParams) -> JSONResponse:
    page = sandbox.store.list_documents(PRODUCT, **paging.model_dump())
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=Product)
async def create_product(
    request: Request, sandbox: Sandbox, client: ApiClient, product: Product
) -> JSONResponse:
    return await idempotent(request, sandbox, client, lambda: (201, sandbox.store.create_product(product)))


@router.get("/{sku}", response_model=Product)
async def get_product(sandbox: Sandbox, sku: str) -> JSONResponse:
    return json(sandbox.store.require(PRODUCT, sku))


@router.patch("/{sku}", response_model=Product)
async def update_product(
    sandbox: Sandbox, sku: str, changes: Annotated[dict[str, Any], Body()]
) -> JSONResponse:
    """Partial update: only the fields sent change; the result must still be a valid Product."""
    return json(sandbox.store.update_product(sku, changes))


@router.delete("/{sku}", status_code=204, response_class=Response)
async def delete_product(sandbox: Sandbox, sku: str) -> Response:
    """Delete for good (GET then answers 404); emits product.deleted with the last body as data.

    Inventory levels of the SKU are left as they are, as are orders naming it.
    """
    sandbox.store.delete(PRODUCT, sku)
    return Response(status_code=204)
