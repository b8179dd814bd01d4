"""Check that every item of an order exists in M3 and can be sold (MMS200MI/GetItmBasic, in bulk)."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.heartbeat import auto_heartbeat
from clients.m3.client import M3Transaction

# MMS200MI item status: 20 is active; 80 and 90 can no longer be ordered.
SELLABLE_ITEM_STATUSES = {"20"}


class CheckItemsInput(BaseModel):
    item_numbers: list[str]


class ItemProblem(BaseModel):
    item_number: str
    code: str | None = None
    message: str


class CheckItemsResult(BaseModel):
    problems: list[ItemProblem] = []


class M3ItemActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def check_m3_items(self, data: CheckItemsInput) -> CheckItemsResult:
        items = sorted(set(data.item_numbers))
        with classified_errors():
            results = await self._c.m3.bulk(
                "MMS200MI",
                [M3Transaction(transaction="GetItmBasic", record={"ITNO": itno}) for itno in items],
            )
        problems = []
        for itno, result in zip(items, results, strict=True):
            if result.error is not None:
                problems.append(
                    ItemProblem(item_number=itno, code=result.error.code, message=result.error.message)
                )
            elif result.records and result.records[0].get("STAT") not in SELLABLE_ITEM_STATUSES:
                status = result.records[0].get("STAT")
                problems.append(ItemProblem(item_number=itno, message=f"Item {itno} has status {status}"))
        return CheckItemsResult(problems=problems)
