"""Purchase orders and goods receipts in the BNG sandbox, through BngClient: rules, paging, webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import BngAmbiguousWriteError, BngConflictError, BngNotFoundError, BngValidationError
from clients.bng.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    PurchaseOrderStatusUpdate,
    ReceivedLine,
)
from sandbox.bng.demo_data import make_demo_purchase_orders
from sandbox.serve import ServerThread
from tests.sandbox_bng.receiver import Delivery, WebhookReceiver

RECEIVED_AT = datetime(2026, 12, 10, 14, 30, tzinfo=UTC)


def purchase_order(po_id: str = "PO-1001", vendor_id: str = "VEND-3001", **fields: Any) -> PurchaseOrder:
    lines = [
        PurchaseOrderLine(LineNumber=1, SKU="TYRE-28", Quantity=Decimal("50"), UnitPrice=Decimal("8.40")),
        PurchaseOrderLine(LineNumber=2, SKU="TUBE-28", Quantity=Decimal("100"), UnitPrice=Decimal("2.10")),
    ]
    values: dict[str, Any] = {
        "PurchaseOrderID": po_id,
        "VendorID": vendor_id,
        "OrderDate": "2026-12-01T09:00:00Z",
        "RequestedDeliveryDate": "2026-12-15",
        "Buyer": "jweber",
        "Lines": lines,
    }
    return PurchaseOrder(**(values | fields))


def receipt(receipt_id: str = "GR-0001", po_id: str = "PO-1001", quantity: str = "20") -> GoodsReceipt:
    return GoodsReceipt(
        ReceiptID=receipt_id,
        PurchaseOrderID=po_id,
        ReceivedAt=RECEIVED_AT,
        DeliveryNote="DN-778",
        Lines=[GoodsReceiptLine(LineNumber=1, SKU="TYRE-28", Quantity=Decimal(quantity))],
    )


def webhook_log(sandbox: ServerThread, event_type: str | None = None) -> list[dict[str, Any]]:
    """What BNG emitted (committed with the change, so no waiting for delivery)."""
    params = {"type": event_type} if event_type else {}
    response = httpx.get(f"{sandbox.url}/_sandbox/webhooks", params=params)
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


def types(deliveries: list[Delivery]) -> list[str]:
    return [delivery.event["type"] for delivery in deliveries]


def of_type(event_type: str) -> Any:
    return lambda got: any(delivery.event["type"] == event_type for delivery in got)


def add_fault(sandbox: ServerThread, **fault: object) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=fault).raise_for_status()


# -- purchase orders ----------------------------------------------------------------------------


async def test_create_read_and_list_purchase_orders_in_keyset_pages(bng: BngClient) -> None:
    for number in range(1, 6):
        vendor = "VEND-3001" if number % 2 else "VEND-3002"
        await bng.create_purchase_order(purchase_order(f"PO-100{number}", vendor))

    fetched = await bng.get_purchase_order("PO-1003")
    every = [po.PurchaseOrderID async for po in bng.iter_purchase_orders(page_size=2)]
    by_vendor = [po.PurchaseOrderID async for po in bng.iter_purchase_orders(vendor_id="VEND-3002")]
    first, cursor = await bng.list_page("purchase-orders", page_size=2)
    await bng.create_purchase_order(purchase_order("PO-1000"))  # before the cursor: not seen again
    second, _ = await bng.list_page("purchase-orders", page_size=2, cursor=cursor)

    assert fetched.Status == PurchaseOrderStatus.SUBMITTED and fetched.UpdatedAt is not None
    assert [line.ReceivedQuantity for line in fetched.Lines] == [0, 0]
    assert every == ["PO-1001", "PO-1002", "PO-1003", "PO-1004", "PO-1005"]
    assert by_vendor == ["PO-1002", "PO-1004"]
    assert [po["PurchaseOrderID"] for po in first + second] == ["PO-1001", "PO-1002", "PO-1003", "PO-1004"]
    placed = [po async for po in bng.iter_purchase_orders(status=PurchaseOrderStatus.PLACED)]
    assert placed == []
    with pytest.raises(BngNotFoundError):
        await bng.get_purchase_order("PO-404")


async def test_purchase_order_created_is_delivered_signed_with_the_whole_po(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    created = await bng.create_purchase_order(purchase_order())

    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)

    assert delivery.verification_error is None
    assert delivery.event["type"] == "purchaseorder.created"
    assert PurchaseOrder.model_validate(delivery.event["data"]) == created
    [entry] = webhook_log(sandbox)
    assert entry["ordering_key"] == "po:PO-1001"


async def test_create_refuses_unknown_vendors_duplicates_and_a_status(bng: BngClient) -> None:
    def refused_fields(error: pytest.ExceptionInfo[BngValidationError]) -> list[str]:
        return [field.field for field in error.value.errors]

    with pytest.raises(BngValidationError) as unknown_vendor:
        await bng.create_purchase_order(purchase_order(vendor_id="VEND-9999"))
    with pytest.raises(BngValidationError) as inactive_vendor:
        await bng.create_purchase_order(purchase_order(vendor_id="VEND-3003"))
    lines = [
        PurchaseOrderLine(LineNumber=1, SKU="TYRE-28", Quantity=Decimal(1), UnitPrice=Decimal(1)),
        PurchaseOrderLine(LineNumber=1, SKU="TUBE-28", Quantity=Decimal(1), UnitPrice=Decimal(1)),
    ]
    with pytest.raises(BngValidationError) as bad_lines:
        await bng.create_purchase_order(purchase_order(Lines=lines))
    with pytest.raises(BngValidationError) as placed:
        await bng.create_purchase_order(purchase_order(Status=PurchaseOrderStatus.PLACED))
    await bng.create_purchase_order(purchase_order())
    with pytest.raises(BngConflictError):
        await bng.create_purchase_order(purchase_order(Notes="again"))

    assert refused_fields(unknown_vendor) == ["VendorID"]
    assert "inactive" in inactive_vendor.value.errors[0].message
    assert refused_fields(bad_lines) == ["Lines.1.LineNumber"]
    assert refused_fields(placed) == ["Status"]
    # What BNG does not sell can still be bought: whether M3 knows the item is m3bng's to find out.
    unknown = [PurchaseOrderLine(LineNumber=1, SKU="NO-SUCH-ITEM", Quantity=Decimal(1), UnitPrice=Decimal(1))]
    assert (await bng.create_purchase_order(purchase_order("PO-1002", Lines=unknown))).Lines == unknown


async def test_a_create_whose_answer_is_lost_is_retried_with_its_key_and_made_once(
    bng: BngClient, sandbox: ServerThread
) -> None:
    add_fault(sandbox, method="POST", path_prefix="/api/v1/purchase-orders", status=504, after_commit=True)

    created = await bng.create_purchase_order(purchase_order())

    assert created.PurchaseOrderID == "PO-1001"
    assert len(webhook_log(sandbox, "purchaseorder.created")) == 1


async def test_buyer_change_emits_updated_and_a_removed_line_stays_cancelled(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    await bng.create_purchase_order(purchase_order())
    line_1 = PurchaseOrderLine(LineNumber=1, SKU="TYRE-28", Quantity=Decimal("60"), UnitPrice=Decimal("8.40"))
    line_3 = PurchaseOrderLine(LineNumber=3, SKU="CHAIN-9S", Quantity=Decimal("10"), UnitPrice=Decimal("11"))
    change = {"Lines": [line_1, line_3], "RequestedDeliveryDate": "2026-12-20"}

    changed = await bng.update_purchase_order("PO-1001", change)
    again = await bng.update_purchase_order("PO-1001", change)  # a resent change: nothing new
    noted = await bng.update_purchase_order("PO-1001", {"Notes": "deliver to gate 3"})

    assert [(line.LineNumber, line.Quantity, line.Cancelled) for line in changed.Lines] == [
        (1, Decimal("60"), False),
        (2, Decimal("100"), True),
        (3, Decimal("10"), False),
    ]
    assert changed.RequestedDeliveryDate == "2026-12-20"
    assert again == changed
    assert noted.Notes == "deliver to gate 3" and noted.Lines == changed.Lines
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert types(deliveries) == ["purchaseorder.created", "purchaseorder.updated", "purchaseorder.updated"]
    assert PurchaseOrder.model_validate(deliveries[1].event["data"]).Lines == changed.Lines
    assert len(webhook_log(sandbox, "purchaseorder.updated")) == 2


async def test_buyer_change_cannot_touch_what_m3bng_owns_and_leaves_m3_to_judge_the_rest(
    bng: BngClient,
) -> None:
    await bng.create_purchase_order(purchase_order())
    received = [ReceivedLine(LineNumber=1, ReceivedQuantity=Decimal("20"))]
    await bng.set_purchase_order_status(
        "PO-1001", PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PARTLY_RECEIVED, Lines=received)
    )
    line_1 = {
        "LineNumber": 1,
        "SKU": "TYRE-28",
        "Quantity": "10",
        "UnitPrice": "8.40",
        "ReceivedQuantity": "0",
    }
    line_2 = {"LineNumber": 2, "SKU": "TUBE-28", "Quantity": "100", "UnitPrice": "2.10"}

    with pytest.raises(BngValidationError) as owned:
        await bng.update_purchase_order("PO-1001", {"Status": "Closed", "ExternalID": "2000001"})
    with pytest.raises(BngValidationError) as bad_quantity:
        await bng.update_purchase_order("PO-1001", {"Lines": [{**line_1, "Quantity": "0"}]})
    # Below the received quantity: BNG takes it, M3 refuses it (and m3bng reports that back).
    cut = await bng.update_purchase_order("PO-1001", {"Lines": [line_1, line_2]})

    assert sorted(error.field for error in owned.value.errors) == ["ExternalID", "Status"]
    assert [error.field for error in bad_quantity.value.errors] == ["Lines.0.Quantity"]
    # The buyer cannot set ReceivedQuantity: it stays as m3bng last reported it.
    assert (cut.Lines[0].Quantity, cut.Lines[0].ReceivedQuantity) == (Decimal("10"), Decimal("20"))
    assert cut.Status == PurchaseOrderStatus.PARTLY_RECEIVED


async def test_status_put_is_applied_once_and_echoed(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    await bng.create_purchase_order(purchase_order())
    placed = PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED, ExternalID="2000001")
    received = PurchaseOrderStatusUpdate(
        Status=PurchaseOrderStatus.PARTLY_RECEIVED,
        Lines=[ReceivedLine(LineNumber=1, ReceivedQuantity=Decimal("20"))],
    )

    first = await bng.set_purchase_order_status("PO-1001", placed)
    again = await bng.set_purchase_order_status("PO-1001", placed)  # a retried activity
    partly = await bng.set_purchase_order_status("PO-1001", received)
    same_in_other_words = PurchaseOrderStatusUpdate(
        Status=PurchaseOrderStatus.PARTLY_RECEIVED,
        Lines=[ReceivedLine(LineNumber=1, ReceivedQuantity=Decimal("20.000"))],
    )
    await bng.set_purchase_order_status("PO-1001", same_in_other_words)

    assert (first.Status, first.ExternalID) == ("Placed", "2000001") and again == first
    assert partly.ExternalID == "2000001"
    assert [line.ReceivedQuantity for line in partly.Lines] == [Decimal("20"), Decimal("0")]
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert types(deliveries) == [
        "purchaseorder.created",
        "purchaseorder.status_changed",
        "purchaseorder.status_changed",
    ]
    assert [d.event["data"]["Status"] for d in deliveries] == ["Submitted", "Placed", "PartlyReceived"]
    assert len(webhook_log(sandbox, "purchaseorder.status_changed")) == 2
    unknown_line = PurchaseOrderStatusUpdate(
        Status=PurchaseOrderStatus.RECEIVED, Lines=[ReceivedLine(LineNumber=7, ReceivedQuantity=Decimal(1))]
    )
    with pytest.raises(BngValidationError):
        await bng.set_purchase_order_status("PO-1001", unknown_line)
    with pytest.raises(BngNotFoundError):
        await bng.set_purchase_order_status("PO-404", placed)


async def test_a_status_put_keeps_the_m3_number_and_replaces_the_reason(bng: BngClient) -> None:
    await bng.create_purchase_order(purchase_order())
    held = PurchaseOrderStatusUpdate(
        Status=PurchaseOrderStatus.ON_HOLD, ExternalID="2000001", StatusReason="supplier not in M3"
    )
    await bng.set_purchase_order_status("PO-1001", held)

    placed = await bng.set_purchase_order_status(
        "PO-1001", PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED)
    )

    assert (placed.Status, placed.ExternalID, placed.StatusReason) == ("Placed", "2000001", None)


async def test_a_status_put_whose_answer_is_lost_raises_ambiguous_and_is_applied_once(
    bng: BngClient, sandbox: ServerThread
) -> None:
    await bng.create_purchase_order(purchase_order())
    add_fault(sandbox, method="PUT", path_prefix="/api/v1/purchase-orders/", status=504, after_commit=True)
    placed = PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED, ExternalID="2000001")

    with pytest.raises(BngAmbiguousWriteError):
        await bng.set_purchase_order_status("PO-1001", placed)

    # The caller looks before writing again: the status arrived, and was announced once.
    assert (await bng.get_purchase_order("PO-1001")).Status == PurchaseOrderStatus.PLACED
    assert len(webhook_log(sandbox, "purchaseorder.status_changed")) == 1


async def test_cancel_emits_cancelled_once_and_freezes_the_po(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    await bng.create_purchase_order(purchase_order())

    cancelled = await bng.cancel_purchase_order("PO-1001", reason="supplier discontinued")
    again = await bng.cancel_purchase_order("PO-1001")

    assert (cancelled.Status, cancelled.StatusReason) == ("Cancelled", "supplier discontinued")
    assert again == cancelled
    deliveries = receiver.wait_for(of_type("purchaseorder.cancelled"))
    assert types(deliveries) == ["purchaseorder.created", "purchaseorder.cancelled"]
    assert PurchaseOrder.model_validate(deliveries[1].event["data"]) == cancelled
    assert len(webhook_log(sandbox, "purchaseorder.cancelled")) == 1
    with pytest.raises(BngConflictError):
        await bng.update_purchase_order("PO-1001", {"Notes": "too late"})
    with pytest.raises(BngConflictError):
        await bng.set_purchase_order_status(
            "PO-1001", PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED)
        )
    with pytest.raises(BngConflictError):
        await bng.create_goods_receipt("PO-1001", receipt())
    # m3bng acknowledging the cancellation as it stands changes nothing.
    acknowledged = PurchaseOrderStatusUpdate(
        Status=PurchaseOrderStatus.CANCELLED, StatusReason="supplier discontinued"
    )
    assert await bng.set_purchase_order_status("PO-1001", acknowledged) == cancelled


@pytest.mark.parametrize("status", [PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CLOSED])
async def test_a_received_or_closed_po_cannot_be_cancelled(
    bng: BngClient, status: PurchaseOrderStatus
) -> None:
    await bng.create_purchase_order(purchase_order())
    await bng.set_purchase_order_status("PO-1001", PurchaseOrderStatusUpdate(Status=status))

    with pytest.raises(BngConflictError):
        await bng.cancel_purchase_order("PO-1001")
    if status == PurchaseOrderStatus.CLOSED:
        with pytest.raises(BngConflictError):
            await bng.update_purchase_order("PO-1001", {"Notes": "closed"})
    else:
        assert (await bng.update_purchase_order("PO-1001", {"Notes": "ok"})).Notes == "ok"
    assert (await bng.get_purchase_order("PO-1001")).Status == status


async def test_demo_purchase_orders_are_accepted(bng: BngClient) -> None:
    for order in make_demo_purchase_orders(10, seed=1):
        assert await bng.create_purchase_order(order) == await bng.get_purchase_order(order.PurchaseOrderID)


# -- goods receipts -----------------------------------------------------------------------------


async def test_goods_receipt_is_created_announced_and_replayed(
    bng: BngClient, api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    await bng.create_purchase_order(purchase_order())

    created = await bng.create_goods_receipt("PO-1001", receipt())
    replay = api.post("/api/v1/purchase-orders/PO-1001/receipts", json=receipt().model_dump(mode="json"))
    second = await bng.create_goods_receipt("PO-1001", receipt("GR-0002", quantity="30"))

    assert created == receipt()
    assert replay.status_code == 200 and GoodsReceipt.model_validate(replay.json()) == created
    assert await bng.list_goods_receipts("PO-1001", page_size=1) == [created, second]
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert types(deliveries) == ["purchaseorder.created", "goodsreceipt.created", "goodsreceipt.created"]
    assert GoodsReceipt.model_validate(deliveries[1].event["data"]) == created
    entries = webhook_log(sandbox, "goodsreceipt.created")
    assert [entry["ordering_key"] for entry in entries] == ["po:PO-1001", "po:PO-1001"]
    # The PO's received quantities are M3's to report (through m3bng), not the receipt's.
    assert (await bng.get_purchase_order("PO-1001")).Lines[0].ReceivedQuantity == 0


async def test_goods_receipt_refusals(bng: BngClient, api: httpx.Client) -> None:
    await bng.create_purchase_order(purchase_order())
    await bng.create_purchase_order(purchase_order("PO-1002"))
    await bng.create_goods_receipt("PO-1001", receipt())
    path = "/api/v1/purchase-orders/PO-1001/receipts"

    def post(body: dict[str, Any], po_path: str = path) -> httpx.Response:
        return api.post(po_path, json=body)

    good = receipt().model_dump(mode="json")
    other_content = post({**good, "DeliveryNote": "DN-779"})
    unknown_line = post(
        {**good, "ReceiptID": "GR-0003", "Lines": [{"LineNumber": 9, "SKU": "TYRE-28", "Quantity": 1}]}
    )
    wrong_sku = post(
        {**good, "ReceiptID": "GR-0004", "Lines": [{"LineNumber": 1, "SKU": "TUBE-28", "Quantity": 1}]}
    )
    too_long = post({**good, "ReceiptID": "GR-" + "9" * 15})
    other_po = post({**good, "ReceiptID": "GR-0005", "PurchaseOrderID": "PO-1002"})
    without_po = post(
        {key: value for key, value in good.items() if key != "PurchaseOrderID"} | {"ReceiptID": "GR-6"}
    )
    same_id_other_po = post(
        {**good, "PurchaseOrderID": "PO-1002"}, "/api/v1/purchase-orders/PO-1002/receipts"
    )
    unknown_po = post({**good, "PurchaseOrderID": "PO-404"}, "/api/v1/purchase-orders/PO-404/receipts")

    assert other_content.status_code == 409
    assert (unknown_line.status_code, unknown_line.json()["errors"][0]["field"]) == (
        422,
        "Lines.0.LineNumber",
    )
    assert (wrong_sku.status_code, wrong_sku.json()["errors"][0]["field"]) == (422, "Lines.0.SKU")
    assert (too_long.status_code, too_long.json()["errors"][0]["field"]) == (422, "ReceiptID")
    assert (other_po.status_code, other_po.json()["errors"][0]["field"]) == (422, "PurchaseOrderID")
    assert without_po.status_code == 201 and without_po.json()["PurchaseOrderID"] == "PO-1001"
    assert same_id_other_po.status_code == 409
    assert unknown_po.status_code == 404
    with pytest.raises(BngNotFoundError):
        await bng.list_goods_receipts("PO-404")


async def test_events_of_one_po_arrive_in_the_order_they_happened(
    bng: BngClient, receiver: WebhookReceiver
) -> None:
    # purchaseorder.created is refused twice and retried; what follows on the PO must wait for it.
    receiver.fail_next(2)
    await bng.create_purchase_order(purchase_order())
    await bng.set_purchase_order_status(
        "PO-1001", PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED, ExternalID="2000001")
    )
    await bng.update_purchase_order("PO-1001", {"Notes": "urgent"})
    await bng.create_goods_receipt("PO-1001", receipt())
    await bng.cancel_purchase_order("PO-1001")

    deliveries = receiver.wait_for(lambda got: len(got) >= 5)

    assert types(deliveries) == [
        "purchaseorder.created",
        "purchaseorder.status_changed",
        "purchaseorder.updated",
        "goodsreceipt.created",
        "purchaseorder.cancelled",
    ]
