"""``/api/v1/refunds``: a refund by its id (refunds are made under ``/orders/{id}/payments/{id}``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from clients.bng.models import Refund
from sandbox.bng.api.deps import api_dependencies, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import REFUND

router = APIRouter(prefix="/refunds", tags=["payments"], dependencies=api_dependencies)


@router.get("/{refund_id}", response_model=Refund)
async def get_refund(sandbox: Sandbox, refund_id: str) -> JSONResponse:
    return json(sandbox.store.require(REFUND, refund_id))
