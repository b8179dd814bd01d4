"""``/_sandbox``: the test and demo controls. Not part of BNG's API, and not authenticated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sandbox.bng import outbox
from sandbox.bng.demo_data import make_demo_orders, seed_demo
from sandbox.bng.errors import not_found
from sandbox.bng.faults import Fault
from sandbox.bng.knobs import GatewayErrorStatus, Knobs, ServerErrorStatus, WriteMethod
from sandbox.bng.state import Sandbox
from sandbox.bng.store import MAX_BULK_DOCUMENTS, AdminKind

router = APIRouter(prefix="/_sandbox", tags=["sandbox admin"])


class KnobsUpdate(BaseModel):
    """Only the fields sent change; null puts a knob back to its default (off).

    (``rate_limit_per_second: null`` turns the limit off, ``lost_answer_methods: null`` means every write.)
    """

    rate_limit_per_second: float | None = Field(default=None, gt=0)
    latency_ms: int | None = Field(default=None, ge=0)
    duplicate_delivery_rate: float | None = Field(default=None, ge=0, le=1)
    error_rate_5xx: float | None = Field(default=None, ge=0, le=1)
    error_5xx_statuses: list[ServerErrorStatus] | None = Field(default=None, min_length=1)
    lost_answer_rate: float | None = Field(default=None, ge=0, le=1)
    lost_answer_status: GatewayErrorStatus | None = None
    lost_answer_methods: list[WriteMethod] | None = None
    lost_answer_path_prefix: str | None = None
    delivery_jitter_ms: int | None = Field(default=None, ge=0)


class EmitRequest(BaseModel):
    type: str = Field(min_length=1)
    data: Any = Field(description="Sent as is, unvalidated")
    ordering_key: str | None = None


class DriftRequest(BaseModel):
    kind: AdminKind
    key: str = Field(min_length=1, description="The id; SKU/Warehouse for inventory")
    changes: dict[str, Any] = Field(description="Fields to set (null removes an optional field)")
    touch: bool = Field(
        default=True,
        description="Give the document a new UpdatedAt (a change whose webhook was lost); "
        "false keeps its timestamps, so only a full comparison can find the change",
    )


class BulkRequest(BaseModel):
    kind: AdminKind
    documents: list[dict[str, Any]] = Field(max_length=MAX_BULK_DOCUMENTS)


class BulkResult(BaseModel):
    kind: AdminKind
    inserted: int
    replaced: int


class DemoOrdersRequest(BaseModel):
    count: int = Field(default=1, ge=1, le=1000)
    seed: int = 0


@router.post("/knobs", response_model=Knobs)
async def set_knobs(sandbox: Sandbox, update: KnobsUpdate) -> Knobs:
    for name in update.model_fields_set:
        value = getattr(update, name)
        if value is None:
            value = Knobs.model_fields[name].get_default(call_default_factory=True)
        setattr(sandbox.knobs, name, value)
    sandbox.limiter.reset()
    return sandbox.knobs


@router.get("/knobs", response_model=Knobs)
async def get_knobs(sandbox: Sandbox) -> Knobs:
    return sandbox.knobs


@router.post("/faults", response_model=list[Fault])
async def add_fault(sandbox: Sandbox, fault: Fault) -> list[Fault]:
    """The next ``count`` calls matching method and path prefix fail with ``status``."""
    sandbox.faults.add(fault)
    return sandbox.faults.pending()


@router.get("/faults", response_model=list[Fault])
async def list_faults(sandbox: Sandbox) -> list[Fault]:
    return sandbox.faults.pending()


@router.delete("/faults", response_model=list[Fault])
async def clear_faults(sandbox: Sandbox) -> list[Fault]:
    sandbox.faults.clear()
    return sandbox.faults.pending()


@router.post("/reset")
async def reset(sandbox: Sandbox) -> dict[str, str]:
    sandbox.reset()
    return {"status": "reset"}


@router.post("/seed-demo")
async def seed(sandbox: Sandbox) -> dict[str, int]:
    """Load demo products, customers and vendors (no webhooks: they predate the integration)."""
    seed_demo(sandbox.store)
    return {
        kind + "s": sandbox.store.list_documents(kind, page_size=1).total
        for kind in ("product", "customer", "vendor")
    }


@router.post("/drift")
async def drift(sandbox: Sandbox, request: DriftRequest) -> dict[str, Any]:
    """Change a stored document without any webhook: a change that no event reports.

    The result must still validate against its model; the id (SKU/Warehouse) cannot change.
    Answers the document as it is now.
    """
    return sandbox.store.drift(request.kind, request.key, request.changes, touch=request.touch)


@router.post("/bulk", response_model=BulkResult)
async def bulk(sandbox: Sandbox, request: BulkRequest) -> BulkResult:
    """Insert or replace many documents in one transaction, validated, without webhooks.

    All or nothing: one invalid document (named ``documents.<index>.<field>``) refuses them all.
    """
    counts = sandbox.store.bulk(request.kind, request.documents)
    return BulkResult(kind=request.kind, **counts)


@router.post("/tokens/revoke")
async def revoke_tokens(sandbox: Sandbox) -> dict[str, int]:
    """Forget every access token, as after a BNG restart: clients must fetch new ones."""
    return {"revoked": sandbox.tokens.revoke_all()}


@router.get("/webhooks", response_model=list[outbox.DeliveryLogEntry])
async def webhook_log(
    sandbox: Sandbox, type: str | None = Query(default=None, description="Only this event type")
) -> list[outbox.DeliveryLogEntry]:
    with sandbox.sessions() as session:
        return outbox.delivery_log(session, event_type=type)


@router.post("/webhooks/redeliver/{msg_id}")
async def redeliver(sandbox: Sandbox, msg_id: str) -> dict[str, Any]:
    with sandbox.sessions.begin() as session:
        count = outbox.schedule_redelivery(session, msg_id)
    if not count:
        raise not_found("webhook message", msg_id)
    sandbox.dispatcher.notify()
    return {"msg_id": msg_id, "scheduled": count}


@router.post("/emit")
async def emit(sandbox: Sandbox, event: EmitRequest) -> dict[str, str]:
    """Send a signed webhook with arbitrary data, exactly as BNG would (e.g. an invalid order)."""
    return {"msg_id": sandbox.store.emit(event.type, event.data, ordering_key=event.ordering_key)}


@router.post("/orders")
async def place_demo_orders(sandbox: Sandbox, request: DemoOrdersRequest) -> dict[str, list[str]]:
    """Place demo orders through the public API's path, so order.created webhooks go out."""
    seed_demo(sandbox.store)
    start_number = sandbox.store.next_order_number(10001)
    orders = make_demo_orders(
        request.count, seed=request.seed, start_number=start_number, start=datetime.now(UTC)
    )
    strict = sandbox.config.strict_references
    for order in orders:
        sandbox.store.create_order(order, strict_references=strict)
    return {"order_ids": [order.OrderID for order in orders]}
