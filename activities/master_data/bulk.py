"""Bulk reads and writes for reconciliation: a page of records in a few calls instead of one each.

Reading: the BNG side of a whole page in one call where BNG offers a batch read (products, and
balances per warehouse), concurrent single reads otherwise; M3 presence for BNG's unlinked records
in one v2 bulk request.

Writing: a page's products and balances that exist only in M3 are created in BNG with one batch
call instead of one entity workflow each, and linked in one transaction. One writer per record
still holds:

1. records whose entity workflow is running (an event is being handled, or the record is parked
   for an operator) are left to that workflow: one visibility query per page finds them;
2. a workflow that starts after that query (or that visibility does not show yet) cannot be
   overwritten by the bulk path, because it only ever creates what is absent: BNG's batch create
   leaves an existing record exactly as it is (answering ``exists``), and links are inserted only
   where neither side is linked yet (``xref.link_new_synced``), the insert-if-absent an entity
   workflow's own create makes. Whichever comes second finds the record there and leaves it to
   the other; what the bulk path did not settle goes to the record's workflow.

Exactly once: the batch carries an ``Idempotency-Key`` derived from its content, so a resent batch
answers with the first answer; after a lost answer the activity fails and its retry reads the page
again, finding what was created, before it writes again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.exactly_once import write_once
from activities.master_data.bng_records import BngRecords, Record, validated
from activities.master_data.m3_records import M3Records, _found, inventory_key, split_inventory_key
from activities.master_data.models import entity_workflow_id
from clients.bng.client import PRODUCT_BATCH_MAX, BngClient
from clients.bng.models import InventoryLevel, Product
from clients.m3.bulk import M3Transaction
from clients.m3.client import M3Client
from mapping.ownership import bng_record

# Entities whose BNG side has a batch read and a batch create.
BULK_ENTITIES = frozenset({"product", "inventory"})
# Single reads in flight at once, for entities without a batch read.
READ_CONCURRENCY = 8
# Workflow ids per visibility query: keeps the query text well within the server's limits.
IDS_PER_QUERY = 250


async def read_bng_page(
    entity: str, bng: BngClient, bng_side: BngRecords | None, keys: Sequence[str]
) -> dict[str, Record | None]:
    """The BNG records of a page, by key (None where BNG lacks one). ``bng_side`` reads the
    entities without a batch read, one record at a time."""
    if entity == "product":
        found: dict[str, Record] = {}
        for part in await asyncio.gather(*(bng.get_products(chunk) for chunk in _chunks(keys))):
            found.update(part)
        return {key: found.get(key) for key in keys}
    if entity == "inventory":
        # Balances "SKU/WHLO": one batch read per warehouse (and 500 SKUs).
        by_warehouse: dict[str, list[str]] = {}
        for key in keys:
            sku, warehouse = split_inventory_key(key)
            by_warehouse.setdefault(warehouse, []).append(sku)
        reads = [
            (warehouse, bng.get_inventory_levels(warehouse, chunk))
            for warehouse, skus in by_warehouse.items()
            for chunk in _chunks(skus)
        ]
        levels: dict[str, Record] = {}
        for (warehouse, _), part in zip(
            reads, await asyncio.gather(*(read for _, read in reads)), strict=True
        ):
            levels.update({inventory_key(sku, warehouse): level for sku, level in part.items()})
        return {key: levels.get(key) for key in keys}
    assert bng_side is not None, f"{entity} has no batch read: its records are read one by one"
    side = bng_side
    limit = asyncio.Semaphore(READ_CONCURRENCY)

    async def read(key: str) -> Record | None:
        async with limit:
            return await side.read(key)

    records = await asyncio.gather(*(read(key) for key in keys))
    return dict(zip(keys, records, strict=True))


async def products_present(bng: BngClient, balance_keys: Sequence[str]) -> set[str]:
    """The SKUs of ``balance_keys`` ("SKU/WHLO") that BNG has a product for: a batch read per 500."""
    skus = sorted({split_inventory_key(key)[0] for key in balance_keys})
    found = await read_bng_page("product", bng, None, skus)
    return {sku for sku, product in found.items() if product is not None}


async def m3_keys_present(entity: str, m3: M3Client, m3_side: M3Records, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` M3 has: one v2 bulk request of Gets for items and balances, concurrent
    single reads for the others."""
    if entity == "product":
        calls = [M3Transaction("GetItmBasic", {"ITNO": key}) for key in keys]
        results = await m3.bulk("MMS200MI", calls)
        return {key for key, result in zip(keys, results, strict=True) if _found(result, ("ITNO",))}
    if entity == "inventory":
        parts = [split_inventory_key(key) for key in keys]
        calls = [M3Transaction("GetItmWhsBal", {"WHLO": whlo, "ITNO": itno}) for itno, whlo in parts]
        results = await m3.bulk("MMS200MI", calls)
        fields = ("WHLO", "ITNO")
        return {key for key, result in zip(keys, results, strict=True) if _found(result, fields)}
    limit = asyncio.Semaphore(READ_CONCURRENCY)

    async def present(key: str) -> bool:
        async with limit:
            return await m3_side.read(key) is not None

    found = await asyncio.gather(*(present(key) for key in keys))
    return {key for key, there in zip(keys, found, strict=True) if there}


async def running_entity_workflows(client: Client, entity: str, bng_keys: Sequence[str]) -> set[str]:
    """The keys among ``bng_keys`` whose entity workflow is running: a visibility query per
    ``IDS_PER_QUERY`` keys (concurrently), instead of a describe per record."""
    by_id = {entity_workflow_id(entity, key): key for key in bng_keys}
    ids = sorted(by_id)

    async def running_among(chunk: list[str]) -> set[str]:
        quoted = ", ".join(_quote(workflow_id) for workflow_id in chunk)
        query = f"WorkflowId IN ({quoted}) AND ExecutionStatus = 'Running'"
        return {by_id[e.id] async for e in client.list_workflows(query) if e.id in by_id}

    chunks = [ids[start : start + IDS_PER_QUERY] for start in range(0, len(ids), IDS_PER_QUERY)]
    return set().union(*await asyncio.gather(*(running_among(chunk) for chunk in chunks)))


def _chunks(keys: Sequence[str]) -> list[list[str]]:
    return [list(keys[n : n + PRODUCT_BATCH_MAX]) for n in range(0, len(keys), PRODUCT_BATCH_MAX)]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def product_for(bng_key: str, m3_key: str, desired: Mapping[str, str]) -> Product | None:
    """The BNG product an entity workflow would create from the canonical values; None if they
    do not make a valid product (its workflow then parks it with the reasons)."""
    record = bng_record("product", desired)
    if record.errors:
        return None
    try:
        return validated(Product, {**record.values, "SKU": bng_key, "ExternalID": m3_key})
    except ApplicationError:
        return None


def level_for(bng_key: str, m3_key: str, desired: Mapping[str, str]) -> InventoryLevel | None:
    """The BNG inventory level an entity workflow would set from the canonical values."""
    record = bng_record("inventory", desired)
    if record.errors:
        return None
    sku, warehouse = split_inventory_key(bng_key)
    try:
        return InventoryLevel.model_validate({**record.values, "SKU": sku, "Warehouse": warehouse})
    except ValidationError:
        return None


def batch_key(kind: str, records: Sequence[BaseModel]) -> str:
    """The same records give the same key, so BNG answers a resent batch with its first answer."""
    body = json.dumps([r.model_dump(mode="json", exclude_none=True) for r in records], sort_keys=True)
    return f"m3bng-{kind}-{hashlib.sha256(body.encode()).hexdigest()[:32]}"


async def create_in_bng(
    entity: str, bng: BngClient, records: Mapping[str, BaseModel]
) -> dict[str, dict[str, Any]]:
    """Create the records (by BNG key) that BNG lacks, one batch call per 500; returns what BNG
    holds under each key afterwards (created now, or there already)."""
    held: dict[str, dict[str, Any]] = {}
    for keys in _chunks(list(records)):
        chunk = [records[key] for key in keys]

        async def find(keys: list[str] = keys) -> dict[str, dict[str, Any]] | None:
            found = await read_bng_page(entity, bng, None, keys)
            present = {key: record for key, record in found.items() if record is not None}
            return present if len(present) == len(keys) else None

        async def create(chunk: list[BaseModel] = chunk) -> dict[str, dict[str, Any]]:
            if entity == "product":
                products = [Product.model_validate(record) for record in chunk]
                results = await bng.create_products(products, idempotency_key=batch_key(entity, chunk))
            else:
                levels = [InventoryLevel.model_validate(record) for record in chunk]
                results = await bng.create_inventory_levels(levels, idempotency_key=batch_key(entity, chunk))
            return {result["key"]: result["item"] for result in results}

        # The page was read just before: no need to look first.
        what = f"BNG {entity} batch {keys[0]}.."
        held.update(await write_once(what, find=find, write=create, look_first=False))
    return held


# How each bulk entity's BNG record is made from canonical values.
BUILDERS = {"product": product_for, "inventory": level_for}
