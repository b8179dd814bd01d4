"""Validate a BNG order and transform it into M3 batch-entry input, using the declared order map."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import activity

from activities.heartbeat import auto_heartbeat
from activities.models import FieldIssue
from clients.bng.models import Order
from mapping.engine import FieldError, apply_mapping
from mapping.loader import load_lookups, load_mapping, map_version

ORDER_MAP = "order.bng_to_m3"
LOOKUPS = "lookups"


class TransformOrderInput(BaseModel):
    payload: dict[str, Any]
    order_type: str


class TransformOrderResult(BaseModel):
    order: Order | None = None
    head: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    issues: list[FieldIssue] = []
    # The declared maps this result came from, for the order's timeline:
    # "order.bng_to_m3@1.0.0 lookups@1.0.0" (with "+<environment>.<overlay version>" when overlaid).
    map_version: str = ""

    @property
    def ok(self) -> bool:
        return self.order is not None and not self.issues


def schema_issues(error: ValidationError) -> list[FieldIssue]:
    issues = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        issues.append(FieldIssue(field=path or "(body)", source=path or None, message=item["msg"]))
    return issues


@activity.defn
@auto_heartbeat
async def transform_order(data: TransformOrderInput) -> TransformOrderResult:
    try:
        order = Order.model_validate(data.payload)
    except ValidationError as error:
        return TransformOrderResult(issues=schema_issues(error), map_version=map_version(ORDER_MAP, LOOKUPS))

    result = apply_mapping(
        load_mapping(ORDER_MAP),
        order.model_dump(mode="json"),
        context={"ORTP": data.order_type},
        lookups=load_lookups(),
    )
    return TransformOrderResult(
        order=order,
        head=result.values,
        lines=result.lines,
        issues=mapping_issues(result.errors),
        map_version=map_version(ORDER_MAP, LOOKUPS),
    )


def mapping_issues(errors: list[FieldError]) -> list[FieldIssue]:
    return [FieldIssue(field=e.field, source=e.source, message=e.message, line=e.line) for e in errors]
