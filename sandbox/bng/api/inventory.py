"""``/api/v1/inventory``: stock per SKU and warehouse; emits inventory.updated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from clients.bng.models import InventoryLevel
from sandbox.bng.api.deps import PagingParams, api_dependencies, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import INVENTORY, InventoryUpdate, Page

router = APIRouter(prefix="/inventory", tags=["inventory"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_inventory(
    sandbox: Sandbox,
    paging: PagingParams,
    sku: Annotated[str | None, Query()] = None,
    warehouse: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    page = sandbox.store.list_documents(
        INVENTORY, **paging.model_dump(), equals={"SKU": sku, "Warehouse": warehouse}
    )
    return json(page.model_dump(mode="json"))


@router.get("/{sku}/{warehouse}", response_model=InventoryLevel)
async def get_inventory(sandbox: Sandbox, sku: str, warehouse: str) -> JSONResponse:
    return json(sandbox.store.require(INVENTORY, f"{sku}/{warehouse}"))


@router.put("/{sku}/{warehouse}", response_model=InventoryLevel)
async def set_inventory(sandbox: Sandbox, sku: str, warehouse: str, level: InventoryUpdate) -> JSONResponse:
    strict = sandbox.config.strict_references
    return json(sandbox.store.set_inventory(sku, warehouse, level, strict_references=strict))
