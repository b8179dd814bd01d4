"""Bulk initial load on the real Temporal dev server against both sandboxes: items only M3 has are
created in BNG in batches, exactly once, without racing the records' own workflows."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from activities.master_data import entity_workflows
from activities.master_data.bulk_echoes import is_creation_echo
from activities.master_data.models import RecordChanged, SyncState
from mapping.ownership import Side
from storage import xref
from storage.db import make_engine, make_session_factory
from tests.conftest import Stack
from tests.test_master_data import eventually, settled, view
from tests.test_reconcile import reconcile


async def seed_m3_items(stack: Stack, count: int) -> list[str]:
    """``count`` new items in M3 only (straight into its tables: no BODs, so no workflow knows)."""
    prefix = f"B{uuid.uuid4().hex[:5].upper()}"
    seeded = await stack.m3.post(
        "/_sandbox/seed-items", json={"count": count, "prefix": prefix, "warehouse": "100", "quantity": 5}
    )
    assert seeded.status_code == 200, seeded.text
    return [f"{prefix}{n:05d}" for n in range(1, count + 1)]


async def bng_products(stack: Stack, skus: list[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for start in range(0, len(skus), 200):
        response = await stack.bng.get(
            "/api/v1/products", params={"sku_in": ",".join(skus[start : start + 200]), "page_size": 500}
        )
        assert response.status_code == 200, response.text
        found.update({item["SKU"]: item for item in response.json()["items"]})
    return found


async def created_events(stack: Stack, skus: list[str], event_type: str = "product.created") -> Counter[str]:
    """How many webhooks of ``event_type`` BNG emitted per SKU: one per creation."""
    response = await stack.bng.get("/_sandbox/webhooks", params={"type": event_type})
    assert response.status_code == 200, response.text
    wanted = set(skus)
    return Counter(sku for entry in response.json() if (sku := entry["payload"]["data"].get("SKU")) in wanted)


async def all_delivered(stack: Stack, skus: list[str]) -> bool:
    response = await stack.bng.get("/_sandbox/webhooks", params={"type": "product.created"})
    wanted = set(skus)
    ours = [entry for entry in response.json() if entry["payload"]["data"].get("SKU") in wanted]
    return len(ours) == len(wanted) and all(entry["delivered"] for entry in ours)


def links(stack: Stack, keys: list[str], entity: str = "product") -> dict[str, xref.EntityLink]:
    engine = make_engine(stack.settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            return xref.links_by_bng_keys(session, entity, stack.settings.m3_cono, keys)
    finally:
        engine.dispose()


async def test_initial_load_creates_every_item_once_in_bulk(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 450)

    report = await reconcile(stack, "product", page_size=200)

    assert report.counts["bulk_created"] >= len(skus)
    products = await bng_products(stack, skus)
    assert set(products) == set(skus)
    assert products[skus[0]]["Name"] == f"Seeded item {skus[0]}"
    assert products[skus[0]]["ExternalID"] == skus[0]
    linked = links(stack, skus)
    assert set(linked) == set(skus)
    assert all(link.synced_state for link in linked.values())

    # Their product.created echoes were acknowledged without a workflow each (a few may arrive
    # before the page's links are written, and go to their workflows as before).
    await eventually(lambda: all_delivered(stack, skus), what="the product.created webhooks")
    started = await stack.client.count_workflows(f"WorkflowId STARTS_WITH 'product-{skus[0][:6]}'")
    assert started.count < len(skus) // 4, started.count

    # Run it twice: everything is linked and equal now, nothing is created again.
    again = await reconcile(stack, "product", page_size=200)
    assert again.counts.get("bulk_created", 0) == 0
    assert not {d.bng_key for d in again.differences} & set(skus), again.differences
    assert set((await created_events(stack, skus)).values()) == {1}


async def test_a_record_whose_workflow_runs_is_left_to_it(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 5)
    busy = skus[2]
    # Its workflow is running: parked, because BNG refused its create once.
    fault = {"method": "POST", "path_prefix": "/api/v1/products", "status": 422, "count": 1}
    assert (await stack.bng.post("/_sandbox/faults", json=fault)).status_code == 200
    await entity_workflows.notify_change(
        stack.client,
        stack.settings.task_queue,
        "product",
        busy,
        RecordChanged(origin=Side.M3, m3_key=busy, reason="test"),
        idle_minutes=stack.settings.sync_idle_minutes,
    )
    await settled(stack, "product", busy, SyncState.NEEDS_ATTENTION)

    report = await reconcile(stack, "product")

    assert report.counts["bulk_created"] >= len(skus) - 1
    # The record's own workflow created it, on the reconciliation's request; the rest came in bulk.
    history = (await view(stack, "product", busy)).history
    assert ("reconciliation", "created") in [(step.trigger, step.outcome) for step in history]
    assert set(await bng_products(stack, skus)) == set(skus)
    assert set((await created_events(stack, skus)).values()) == {1}


@contextlib.asynccontextmanager
async def answers_lost_after_commit(stack: Stack, path: str) -> AsyncIterator[list[dict[str, Any]]]:
    """BNG commits each POST to ``path``, then answers 503 (10 times at most); yields the fault
    rules still pending when the block ends (a rule whose count is used up is gone)."""
    fault = {"method": "POST", "path_prefix": path, "status": 503, "after_commit": True, "count": 10}
    assert (await stack.bng.post("/_sandbox/faults", json=fault)).status_code == 200
    pending: list[dict[str, Any]] = []
    try:
        yield pending
        pending += (await stack.bng.get("/_sandbox/faults")).json()
    finally:
        await stack.bng.delete("/_sandbox/faults")


async def test_a_lost_answer_on_the_batch_does_not_create_twice(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 30)
    # BNG commits the batch, then the answer is lost, on every attempt of the client.
    async with answers_lost_after_commit(stack, "/api/v1/products/batch") as pending:
        await reconcile(stack, "product")
    assert pending and pending[0]["count"] < 10, "the batch never lost its answer"

    assert set(await bng_products(stack, skus)) == set(skus)
    assert set((await created_events(stack, skus)).values()) == {1}
    assert set(links(stack, skus)) == set(skus)


async def test_a_lost_answer_on_a_balance_batch_does_not_set_a_level_twice(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 20)
    await reconcile(stack, "product")
    async with answers_lost_after_commit(stack, "/api/v1/inventory/batch") as pending:
        report = await reconcile(stack, "inventory")
    # A rule whose count is used up is removed: either way the batch lost its answer.
    assert not pending or pending[0]["count"] < 10, "the balance batch never lost its answer"

    assert report.phase == "done", report.error
    assert set(await bng_levels(stack, skus)) == set(skus)
    # One level set per SKU: the retry read BNG again and found what the lost answer had committed.
    assert set((await created_events(stack, skus, "inventory.updated")).values()) == {1}
    keys = [f"{sku}/100" for sku in skus]
    assert set(links(stack, keys, "inventory")) == set(keys)


async def test_a_changed_record_is_fixed_after_a_bulk_load(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 10)
    await reconcile(stack, "product")
    changed = skus[4]
    drift = {"kind": "product", "key": changed, "changes": {"Name": "Renamed behind m3bng"}}
    assert (await stack.bng.post("/_sandbox/drift", json=drift)).status_code == 200

    report = await reconcile(stack, "product")

    assert report.counts["differs"] >= 1 and report.counts["outcome_updated"] >= 1
    # M3 owns the name: BNG gets it back.
    assert (await bng_products(stack, [changed]))[changed]["Name"] == f"Seeded item {changed}"
    assert not {d.bng_key for d in report.differences} & (set(skus) - {changed})
    await settled(stack, "product", changed)


async def test_balances_of_loaded_items_are_set_in_bulk_once(stack: Stack) -> None:
    skus = await seed_m3_items(stack, 300)
    await reconcile(stack, "product")
    # Items BNG has no product for yet: BNG would refuse their levels, and a whole batch with them.
    orphans = await seed_m3_items(stack, 3)

    report = await reconcile(stack, "inventory")

    assert report.phase == "done", report.error
    assert not await bng_levels(stack, orphans)
    for sku in orphans:  # left to their workflows, which park them for lack of a product
        await settled(stack, "inventory", f"{sku}/100", SyncState.NEEDS_ATTENTION)
    keys = [f"{sku}/100" for sku in skus]
    assert report.counts["bulk_created"] >= len(keys)
    levels = await bng_levels(stack, skus)
    assert set(levels) == set(skus)
    assert float(str(levels[skus[0]]["QuantityOnHand"])) == 5
    assert set(links(stack, keys, "inventory")) == set(keys)
    again = await reconcile(stack, "inventory")
    assert again.counts.get("bulk_created", 0) == 0
    assert not {d.bng_key for d in again.differences} & set(keys), again.differences


async def bng_levels(stack: Stack, skus: list[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for start in range(0, len(skus), 200):
        params = {"warehouse": "100", "sku_in": ",".join(skus[start : start + 200]), "page_size": "500"}
        response = await stack.bng.get("/api/v1/inventory", params=params)
        assert response.status_code == 200, response.text
        found.update({item["SKU"]: item for item in response.json()["items"]})
    return found


def test_only_the_echo_of_a_creation_is_recognised(stack: Stack) -> None:
    sku = f"E{uuid.uuid4().hex[:8].upper()}"
    state = {"ITDS": "Echoed", "FUDS": "", "ITCL": "", "UNMS": "EA", "STAT": "20"}
    engine = make_engine(stack.settings.database_url)
    sessions = make_session_factory(engine)
    cono = stack.settings.m3_cono
    try:
        with sessions.begin() as session:
            xref.link_new_synced(
                session, "product", cono, [xref.NewLink(bng_key=sku, m3_key=sku, state=state)]
            )
        created = {"SKU": sku, "Name": "Echoed", "UnitOfMeasure": "EA", "Status": "Active", "ExternalID": sku}
        assert is_creation_echo(sessions, cono, "product", sku, created)
        assert not is_creation_echo(sessions, cono, "product", sku, {**created, "Name": "Changed in BNG"})
        assert not is_creation_echo(sessions, cono, "product", f"{sku}-NOT-LINKED", created)
        with sessions.begin() as session:
            xref.record_synced(session, "product", cono=cono, bng_key=sku, m3_key=sku, state=state)
        assert not is_creation_echo(sessions, cono, "product", sku, created), "synced since: not an echo"
    finally:
        engine.dispose()


async def test_the_batch_create_never_overwrites_and_replays_by_key(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    existing, new = f"BX{tag}1", f"BX{tag}2"
    first = await stack.bng.post("/api/v1/products", json={"SKU": existing, "Name": "Edited in BNG"})
    assert first.status_code == 201, first.text
    batch = {"products": [{"SKU": existing, "Name": "From M3"}, {"SKU": new, "Name": "From M3"}]}
    headers = {"Idempotency-Key": f"test-{tag}"}

    answer = await stack.bng.post("/api/v1/products/batch", json=batch, headers=headers)
    again = await stack.bng.post("/api/v1/products/batch", json=batch, headers=headers)

    assert answer.status_code == 200, answer.text
    results = {r["key"]: r for r in answer.json()["results"]}
    assert results[existing]["status"] == "exists" and results[existing]["item"]["Name"] == "Edited in BNG"
    assert results[new]["status"] == "created"
    assert again.json() == answer.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert (await bng_products(stack, [existing]))[existing]["Name"] == "Edited in BNG"
    too_many = {"products": [{"SKU": f"BX{tag}-{n}", "Name": "x"} for n in range(501)]}
    assert (await stack.bng.post("/api/v1/products/batch", json=too_many)).status_code == 422
