"""Two-way master-data sync end to end: BNG webhooks and M3 BODs over HTTP, entity workflows on the
real Temporal dev server, the sandboxes as the two systems."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from activities.master_data.models import (
    EntitySyncInput,
    EntitySyncView,
    RecordChanged,
    Resolution,
    SyncAttention,
    SyncState,
    entity_workflow_id,
)
from clients.m3.client import M3Client
from clients.m3.errors import M3BusinessError
from mapping.ownership import Side
from starter.sync_routing import notify_change
from tests.conftest import Stack
from workflows.master_data import EntitySyncWorkflow, failure_attention


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 45, what: str = "") -> Any:
    """Poll until ``check`` returns something truthy; the last value is shown on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await check()
        except Exception as error:  # not there yet
            last = error
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def m3_call(stack: Stack, program: str, transaction: str, **fields: str) -> list[dict[str, str]]:
    """Change M3 as an M3 user would: an MI call, which publishes its BOD."""
    async with M3Client.from_ionapi_file(stack.settings.m3_ionapi, cono=stack.settings.m3_cono) as client:
        return await client.execute(program, transaction, fields)


async def m3_get(stack: Stack, program: str, transaction: str, **fields: str) -> dict[str, str] | None:
    async with M3Client.from_ionapi_file(stack.settings.m3_ionapi, cono=stack.settings.m3_cono) as client:
        try:
            return await client.get_one(program, transaction, fields)
        except M3BusinessError:
            return None


async def view(stack: Stack, entity: str, key: str) -> EntitySyncView:
    handle = stack.client.get_workflow_handle(entity_workflow_id(entity, key))
    return await handle.query(EntitySyncWorkflow.status)


async def settled(stack: Stack, entity: str, key: str, *states: SyncState) -> EntitySyncView:
    async def check() -> EntitySyncView | None:
        current = await view(stack, entity, key)
        return current if current.state in (states or (SyncState.IN_SYNC,)) and not current.pending else None

    return await eventually(check, what=f"{entity} {key} to settle")


async def calls(stack: Stack, program: str, transaction: str) -> list[dict[str, Any]]:
    return await stack.m3_calls(program, transaction)


async def m3_knobs(stack: Stack, **knobs: Any) -> None:
    response = await stack.m3.post("/_sandbox/knobs", json=knobs)
    assert response.status_code == 200, response.text


async def bng_drift(stack: Stack, kind: str, key: str, changes: dict[str, Any]) -> None:
    response = await stack.bng.post("/_sandbox/drift", json={"kind": kind, "key": key, "changes": changes})
    assert response.status_code == 200, response.text


def customer(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "CustomerID": customer_id,
        "CompanyName": f"Velo {customer_id}",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Email": f"{customer_id.lower()}@example.com",
        "Phone": "+49 30 1234",
        "BillingAddress": {"Line1": "Hauptstr. 1", "City": "Berlin", "PostalCode": "10115", "Country": "DE"},
        "ShippingAddress": {"Line1": "Lager 7", "City": "Potsdam", "PostalCode": "14467", "Country": "DE"},
        "CreditLimit": "5000",
        **fields,
    }


async def create_bng_customer(stack: Stack, **fields: Any) -> tuple[str, str]:
    """A customer created in BNG; returns its id and the M3 customer number it got."""
    customer_id = fields.pop("CustomerID", unique("CUST"))
    response = await stack.bng.post("/api/v1/customers", json=customer(customer_id, **fields))
    assert response.status_code == 201, response.text
    current = await settled(stack, "customer", customer_id)
    assert current.m3_key
    return customer_id, current.m3_key


@pytest.fixture(autouse=True)
async def _master_data_bods_on(stack: Stack) -> Any:
    yield
    await m3_knobs(stack, master_data_bods=True)


# -- customers ---------------------------------------------------------------------------------


async def test_bng_customer_created_in_m3_with_addresses_and_linked(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)

    basic = await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno)
    assert basic is not None
    assert (basic["CUNM"], basic["MAIL"], basic["TOWN"], basic["CSCD"]) == (
        f"Velo {customer_id}",
        f"{customer_id.lower()}@example.com",
        "Berlin",
        "DE",
    )
    shipping = await m3_get(
        stack, "CRS610MI", "GetAddress", CUNO=cuno, ADRT="1", ADID=stack.settings.m3_shipping_address_id
    )
    assert shipping is not None and (shipping["CUA1"], shipping["TOWN"]) == ("Lager 7", "Potsdam")
    financial = await m3_get(stack, "CRS610MI", "GetFinancial", CUNO=cuno)
    assert financial is not None and float(financial["CRL2"]) == 5000
    bng = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
    assert bng["ExternalID"] == cuno


async def test_bng_customer_change_reaches_m3_and_its_echo_is_suppressed(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    before = len(await calls(stack, "CRS610MI", "ChgBasicData"))

    response = await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"Phone": "+49 30 9999"})
    assert response.status_code == 200

    async def phone_in_m3() -> bool:
        basic = await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno)
        return basic is not None and basic["PHNO"] == "+49 30 9999"

    await eventually(phone_in_m3, what="the phone in M3")
    current = await settled(stack, "customer", customer_id)
    # M3 published a BOD for the change m3bng made; it came back and was recognised as an echo.
    await eventually(
        lambda: _has_outcome(stack, "customer", customer_id, "echo"), what="the BOD echo to be recorded"
    )
    assert len(await calls(stack, "CRS610MI", "ChgBasicData")) == before + 1, current.history
    bng = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
    assert bng["Phone"] == "+49 30 9999"


async def _has_outcome(stack: Stack, entity: str, key: str, outcome: str) -> bool:
    return any(step.outcome == outcome for step in (await view(stack, entity, key)).history)


async def test_m3_customer_change_reaches_bng(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)

    await m3_call(stack, "CRS610MI", "ChgBasicData", CUNO=cuno, MAIL="orders@velo.example")

    async def email_in_bng() -> bool:
        body = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
        return bool(body["Email"] == "orders@velo.example")

    await eventually(email_in_bng, what="the M3 email in BNG")


async def test_ownership_credit_limit_flows_from_m3_only(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)

    # Finance owns the credit limit: M3's change reaches BNG ...
    await m3_call(stack, "CRS610MI", "ChgFinancial", CUNO=cuno, CRL2="7500")

    async def bng_credit(value: float) -> bool:
        body = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
        return float(body["CreditLimit"] or 0) == value

    await eventually(lambda: bng_credit(7500), what="M3's credit limit in BNG")

    # ... while a BNG change to it is not propagated, and BNG gets the owner's value back.
    chg_financial = len(await calls(stack, "CRS610MI", "ChgFinancial"))
    response = await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"CreditLimit": "99999"})
    assert response.status_code == 200
    await eventually(lambda: bng_credit(7500), what="BNG's credit limit restored")
    await settled(stack, "customer", customer_id)
    financial = await m3_get(stack, "CRS610MI", "GetFinancial", CUNO=cuno)
    assert financial is not None and float(financial["CRL2"]) == 7500
    assert len(await calls(stack, "CRS610MI", "ChgFinancial")) == chg_financial


async def test_conflict_is_parked_with_both_versions_then_resolved(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)

    # Both systems change the phone (owned by both) without either event arriving first.
    await m3_knobs(stack, master_data_bods=False)
    await m3_call(stack, "CRS610MI", "ChgBasicData", CUNO=cuno, PHNO="+49 111")
    await bng_drift(stack, "customer", customer_id, {"Phone": "+49 222"})
    await m3_knobs(stack, master_data_bods=True)

    await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"FirstName": "Grace"})
    parked = await settled(stack, "customer", customer_id, SyncState.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "conflict"
    assert [(c.field, c.bng, c.m3) for c in parked.attention.conflicts] == [("PHNO", "+49 222", "+49 111")]
    # Nothing was overwritten while parked.
    assert (await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno) or {})["PHNO"] == "+49 111"

    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    outcome = await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(winner=Side.M3))
    assert outcome.outcome == "updated", outcome
    body = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
    assert body["Phone"] == "+49 111"
    assert (await view(stack, "customer", customer_id)).attention is None


async def test_duplicate_candidate_is_matched_instead_of_created(stack: Stack) -> None:
    email = f"{unique('dup').lower()}@example.com"
    # A customer M3 had before the integration: no event announces it.
    await m3_knobs(stack, master_data_bods=False)
    [created] = await m3_call(
        stack, "CRS610MI", "Add", CUTM="TEMPLATE", CUNM="Existing Velo GmbH", CUA1="Weg 1", MAIL=email
    )
    await m3_knobs(stack, master_data_bods=True)
    existing = created["CUNO"]
    adds = len(await calls(stack, "CRS610MI", "Add"))

    customer_id, cuno = await create_bng_customer(stack, Email=email)

    assert cuno == existing
    assert len(await calls(stack, "CRS610MI", "Add")) == adds
    body = (await stack.bng.get(f"/api/v1/customers/{customer_id}")).json()
    assert body["ExternalID"] == existing


async def test_ambiguous_match_is_parked_then_created_new_on_request(stack: Stack) -> None:
    email = f"{unique('amb').lower()}@example.com"
    await m3_knobs(stack, master_data_bods=False)
    for name in ("Velo One", "Velo Two"):
        await m3_call(stack, "CRS610MI", "Add", CUTM="TEMPLATE", CUNM=name, CUA1="Weg 2", MAIL=email)
    await m3_knobs(stack, master_data_bods=True)
    customer_id = unique("CUST")
    response = await stack.bng.post("/api/v1/customers", json=customer(customer_id, Email=email))
    assert response.status_code == 201

    parked = await settled(stack, "customer", customer_id, SyncState.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.kind == "ambiguous-match"
    assert len(parked.attention.candidates) == 2
    assert parked.m3_key is None or parked.m3_key not in {c["m3_key"] for c in parked.attention.candidates}

    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    outcome = await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(create_new=True))
    assert outcome.outcome == "created", outcome
    current = await view(stack, "customer", customer_id)
    assert current.m3_key not in {c["m3_key"] for c in parked.attention.candidates}


async def test_bng_customer_deleted_is_deactivated_in_m3(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    response = await stack.bng.delete(f"/api/v1/customers/{customer_id}")
    assert response.status_code in (200, 204)

    async def inactive() -> bool:
        return (await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno) or {}).get("STAT") == "90"

    await eventually(inactive, what="the M3 customer deactivated")


async def test_rapid_updates_are_applied_in_order(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    phones = [f"+49 555 {n}" for n in range(6)]
    for phone in phones:
        response = await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"Phone": phone})
        assert response.status_code == 200

    async def last_phone_in_m3() -> bool:
        return (await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno) or {}).get("PHNO") == phones[-1]

    await eventually(last_phone_in_m3, what="the last phone in M3")
    await settled(stack, "customer", customer_id)
    written = [
        call["record"]["PHNO"]
        for call in await calls(stack, "CRS610MI", "ChgBasicData")
        if call["record"].get("CUNO") == cuno and call["record"].get("PHNO", "").startswith("+49 555")
    ]
    # Coalesced or not, M3 never went back to an older value.
    assert written == sorted(written) and written[-1] == phones[-1], written


# -- products, suppliers, inventory -------------------------------------------------------------


async def test_m3_item_reaches_bng_and_bng_description_flows_back(stack: Stack) -> None:
    sku = unique("ITEM")
    await m3_call(
        stack,
        "MMS200MI",
        "AddItmBasic",
        ITNO=sku,
        ITDS="Trail bell",
        UNMS="EA",
        ITTY="FGD",
        STAT="20",
        ITCL="A20",
        MABU="2",
    )

    async def product() -> dict[str, Any] | None:
        response = await stack.bng.get(f"/api/v1/products/{sku}")
        return response.json() if response.status_code == 200 else None

    body = await eventually(product, what="the M3 item as a BNG product")
    assert (body["Name"], body["ProductCategory"], body["Status"]) == ("Trail bell", "ACCESSORIES", "Active")
    await settled(stack, "product", sku)

    await m3_call(stack, "MMS200MI", "UpdItmBasic", ITNO=sku, ITDS="Trail bell XL")
    await eventually(
        lambda: _field_is(stack, f"/api/v1/products/{sku}", "Name", "Trail bell XL"), what="name"
    )

    response = await stack.bng.patch(f"/api/v1/products/{sku}", json={"Description": "Loud and clear"})
    assert response.status_code == 200

    async def description_in_m3() -> bool:
        return (await m3_get(stack, "MMS200MI", "GetItmBasic", ITNO=sku) or {}).get(
            "FUDS"
        ) == "Loud and clear"

    await eventually(description_in_m3, what="BNG's description in M3")


async def _field_is(stack: Stack, path: str, field: str, value: Any) -> bool:
    response = await stack.bng.get(path)
    return response.status_code == 200 and response.json().get(field) == value


async def test_suppliers_sync_both_ways(stack: Stack) -> None:
    vendor_id = unique("VEND")
    response = await stack.bng.post(
        "/api/v1/vendors",
        json={
            "VendorID": vendor_id,
            "Name": "Gears Ltd",
            "Phone": "+44 20 1",
            "Currency": "GBP",
            "Address": {"Line1": "1 Dock", "City": "London", "PostalCode": "E1", "Country": "GB"},
        },
    )
    assert response.status_code == 201, response.text
    current = await settled(stack, "supplier", vendor_id)
    suno = current.m3_key
    assert suno
    supplier = await m3_get(stack, "CRS620MI", "GetBasicData", SUNO=suno)
    assert supplier is not None and (supplier["SUNM"], supplier["CSCD"]) == ("Gears Ltd", "GB")

    await m3_call(stack, "CRS620MI", "UpdSupplier", SUNO=suno, SUNM="Gears Limited")
    await eventually(
        lambda: _field_is(stack, f"/api/v1/vendors/{vendor_id}", "Name", "Gears Limited"),
        what="supplier name",
    )


async def test_m3_balance_change_reaches_bng_inventory(stack: Stack) -> None:
    await m3_call(
        stack, "MMS850MI", "AddAdjust", **_adjust(stack, warehouse="100", item="BIKE-RED-26", quantity="3")
    )
    await _bng_follows_m3_balance(stack, warehouse="100", item="BIKE-RED-26")


async def _bng_follows_m3_balance(stack: Stack, *, warehouse: str, item: str) -> None:
    balance = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO=warehouse, ITNO=item)
    assert balance is not None

    async def level_matches() -> bool:
        response = await stack.bng.get(f"/api/v1/inventory/{item}/{warehouse}")
        if response.status_code != 200:
            return False
        return float(response.json()["QuantityOnHand"]) == float(balance["STQT"])

    await eventually(level_matches, what="BNG inventory to follow M3")


async def test_a_burst_of_stock_changes_is_synced_once(stack: Stack) -> None:
    """M3 sends a BOD per change; the balance's workflow lets them settle and looks once."""
    adjust = _adjust(stack, warehouse="100", item="BIKE-BLU-28", quantity="1")
    for _ in range(3):
        await m3_call(stack, "MMS850MI", "AddAdjust", **adjust)
    await _bng_follows_m3_balance(stack, warehouse="100", item="BIKE-BLU-28")
    handle = stack.client.get_workflow_handle(entity_workflow_id("inventory", "BIKE-BLU-28/100"))
    view = await handle.query(EntitySyncWorkflow.status)
    assert view.changes_seen >= 3
    assert any("coalesced" in step.trigger for step in view.history), view.history


def _adjust(stack: Stack, *, warehouse: str, item: str, quantity: str) -> dict[str, str]:
    return {
        "PRFL": "*EXE",
        "E0PA": stack.settings.m3_adjustment_reason,
        "E065": stack.settings.m3_adjustment_reason,
        "WHLO": warehouse,
        "ITNO": item,
        "QLQT": quantity,
        "RSCD": stack.settings.m3_adjustment_reason,
    }


async def test_wms_stock_count_in_bng_is_adjusted_in_m3(stack: Stack) -> None:
    before = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="BIKE-RED-26")
    assert before is not None, "warehouse 300 (BNG's WMS) must stock BIKE-RED-26 in the demo data"
    target = float(before["STQT"]) + 4
    response = await stack.bng.put(
        "/api/v1/inventory/BIKE-RED-26/300",
        json={"QuantityOnHand": str(target), "QuantityAvailable": str(target)},
    )
    assert response.status_code == 200, response.text

    async def m3_counted() -> bool:
        balance = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="BIKE-RED-26")
        return balance is not None and float(balance["STQT"]) == target

    await eventually(m3_counted, what="M3 adjusted to BNG's WMS count")
    assert any(call["record"].get("WHLO") == "300" for call in await calls(stack, "MMS850MI", "AddAdjust"))


async def test_a_long_lived_entity_workflow_continues_as_new_and_keeps_its_state(stack: Stack) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    await handle.terminate("restart with a short run length")
    first = await stack.client.start_workflow(
        EntitySyncWorkflow.run,
        EntitySyncInput(entity="customer", bng_key=customer_id, m3_key=cuno, changes_per_run=3),
        id=entity_workflow_id("customer", customer_id),
        task_queue=stack.settings.task_queue,
    )
    for n in range(4):
        outcome = await first.execute_update(
            EntitySyncWorkflow.sync_now, RecordChanged(origin=Side.BNG, reason=f"change {n}")
        )
        assert outcome.outcome in ("in-sync", "echo"), outcome

    latest = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    description = await latest.describe()
    assert description.run_id != first.result_run_id
    current = await latest.query(EntitySyncWorkflow.status)
    assert current.changes_seen >= 4 and current.m3_key == cuno
    assert [step.trigger for step in current.history][-4:] == [f"change {n}" for n in range(4)]


# -- failures retrying cannot fix park the record; operators retry, skip or resolve one at a time ---


async def m3_outage(stack: Stack, *, on: bool) -> None:
    """Every CRS610MI call answers 500, far more often than any retry window allows."""
    if on:
        rule = {"program": "CRS610MI", "transaction": "GetBasicData", "status": 500, "count": 100_000}
        response = await stack.m3.post("/_sandbox/faults", json=rule)
    else:
        response = await stack.m3.delete("/_sandbox/faults")
    assert response.status_code == 200, response.text


async def test_outage_longer_than_the_retry_window_parks_the_record_until_an_operator_decides(
    stack: Stack,
) -> None:
    customer_id, cuno = await create_bng_customer(stack)
    handle = stack.client.get_workflow_handle(entity_workflow_id("customer", customer_id))
    await handle.terminate("restart with a short retry window")
    handle = await stack.client.start_workflow(
        EntitySyncWorkflow.run,
        EntitySyncInput(
            entity="customer", bng_key=customer_id, m3_key=cuno, retry_window=timedelta(seconds=3)
        ),
        id=entity_workflow_id("customer", customer_id),
        task_queue=stack.settings.task_queue,
    )
    change = RecordChanged(origin=Side.BNG, reason="during the outage")
    await m3_outage(stack, on=True)
    try:
        outcome = await handle.execute_update(EntitySyncWorkflow.sync_now, change)
        assert outcome.outcome == "parked", outcome
        parked = await view(stack, "customer", customer_id)
        assert parked.state is SyncState.NEEDS_ATTENTION
        assert parked.attention is not None and parked.attention.kind == "outage", parked.attention
        assert parked.attention.data["activity"] == "inspect_record"
        assert parked.attention.data["retry_state"] in ("TIMEOUT", "MAXIMUM_ATTEMPTS_REACHED")

        # A retry while M3 is still down: accepted, and a second decision meanwhile is refused
        # instead of being left waiting for an answer the first one takes.
        first = await handle.start_update(
            EntitySyncWorkflow.resolve, Resolution(), wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(winner=Side.M3))
        assert "being resolved" in str(refused.value.cause)
        assert (await first.result()).outcome == "parked"

        with pytest.raises(WorkflowUpdateFailedError) as no_reason:
            await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(skip=True))
        assert "needs a reason" in str(no_reason.value.cause)
        skipped = await handle.execute_update(
            EntitySyncWorkflow.resolve, Resolution(skip=True, note="M3 maintenance, reconcile later")
        )
        assert skipped.outcome == "skipped"
        assert (await view(stack, "customer", customer_id)).attention is None

        outcome = await handle.execute_update(EntitySyncWorkflow.sync_now, change)
        assert outcome.outcome == "parked"
    finally:
        await m3_outage(stack, on=False)

    # The outage is over: the operator's retry syncs it, and the workflow never failed.
    outcome = await handle.execute_update(EntitySyncWorkflow.resolve, Resolution(note="M3 is back"))
    assert outcome.outcome in ("in-sync", "echo"), outcome
    current = await view(stack, "customer", customer_id)
    assert current.state is SyncState.IN_SYNC and current.attention is None
    assert [step.outcome for step in current.history][-5:] == [
        "parked",
        "parked",
        "skipped",
        "parked",
        outcome.outcome,
    ]
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


def _activity_error(cause: BaseException, retry_state: RetryState) -> ActivityError:
    error = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="apply_plan",
        activity_id="3",
        retry_state=retry_state,
    )
    error.__cause__ = cause
    return error


NOW = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cause", "retry_state", "kind"),
    [
        (
            ApplicationError("boom", type="KeyError", non_retryable=True),
            RetryState.NON_RETRYABLE_FAILURE,
            "unexpected",
        ),
        (ApplicationError("502 from M3", type="M3TransientError"), RetryState.TIMEOUT, "outage"),
        (
            ApplicationError("502 from M3", type="M3TransientError"),
            RetryState.MAXIMUM_ATTEMPTS_REACHED,
            "outage",
        ),
        (
            ApplicationError(
                "CRS610MI/ChgBasicData: no",
                {"program": "CRS610MI", "code": "WCU0203", "transaction": "ChgBasicData", "message": "no"},
                type="M3BusinessError",
                non_retryable=True,
            ),
            RetryState.NON_RETRYABLE_FAILURE,
            "m3_business_error",
        ),
        (
            ApplicationError("422", type="BngBusinessError", non_retryable=True),
            RetryState.NON_RETRYABLE_FAILURE,
            "bng_business_error",
        ),
        (
            ApplicationError(
                "bad",
                [{"field": "MAIL", "message": "bad", "source": "Email"}],
                type="InvalidRecord",
                non_retryable=True,
            ),
            RetryState.NON_RETRYABLE_FAILURE,
            "invalid_record",
        ),
    ],
)
def test_every_failure_retrying_cannot_fix_has_a_class(
    cause: BaseException, retry_state: RetryState, kind: str
) -> None:
    attention = failure_attention(_activity_error(cause, retry_state), NOW)
    assert attention.kind == kind
    assert attention.summary and attention.since == NOW
    if kind == "m3_business_error":
        assert attention.data["code"] == "WCU0203"


def test_attention_carried_over_with_old_kind_names_still_loads() -> None:
    assert SyncAttention.model_validate({"kind": "m3-rejected", "summary": "x"}).kind == "m3_business_error"


async def test_a_quiet_entity_workflow_finishes_after_its_idle_time(stack: Stack) -> None:
    # Its idle timer raises the builtin TimeoutError; catching Temporal's class instead wedged it.
    workflow_id = await notify_change(
        stack.client,
        stack.settings.task_queue,
        "customer",
        unique("CUST-IDLE"),
        RecordChanged(origin=Side.BNG, event_id=unique("evt"), reason="test"),
        idle_minutes=0.02,
    )
    handle = stack.client.get_workflow_handle(workflow_id)
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
