"""What every activity does around its work: heartbeat while it waits, and say whose work it is in the logs.

Heartbeats: without them Temporal only learns that a worker died when the start-to-close timeout
runs out; with them, the activity is retried on another worker after the heartbeat timeout.

Log context: every log line written while the activity runs (m3bng's own, the M3 and BNG clients',
and the SDK's "Completing activity as failed") carries the workflow id, the workflow and activity
type, the attempt and the business keys found in the activity's input (``bng_order_id``, ``cuno``,
``puno``, ``inbn``, ``key1``, ``receipt_id``...), bound as structlog context variables.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import structlog
from pydantic import BaseModel
from temporalio import activity

from activities.models import WORKFLOW_ID_PREFIXES

P = ParamSpec("P")
R = TypeVar("R")

# Fields of an activity's input that name what the work is about: logged as they are.
BUSINESS_KEYS = (
    "bng_order_id",
    "bng_id",
    "bng_customer_id",
    "bng_vendor_id",
    "cuor",
    "cuno",
    "temporary_order_number",
    "payment_id",
    "order_id",
    "puno",
    "suno",
    "sino",
    "inbn",
    "key1",
    "receipt_id",
    "entity",
    "bng_key",
    "m3_key",
)
_TEMPORAL_KEYS = ("workflow_id", "workflow_type", "activity_type", "attempt")
# A raw BNG payload (the transform activities) names its document by these.
_PAYLOAD_KEYS = {
    "OrderID": "bng_order_id",
    "PurchaseOrderID": "bng_id",
    "SupplierInvoiceID": "bng_id",
    "JournalID": "bng_id",
    "RefundID": "bng_id",
}


def business_keys(data: object) -> dict[str, str]:
    """The business keys of an activity's input model (scalar fields only, ``None`` left out)."""
    if not isinstance(data, BaseModel):
        return {}
    keys: dict[str, str] = {}
    for name in BUSINESS_KEYS:
        value = getattr(data, name, None)
        if isinstance(value, str | int) and value != "":
            keys[name] = str(value)
    payload = getattr(data, "payload", None)
    if isinstance(payload, Mapping):
        for field, name in _PAYLOAD_KEYS.items():
            value = payload.get(field)
            if isinstance(value, str) and value and name not in keys:
                keys[name] = value
    return keys


def workflow_keys(workflow_type: str, workflow_id: str) -> dict[str, str]:
    """The business key a workflow id is made of (``order-BNG-10001``, ``po-PO-1``,
    ``customer-CUST-0001``): for activities whose input names none (an item check, a page)."""
    if workflow_type == "OrderToCashWorkflow" and workflow_id.startswith("order-"):
        return {"bng_order_id": workflow_id.removeprefix("order-")}
    if workflow_type == "EntitySyncWorkflow" and "-" in workflow_id:
        entity, bng_key = workflow_id.split("-", 1)
        return {"entity": entity, "bng_key": bng_key}
    for prefix in WORKFLOW_ID_PREFIXES.values():
        if workflow_id.startswith(prefix) and workflow_type != "OrderToCashWorkflow":
            return {"bng_id": workflow_id.removeprefix(prefix)}
    return {}


def log_context(args: tuple[Any, ...]) -> dict[str, Any]:
    """Who the running activity works for: Temporal's ids and the input's business keys."""
    context: dict[str, Any] = {}
    if activity.in_activity():
        info = activity.info()
        context.update(
            workflow_id=info.workflow_id,
            workflow_type=info.workflow_type,
            activity_type=info.activity_type,
            attempt=info.attempt,
        )
    for arg in args:
        context.update(business_keys(arg))
    if activity.in_activity():
        for name, value in workflow_keys(info.workflow_type or "", info.workflow_id or "").items():
            context.setdefault(name, value)
    return context


def auto_heartbeat(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Not unbound at the end: each activity runs in its own task (its own copy of the context),
        # and the SDK's own line about the activity's failure comes after this returns. What an
        # earlier activity bound in the same context (a test calling several) is dropped first.
        structlog.contextvars.unbind_contextvars(*_TEMPORAL_KEYS, *BUSINESS_KEYS)
        structlog.contextvars.bind_contextvars(**log_context((*args, *kwargs.values())))
        timeout = activity.info().heartbeat_timeout or timedelta(0)
        beat = asyncio.create_task(_beat(timeout / 3)) if timeout else None
        try:
            return await fn(*args, **kwargs)
        finally:
            if beat:
                beat.cancel()

    return wrapper


async def _beat(every: timedelta) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every.total_seconds())
