"""Order-to-cash end to end: BNG sandbox → webhook → Temporal workflow → M3 sandbox → BODs → BNG."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from clients.bng.webhooks import build_headers
from sandbox.bng.demo_data import make_demo_orders
from tests.conftest import WEBHOOK_SECRET, Stack
from workflows import search_attributes as sa
from workflows.models import CancelOrder, FixPayload, OrderToCashInput, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow


def demo_order(number: int, **changes: Any) -> dict[str, Any]:
    order = make_demo_orders(1, seed=number, start_number=number)[0].model_dump(
        mode="json", exclude_none=True
    )
    order.update(changes)
    return order


async def bng_history(stack: Stack, order_id: str) -> list[dict[str, Any]]:
    response = await stack.bng.get(f"/api/v1/orders/{order_id}/history")
    response.raise_for_status()
    return list(response.json())


async def test_happy_path_through_every_stage(stack: Stack) -> None:
    order = demo_order(30001)
    await stack.place_order(order)

    view = await stack.drive_to_paid(order["OrderID"])

    steps = [entry.step for entry in view.timeline]
    for stage in (
        Stage.VALIDATED,
        Stage.CUSTOMER_READY,
        Stage.ORDER_CREATED,
        Stage.ALLOCATED,
        Stage.SHIPPED,
        Stage.INVOICED,
        Stage.PAID,
    ):
        assert stage.value in steps
    assert view.m3_order_number and view.delivery_number and view.invoice
    # M3 confirmed one order for this BNG id, and its invoice is paid in accounts receivable.
    m3_order = (await stack.m3.get(f"/_sandbox/orders/{view.m3_order_number}")).json()
    assert m3_order["head"]["CUOR"] == order["OrderID"]
    ar = await stack.m3_open_item(view)
    assert Decimal(ar["OPAM"]) == 0 and Decimal(ar["CUAM"]) == view.invoice.total_amount
    # BNG saw every status, the delivery number and the invoice.
    statuses = [entry["OrderStatus"] for entry in await bng_history(stack, order["OrderID"])]
    for status in ("Accepted", "Allocated", "Shipped", "Invoiced", "Paid"):
        assert status in statuses
    bng_order = (await stack.bng.get(f"/api/v1/orders/{order['OrderID']}")).json()
    assert bng_order["M3OrderNumber"] == view.m3_order_number
    assert bng_order["DeliveryNumber"] == view.delivery_number
    assert bng_order["Invoice"]["InvoiceNumber"] == view.invoice.invoice_number
    assert Decimal(str(bng_order["Invoice"]["TotalAmount"])) == view.invoice.total_amount
    handle = stack.client.get_workflow_handle_for(
        OrderToCashWorkflow.run, order_workflow_id(order["OrderID"])
    )
    assert (await handle.result()).stage == Stage.PAID
    # The recorded history replays against today's workflow code: it is deterministic.
    replayer = Replayer(workflows=[OrderToCashWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(await handle.fetch_history())


async def test_search_attributes_find_the_order(stack: Stack) -> None:
    order = demo_order(30011)
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED)

    query = f'BngOrderId = "{order["OrderID"]}" AND M3OrderNumber = "{view.m3_order_number}"'
    deadline = time.monotonic() + 10
    found: list[str] = []
    while time.monotonic() < deadline and not found:
        found = [wf.id async for wf in stack.client.list_workflows(query)]
    assert found == [order_workflow_id(order["OrderID"])]
    await stack.drive_to_paid(order["OrderID"])


async def test_duplicate_webhooks_make_one_workflow_and_one_m3_order(stack: Stack) -> None:
    await stack.bng.post("/_sandbox/knobs", json={"duplicate_delivery_rate": 1.0})
    order = demo_order(30021)
    await stack.place_order(order)
    await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED)
    await stack.bng.post("/_sandbox/knobs", json={"duplicate_delivery_rate": 0})

    deliveries = [
        d for d in (await stack.bng.get("/_sandbox/webhooks")).json() if d["type"] == "order.created"
    ]
    (mine,) = [d for d in deliveries if d["payload"]["data"]["OrderID"] == order["OrderID"]]
    assert mine["deliveries"] >= 2, "the sandbox did not deliver twice"

    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert len([c for c in heads if c["outcome"] == "ok"]) == 1
    runs = [
        wf
        async for wf in stack.client.list_workflows(f'WorkflowId = "{order_workflow_id(order["OrderID"])}"')
    ]
    assert len(runs) == 1
    await stack.drive_to_paid(order["OrderID"])


async def test_webhook_with_bad_signature_is_refused(stack: Stack) -> None:
    order_id = f"BNG-FORGED-{uuid.uuid4().hex[:6]}"
    body = json.dumps(
        {"type": "order.created", "timestamp": "2026-11-24T10:00:00Z", "data": {"OrderID": order_id}}
    )
    headers = build_headers(
        "whsec_" + "d3JvbmctLXNlY3JldC0tMzItYnl0ZXMtbG9uZy0tLS0=", "msg_forged", body.encode()
    )
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{stack.receiver_url}/webhooks/bng", content=body, headers=headers)
    assert response.status_code == 401
    runs = [wf async for wf in stack.client.list_workflows(f'WorkflowId = "{order_workflow_id(order_id)}"')]
    assert runs == []


async def test_signed_webhook_with_a_replayed_timestamp_is_refused(stack: Stack) -> None:
    body = json.dumps({"type": "order.created", "timestamp": "2026-11-24T10:00:00Z", "data": {}}).encode()
    headers = build_headers(WEBHOOK_SECRET, "msg_old", body, timestamp=int(time.time()) - 3600)
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{stack.receiver_url}/webhooks/bng", content=body, headers=headers)
    assert response.status_code == 401


async def test_invalid_payload_is_parked_then_fixed_by_an_update(stack: Stack) -> None:
    order = demo_order(30031)
    broken = {**order, "OrderDate": "not a date", "Lines": [{**order["Lines"][0], "Quantity": 0}]}
    response = await stack.bng.post("/_sandbox/emit", json={"type": "order.created", "data": broken})
    assert response.status_code in (200, 201, 202), response.text

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention is not None and view.attention.kind == "invalid_payload"
    assert any("Quantity" in issue.field for issue in view.attention.issues)

    handle = stack.client.get_workflow_handle(order_workflow_id(order["OrderID"]))
    # Still wrong: the date cannot be converted; the order stays parked, the error names the field.
    await handle.execute_update(
        OrderToCashWorkflow.fix_payload, FixPayload(payload={**order, "OrderDate": "yesterday"})
    )
    await _eventually_attention_names(stack, order["OrderID"], "ORDT")

    # Now BNG really holds the order; its new order.created webhook joins the running workflow.
    await stack.place_order(order)
    await handle.execute_update(OrderToCashWorkflow.fix_payload, FixPayload(payload=order, reason="fixed"))
    view = await stack.drive_to_paid(order["OrderID"])
    assert "Payload corrected" in [entry.step for entry in view.timeline]


async def _eventually_attention_names(stack: Stack, order_id: str, field: str) -> None:
    for _ in range(100):
        view = await stack.view(order_id)
        if view.attention and any(issue.field == field for issue in view.attention.issues):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"attention never named {field}: {view.attention}")


async def test_unknown_item_is_parked_with_m3_code_then_cancelled(stack: Stack) -> None:
    order = demo_order(30041)
    order["Lines"].append(
        {
            "LineNumber": 99,
            "SKU": "SCOOTER-X",
            "Quantity": "1",
            "UnitPrice": "1299.00",
            "ProductCategory": "BIKES",
        }
    )
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention and view.attention.kind == "m3_business_error"
    assert view.attention.m3_program == "MMS200MI" and view.attention.m3_code
    assert "SCOOTER-X" in view.attention.summary

    handle = stack.client.get_workflow_handle_for(
        OrderToCashWorkflow.run, order_workflow_id(order["OrderID"])
    )
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            OrderToCashWorkflow.fix_payload, FixPayload(payload={**order, "OrderID": "other"})
        )
    await handle.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason="customer withdrew"))
    result = await handle.result()
    assert result.stage == Stage.CANCELLED
    statuses = [entry["OrderStatus"] for entry in await bng_history(stack, order["OrderID"])]
    assert statuses[-1] == "Cancelled" and "OnHold" in statuses


async def test_blocked_customer_is_parked_with_m3_message(stack: Stack) -> None:
    order = demo_order(30051, CustomerID="CUST-1003", CompanyName="Blocked Bikes GmbH")
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention and view.attention.m3_transaction == "AddBatchHead"
    assert view.attention.m3_code and "block" in view.attention.summary.lower()
    # M3 refused the head, so nothing was created that would need undoing.
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert heads and all(c["outcome"] == "nok" for c in heads)
    assert view.m3_temporary_order_number is None and view.m3_order_number is None


async def test_lines_failing_after_the_head_exists_are_compensated(stack: Stack) -> None:
    order = demo_order(30061, StoreID="WEB")
    # TRAILER-KID is an active M3 item that no warehouse stocks: GetItmBasic is fine, but
    # AddBatchLine says NOK once the head exists.
    order["Lines"].append({"LineNumber": 98, "SKU": "TRAILER-KID", "Quantity": "1", "UnitPrice": "199.00"})
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention is not None and view.attention.m3_transaction == "AddBatchLine"
    assert "Compensated" in [entry.step for entry in view.timeline]
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert len(heads) == 1
    temp = heads[0]["response"]["ORNO"]
    deleted = [c for c in await stack.m3_calls("OIS100MI", "DelBatchHead") if c["outcome"] == "ok"]
    assert [c["record"]["ORNO"] for c in deleted if c["record"]["ORNO"] == temp] == [temp]
    await stack.client.get_workflow_handle(order_workflow_id(order["OrderID"])).execute_update(
        OrderToCashWorkflow.cancel, CancelOrder(reason="test done")
    )


async def test_m3_5xx_and_429_are_retried_to_success(stack: Stack) -> None:
    await stack.m3.post(
        "/_sandbox/faults",
        json={"program": "OIS100MI", "transaction": "AddBatchHead", "status": 503, "count": 2},
    )
    await stack.m3.post(
        "/_sandbox/faults",
        json={"program": "OIS100MI", "transaction": "Confirm", "status": 429, "count": 2, "retry_after": 1},
    )
    order = demo_order(30071)
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED, timeout=60)
    assert view.m3_order_number
    confirms = await stack.m3_calls("OIS100MI", "Confirm")
    assert [c["outcome"] for c in confirms if c["outcome"] == "fault"], "the 429 faults were never hit"
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert len([c for c in heads if c["outcome"] == "ok"]) == 1
    await stack.drive_to_paid(order["OrderID"])


async def test_a_value_too_long_for_m3_is_an_error_naming_the_field(stack: Stack) -> None:
    order = demo_order(30091, OrderID="BNG-30091-WITH-A-LONG-SUFFIX")  # CUOR is A20 and never cut
    await stack.bng.post("/_sandbox/emit", json={"type": "order.created", "data": order})

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention is not None and view.attention.kind == "invalid_payload"
    (issue,) = view.attention.issues
    assert issue.field == "CUOR" and issue.source == "OrderID" and "20" in issue.message


async def test_local_calls_keep_a_paid_orders_history_short(stack: Stack) -> None:
    """The receiver starts orders with local calls (settings.order_calls): one marker event per
    call and one search-attribute update per wait. The same order with every call a regular
    activity (as before) takes about twice the history; both have the same timeline."""
    local, regular = demo_order(30401), demo_order(30402)
    await stack.client.start_workflow(
        OrderToCashWorkflow.run,
        OrderToCashInput(bng_order_id=regular["OrderID"], payload=regular, calls="activities"),
        id=order_workflow_id(regular["OrderID"]),
        task_queue=stack.settings.task_queue,
    )
    await stack.place_order(regular)  # its webhook joins the running workflow
    await stack.place_order(local)
    lengths: dict[str, int] = {}
    steps: dict[str, list[str]] = {}
    for order in (local, regular):
        view = await stack.drive_to_paid(order["OrderID"])
        steps[order["OrderID"]] = [entry.step for entry in view.timeline]
        handle = stack.client.get_workflow_handle(order_workflow_id(order["OrderID"]))
        lengths[order["OrderID"]] = len((await handle.fetch_history()).events)

    short, long = lengths[local["OrderID"]], lengths[regular["OrderID"]]
    assert short < 0.6 * long, lengths
    # The same steps on both timelines (how often BNG is told depends on the order BODs arrive in).
    assert set(steps[local["OrderID"]]) == set(steps[regular["OrderID"]])
    # Visibility shows where the order rests, with the M3 numbers, as before.
    described = await stack.client.get_workflow_handle(order_workflow_id(local["OrderID"])).describe()
    attributes = described.typed_search_attributes
    assert attributes.get(sa.ORDER_STAGE) == Stage.PAID.value
    assert attributes.get(sa.M3_ORDER_NUMBER) and attributes.get(sa.M3_CUSTOMER_NUMBER)


async def test_a_new_order_is_written_without_looking_in_m3_first(stack: Stack) -> None:
    """No attempt can have written a new order's head, lines or confirmation: the first attempt
    writes at once (the attempt is recorded first), and only a later attempt looks in M3."""
    order = demo_order(30411)
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    assert len(heads) == 1
    temp = heads[0]["response"]["ORNO"]
    (confirm,) = [c for c in await stack.m3_calls("OIS100MI", "Confirm") if c["record"].get("ORNO") == temp]
    # LstHead names only the customer: count the ones between this order's head and confirmation.
    looks = [
        c
        for c in await stack.m3_calls("OIS100MI", "LstHead")
        if c["record"].get("CUNO") == view.m3_customer_number and heads[0]["seq"] < c["seq"] < confirm["seq"]
    ]
    looks += [
        c
        for c in await stack.m3_calls("OIS100MI", "LstBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    looks += [c for c in await stack.m3_calls("OIS100MI", "LstBatchLine") if c["record"].get("ORNO") == temp]
    assert looks == []


async def test_an_item_m3_called_sellable_is_not_asked_again_for_the_next_order(stack: Stack) -> None:
    """MMS200MI/GetItmBasic once per item per cache time (settings.item_check_cache_seconds);
    an item with a problem is asked again each time, so a fixed item is seen at once."""

    async def asked(itno: str) -> int:
        return sum(
            1
            for call in await stack.m3_calls("MMS200MI", "GetItmBasic")
            if call["record"].get("ITNO") == itno
        )

    first = demo_order(30421)
    sku = first["Lines"][0]["SKU"]
    await stack.place_order(first)
    await stack.wait_for_stage(first["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    before = await asked(sku)
    assert before >= 1

    second = demo_order(30422)
    second["Lines"] = [{**first["Lines"][0], "LineNumber": 1}]
    await stack.place_order(second)
    await stack.wait_for_stage(second["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    assert await asked(sku) == before

    blocked = []
    for number in (30423, 30424):
        order = demo_order(number)
        order["Lines"].append({"LineNumber": 97, "SKU": "SCOOTER-X", "Quantity": "1", "UnitPrice": "1.00"})
        await stack.place_order(order)
        await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
        blocked.append(await asked("SCOOTER-X"))
    assert blocked[1] > blocked[0]
