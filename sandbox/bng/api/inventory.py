"""``/api/v1/inventory``: stock per SKU and warehouse; emits inventory.updated."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from clients.bng.models import InventoryLevel
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.errors import invalid
from sandbox.bng.state import Sandbox
from sandbox.bng.store import INVENTORY, MAX_BATCH, BatchItemResult, InventoryUpdate, Page

router = APIRouter(prefix="/inventory", tags=["inventory"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_inventory(
    sandbox: Sandbox,
    paging: PagingParams,
    sku: Annotated[str | None, Query()] = None,
    warehouse: Annotated[str | None, Query()] = None,
    sku_in: Annotated[
        str | None, Query(description=f"comma-separated SKUs of one warehouse (at most {MAX_BATCH})")
    ] = None,
) -> JSONResponse:
    keys = None
    if sku_in is not None:
        skus = [item for item in sku_in.split(",") if item]
        if warehouse is None or len(skus) > MAX_BATCH:
            message = f"needs warehouse, and at most {MAX_BATCH} SKUs"
            raise invalid([{"field": "sku_in", "message": message, "type": "value_error"}])
        keys = [f"{item}/{warehouse}" for item in skus]
    page = sandbox.store.list_documents(
        INVENTORY, **paging.model_dump(), equals={"SKU": sku, "Warehouse": warehouse}, keys=keys
    )
    return json(page.model_dump(mode="json"))


class InventoryBatch(BaseModel):
    levels: list[InventoryLevel] = Field(min_length=1, max_length=MAX_BATCH)


@router.post("/batch", response_model=dict[str, list[BatchItemResult]])
async def create_levels(
    request: Request, sandbox: Sandbox, client: ApiClient, batch: InventoryBatch
) -> JSONResponse:
    """Set up to 500 levels BNG has none of yet (inventory.updated for each); an existing level
    is answered ``exists`` and left as it is. Idempotent by ``Idempotency-Key``."""

    def create() -> tuple[int, dict[str, Any]]:
        strict = sandbox.config.strict_references
        results = sandbox.store.create_inventory_many(batch.levels, strict_references=strict)
        return 200, {"results": [result.model_dump(mode="json") for result in results]}

    return await idempotent(request, sandbox, client, create)


@router.get("/{sku}/{warehouse}", response_model=InventoryLevel)
async def get_inventory(sandbox: Sandbox, sku: str, warehouse: str) -> JSONResponse:
    return json(sandbox.store.require(INVENTORY, f"{sku}/{warehouse}"))


@router.put("/{sku}/{warehouse}", response_model=InventoryLevel)
async def set_inventory(sandbox: Sandbox, sku: str, warehouse: str, level: InventoryUpdate) -> JSONResponse:
    strict = sandbox.config.strict_references
    return json(sandbox.store.set_inventory(sku, warehouse, level, strict_references=strict))
