"""``/api/v1/products``: emits product.created, product.updated and product.deleted.

``POST /products/batch`` creates up to 500 products in one call and ``GET /products?sku_in=``
reads many by SKU, the bulk forms eCommerce platforms offer for catalogue loads (BNG's real API
must be checked for its equivalents: see README, "Bulk sync").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from clients.bng.models import Product
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.errors import invalid
from sandbox.bng.state import Sandbox
from sandbox.bng.store import MAX_BATCH, PRODUCT, BatchItemResult, Page

router = APIRouter(prefix="/products", tags=["products"], dependencies=api_dependencies)


class ProductBatch(BaseModel):
    products: list[Product] = Field(min_length=1, max_length=MAX_BATCH)


class ProductBatchResult(BaseModel):
    results: list[BatchItemResult]


@router.get("", response_model=Page)
async def list_products(
    sandbox: Sandbox,
    paging: PagingParams,
    sku_in: Annotated[
        str | None, Query(description=f"comma-separated SKUs: only these (at most {MAX_BATCH})")
    ] = None,
) -> JSONResponse:
    skus = [sku for sku in sku_in.split(",") if sku] if sku_in is not None else None
    if skus is not None and len(skus) > MAX_BATCH:
        raise invalid([{"field": "sku_in", "message": f"at most {MAX_BATCH} SKUs", "type": "value_error"}])
    page = sandbox.store.list_documents(PRODUCT, **paging.model_dump(), keys=skus)
    return json(page.model_dump(mode="json"))


@router.post("/batch", response_model=ProductBatchResult)
async def create_products(
    request: Request, sandbox: Sandbox, client: ApiClient, batch: ProductBatch
) -> JSONResponse:
    """Create the products of the batch that do not exist yet (product.created for each); a SKU
    that exists is answered ``exists`` and left unchanged. Idempotent by ``Idempotency-Key``."""

    def create() -> tuple[int, dict[str, Any]]:
        results = sandbox.store.create_many(PRODUCT, batch.products)
        return 200, ProductBatchResult(results=results).model_dump(mode="json")

    return await idempotent(request, sandbox, client, create)


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
