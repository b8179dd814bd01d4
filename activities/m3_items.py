"""Check that every item of an order exists in M3 and can be sold (MMS200MI/GetItmBasic, in bulk).

Items found sellable are taken at M3's word for ``item_check_cache_seconds`` per worker: most
orders name items other orders named a moment ago. The check is a courtesy that names the bad
items at once; M3 checks again on AddBatchLine, so an item blocked within that time still parks
the order (with M3's message, and the batch order removed). A problem is never kept: an operator
who fixed an item in M3 retries, and the check asks M3 again.
"""

from __future__ import annotations

from cachetools import TTLCache
from pydantic import BaseModel
from temporalio import activity

from activities.connections import Connections
from activities.errors import classified_errors
from activities.heartbeat import auto_heartbeat
from clients.m3.client import M3Transaction

# MMS200MI item status: 20 is active; 80 and 90 can no longer be ordered.
SELLABLE_ITEM_STATUSES = {"20"}
# Sellable items kept per worker, at most.
CACHED_ITEMS = 50_000


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
        ttl = connections.settings.item_check_cache_seconds
        self._sellable: TTLCache[str, bool] | None = TTLCache(CACHED_ITEMS, ttl) if ttl else None

    @activity.defn
    @auto_heartbeat
    async def check_m3_items(self, data: CheckItemsInput) -> CheckItemsResult:
        known = self._sellable if self._sellable is not None else {}
        items = sorted(item for item in set(data.item_numbers) if item not in known)
        if not items:
            return CheckItemsResult()
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
            elif result.records and self._sellable is not None:
                self._sellable[itno] = True
        return CheckItemsResult(problems=problems)
