"""The Temporal UI reads like the CLI: what each activity does, and what each workflow is about.

Every activity is scheduled with a summary naming the M3 transaction or the BNG call and the
business key (temporalio's ``summary``, stored as the event's user metadata); every workflow starts
with a static summary and details (document id, customer or vendor, amounts), and shows its stage
as current details. A summary is metadata beside a command, not part of it: a history recorded
before the summaries existed replays against today's code.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.bng_purchasing import PushPurchaseOrderStatusInput
from activities.m3_items import CheckItemsInput
from activities.m3_orders import AddOrderHeadInput
from activities.m3_purchase_orders import ChangePurchaseOrderInput
from activities.master_data.sync import ApplyInput
from activities.transform_order import TransformOrderInput
from clients.bng.models import PurchaseOrderStatus
from mapping.ownership import PlanAction, SyncPlan
from tests.conftest import Stack
from tests.test_order_to_cash import demo_order
from worker import WORKFLOWS
from workflows import summaries
from workflows.models import Stage, order_workflow_id

# The marker the SDK records for a local activity's result.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
BEFORE_SUMMARIES = Path(__file__).parent / "fixtures" / "before_summaries" / "order_paid.json"


async def scheduled_summaries(handle: WorkflowHandle) -> list[str]:
    """The summary of every activity the workflow ran, in order, as the UI shows them: regular
    activities on their scheduled event, local activities on their marker."""
    history = await handle.fetch_history()
    converter = pydantic_data_converter.payload_converter
    return [
        converter.from_payload(event.user_metadata.summary, str)
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        or (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        )
    ]


async def test_an_orders_activities_and_workflow_carry_summaries(stack: Stack) -> None:
    order = demo_order(37001)
    order_id = order["OrderID"]
    await stack.place_order(order)
    view = await stack.drive_to_paid(order_id)
    handle = stack.client.get_workflow_handle(order_workflow_id(order_id))

    scheduled = await scheduled_summaries(handle)
    assert all(scheduled), scheduled  # every activity has one
    cuno, orno = view.m3_customer_number, view.m3_order_number
    assert view.invoice is not None and view.payment_id
    expected_starts = [
        f"map BNG order {order_id}",
        f"CRS610MI/GetBasicData|Add BNG customer {order['CustomerID']}",
        "MMS200MI/GetItmBasic ITNO ",
        f"OIS100MI/AddBatchHead CUOR {order_id} CUNO {cuno}",
        "OIS100MI/AddBatchLine ORNO ",
        "OIS100MI/Confirm ORNO ",
        f"BNG PATCH /orders/{order_id} status Accepted",
    ]
    for summary, start in zip(scheduled, expected_starts, strict=False):
        assert summary.startswith(start), (summary, start)
    assert f"BNG PUT /orders/{order_id}/invoice {view.invoice.invoice_number}" in " | ".join(scheduled)
    payment = next(s for s in scheduled if s.startswith("ARS040MI"))
    assert f"payment {view.payment_id}" in payment and f"CUNO {cuno}" in payment
    assert scheduled[-1] == f"BNG PATCH /orders/{order_id} status Paid"
    assert orno

    description = await handle.describe()
    static = await description.static_summary()
    assert static is not None and static.startswith(f"Order {order_id} · customer {order['CustomerID']}")
    total = sum(Decimal(str(line["Quantity"])) * Decimal(str(line["UnitPrice"])) for line in order["Lines"])
    assert str(order.get("TotalAmount") or total) in static
    details = await description.static_details()
    assert details is not None and f"- **BNG order**: {order_id}" in details

    # The current details: the stage and the M3 numbers, as the UI's "current details" shows them.
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    current = metadata.current_details
    assert f"- **Stage**: {Stage.PAID.value}" in current and f"- **M3 order**: {orno}" in current


async def test_a_history_recorded_before_the_summaries_replays() -> None:
    """The commands replay compares are the same with or without a summary."""
    text = BEFORE_SUMMARIES.read_text()
    assert "userMetadata" not in text  # recorded by the code before summaries (HEAD 5ebd6c7)
    history = WorkflowHistory.from_json("order-BNG-31001", text)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


def test_summaries_name_the_transaction_or_call_and_the_key() -> None:
    assert (
        summaries.add_m3_order_head(AddOrderHeadInput(bng_order_id="BNG-10001", cuno="C1", head={}))
        == "OIS100MI/AddBatchHead CUOR BNG-10001 CUNO C1"
    )
    assert (
        summaries.push_purchase_order_status(
            PushPurchaseOrderStatusInput(bng_id="PO-1", status=PurchaseOrderStatus.PLACED)
        )
        == "BNG PUT /purchase-orders/PO-1/status Placed"
    )
    assert (
        summaries.change_m3_purchase_order(
            ChangePurchaseOrderInput(bng_id="PO-1", puno="1000123", delete=[1, 2])
        )
        == "PPS200MI/DltLine PUNO 1000123 (PO-1) delete line(s) 1,2"
    )
    update = ApplyInput(
        entity="customer",
        bng_key="CUST-1",
        m3_key="C1",
        plan=SyncPlan(action=PlanAction.UPDATE, to_m3={"CUNM": "x"}, to_bng={"Phone": "1"}),
    )
    assert summaries.write_record(update) == (
        "CRS610MI/ChgBasicData C1 CUNM + BNG PATCH /customers/CUST-1 Phone"
    )
    create = update.model_copy(update={"plan": SyncPlan(action=PlanAction.CREATE_IN_M3)})
    assert summaries.write_record(create) == "CRS610MI/Add C1 (BNG customer CUST-1)"


def test_long_summaries_are_cut_and_key_lists_shortened() -> None:
    many = summaries.check_m3_items(CheckItemsInput(item_numbers=[f"ITEM-{n}" for n in range(40)]))
    assert many == "MMS200MI/GetItmBasic ITNO ITEM-0,ITEM-1,ITEM-2 +37"
    long = summaries.transform_order(TransformOrderInput(payload={"OrderID": "x" * 500}, order_type="A01"))
    assert len(long) == summaries.MAX_SUMMARY and long.endswith("…")


def test_static_summaries_of_documents_come_from_the_payload() -> None:
    summary, details = summaries.document_start(
        "supplier_invoice",
        "SI-1",
        {
            "VendorID": "V-1",
            "InvoiceNumber": "INV-9",
            "TotalAmount": "119.00",
            "NetAmount": "100.00",
            "TaxAmount": "19.00",
            "Currency": "EUR",
            "Lines": [{"PurchaseOrderID": "PO-2"}, {"PurchaseOrderID": "PO-1"}],
        },
        "msg_1",
    )
    assert summary == "Supplier invoice SI-1 · vendor V-1 · no. INV-9 · 119.00 EUR"
    assert "- **Purchase orders**: PO-1, PO-2" in details
    # A payload that does not validate still gets a summary (the workflow parks it, the UI names it).
    summary, _ = summaries.document_start("purchase_order", "PO-9", {"Lines": "nonsense"})
    assert summary == "PO PO-9 · vendor ? · 0 line(s) · 0 EUR"
    summary, _ = summaries.order_start("BNG-1", {"CustomerID": "CUST-1", "Lines": [{"SKU": "A"}]})
    assert summary == "Order BNG-1 · customer CUST-1 · 1 line(s)"
