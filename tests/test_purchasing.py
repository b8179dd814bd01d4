"""Purchase orders end to end: BNG webhook -> M3 PO (PPS370MI) -> changes, receipts, status back.

Everything goes through the real entry points: the BNG sandbox emits signed webhooks to the
receiver, the M3 sandbox answers MI calls and publishes BODs to /ims, the workflows run on the
Temporal dev server.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.conftest import Stack
from tests.documents import (
    bng_post,
    committed_calls,
    decide,
    lost,
    m3_admin,
    view,
    wait_for,
    wait_for_bng,
    wait_until,
)
from tests.test_exactly_once import lose_answers
from workflows.documents import DocumentStage, DocumentType
from workflows.models import FixPayload, SkipStep

PO = DocumentType.PURCHASE_ORDER


# A vendor of these tests only: its first PO creates its M3 supplier (CRS620MI/AddSupplier).
VENDOR = "VEND-P2P-1"


def purchase_order(po_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "PurchaseOrderID": po_id,
        "VendorID": VENDOR,
        "OrderDate": "2026-11-24T09:00:00Z",
        "RequestedDeliveryDate": "2026-12-04",
        "Currency": "EUR",
        "Warehouse": "300",
        "Lines": [
            {"LineNumber": 1, "SKU": "TYRE-28", "Quantity": "40", "UnitPrice": "8.50"},
            {"LineNumber": 2, "SKU": "TUBE-28", "Quantity": "100", "UnitPrice": "2.10"},
        ],
    }
    body.update(overrides)
    return body


def new_id(prefix: str = "PO") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def ensure_vendor(stack: Stack, vendor_id: str = VENDOR) -> None:
    response = await stack.bng.post(
        "/api/v1/vendors",
        json={
            "VendorID": vendor_id,
            "Name": "Reifen Nord GmbH",
            "Address": {"Line1": "Hafenstrasse 3", "City": "Bremen", "PostalCode": "28195", "Country": "DE"},
            "Currency": "EUR",
        },
    )
    assert response.status_code in (201, 409), response.text


async def place(stack: Stack, body: dict[str, Any]) -> str:
    await ensure_vendor(stack, body["VendorID"])
    await bng_post(stack, "/api/v1/purchase-orders", body)
    placed = await wait_for(stack, PO, body["PurchaseOrderID"], DocumentStage.PLACED, DocumentStage.CONFIRMED)
    assert placed.m3_number
    return placed.m3_number


async def m3_po(stack: Stack, puno: str) -> dict[str, Any]:
    return dict(await m3_admin(stack, f"/purchase-orders/{puno}"))


async def receive(stack: Stack, po_id: str, receipt_id: str, *lines: tuple[int, str, str]) -> None:
    await bng_post(
        stack,
        f"/api/v1/purchase-orders/{po_id}/receipts",
        {
            "ReceiptID": receipt_id,
            "PurchaseOrderID": po_id,
            "Warehouse": "300",
            "ReceivedAt": "2026-11-26T10:00:00Z",
            "DeliveryNote": f"DN-{receipt_id}",
            "Lines": [{"LineNumber": n, "SKU": sku, "Quantity": qty} for n, sku, qty in lines],
        },
    )


def line(po: dict[str, Any], pnli: int) -> dict[str, Any]:
    return next(row for row in po["lines"] if int(row["PNLI"]) == pnli)


async def test_purchase_order_is_placed_in_m3_and_bng_learns_the_m3_number(stack: Stack) -> None:
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))

    po = await m3_po(stack, puno)
    assert po["head"]["YRE1"] == po_id
    assert po["head"]["WHLO"] == "300"
    assert [(int(row["PNLI"]), row["ITNO"], Decimal(row["ORQA"])) for row in po["lines"]] == [
        (1, "TYRE-28", Decimal(40)),
        (2, "TUBE-28", Decimal(100)),
    ]
    bng = await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "Placed"})
    assert bng["ExternalID"] == puno
    current = await view(stack, PO, po_id)
    assert current.details["supplier"]
    steps = [entry.step for entry in current.timeline]
    assert steps[:5] == ["Received", "Validated", "SupplierReady", "Placed", "Status to BNG"]

    # The supplier confirms in M3: SyncPurchaseOrder, and BNG shows it.
    await stack.m3.post(f"/_sandbox/purchase-orders/{puno}/advance")
    await wait_for(stack, PO, po_id, DocumentStage.CONFIRMED)
    await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "Confirmed"})


async def test_goods_receipts_are_posted_once_and_the_po_goes_to_received(stack: Stack) -> None:
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))

    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", (1, "TYRE-28", "15"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)
    bng = await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "PartlyReceived"})
    assert Decimal(bng["Lines"][0]["ReceivedQuantity"]) == 15

    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", (1, "TYRE-28", "25"), (2, "TUBE-28", "100"))
    await wait_for(stack, PO, po_id, DocumentStage.FULLY_RECEIVED)
    await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "Received"})
    po = await m3_po(stack, puno)
    assert Decimal(line(po, 1)["RVQA"]) == 40
    assert Decimal(line(po, 2)["RVQA"]) == 100
    assert len({r["REPN"] for r in po["receipts"]}) >= 2


async def test_a_redelivered_goods_receipt_is_posted_once(stack: Stack) -> None:
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))
    receipt_id = f"GR{uuid.uuid4().hex[:8]}"
    await lose_answers(stack, "MHS850MI", "AddWhsHead", "AddWhsLine", "PrcWhsTran")

    await receive(stack, po_id, receipt_id, (1, "TYRE-28", "10"))
    await wait_until(stack, PO, po_id, lambda v: any(e.step == "Receipt posted to M3" for e in v.timeline))

    for transaction in ("AddWhsHead", "AddWhsLine", "PrcWhsTran"):
        assert await lost(stack, "MHS850MI", transaction), f"{transaction} never lost its answer"
    heads = [
        c
        for c in await committed_calls(stack, "MHS850MI", "AddWhsHead")
        if c["record"].get("PMSN") == receipt_id
    ]
    assert len(heads) == 1
    po = await m3_po(stack, puno)
    assert Decimal(line(po, 1)["RVQA"]) == 10


async def test_lost_answers_while_placing_make_one_po(stack: Stack) -> None:
    po_id = new_id()
    await lose_answers(stack, "PPS370MI", "StartEntry", "AddHead", "AddLine", "FinishEntry")

    puno = await place(stack, purchase_order(po_id))

    for transaction in ("AddHead", "AddLine", "FinishEntry"):
        assert await lost(stack, "PPS370MI", transaction), f"{transaction} never lost its answer"
    mine = [po for po in await m3_admin(stack, "/purchase-orders") if po.get("YRE1") == po_id]
    assert [po["PUNO"] for po in mine] == [puno]
    po = await m3_po(stack, puno)
    assert len(po["lines"]) == 2


async def test_buyer_changes_apply_while_m3_allows_them(stack: Stack) -> None:
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))
    await lose_answers(stack, "PPS200MI", "UpdHead", "UpdLine", "AddLine", "DltLine")

    changed = purchase_order(
        po_id,
        Lines=[
            {"LineNumber": 1, "SKU": "TYRE-28", "Quantity": "60", "UnitPrice": "8.40"},
            {"LineNumber": 2, "SKU": "TUBE-28", "Quantity": "100", "UnitPrice": "2.10", "Cancelled": True},
            {"LineNumber": 3, "SKU": "CHAIN-9S", "Quantity": "12", "UnitPrice": "11.00"},
        ],
    )
    response = await stack.bng.patch(
        f"/api/v1/purchase-orders/{po_id}",
        json={"Lines": changed["Lines"], "RequestedDeliveryDate": "2026-12-11"},
    )
    assert response.status_code == 200, response.text

    await wait_until(stack, PO, po_id, lambda v: any(e.step == "M3 PO changed" for e in v.timeline))
    for transaction in ("UpdHead", "UpdLine", "AddLine", "DltLine"):
        assert await lost(stack, "PPS200MI", transaction), f"{transaction} never lost its answer"
    po = await m3_po(stack, puno)
    assert str(po["head"]["DWDT"]).replace("-", "") == "20261211"
    assert Decimal(line(po, 1)["ORQA"]) == 60
    assert Decimal(line(po, 1)["PUPR"]) == Decimal("8.40")
    assert line(po, 2)["PUSL"] == "99"
    assert line(po, 3)["ITNO"] == "CHAIN-9S"
    added = [
        c for c in await committed_calls(stack, "PPS200MI", "AddLine") if c["record"].get("PUNO") == puno
    ]
    assert len(added) == 1


async def test_a_change_m3_no_longer_allows_parks_with_m3s_reason(stack: Stack) -> None:
    po_id = new_id()
    await place(stack, purchase_order(po_id))
    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", (1, "TYRE-28", "30"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)

    lines = purchase_order(po_id)["Lines"]
    lines[0]["Quantity"] = "20"  # below the 30 received
    response = await stack.bng.patch(f"/api/v1/purchase-orders/{po_id}", json={"Lines": lines})
    assert response.status_code == 200, response.text

    parked = await wait_for(stack, PO, po_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None
    assert parked.attention.kind == "m3_business_error"
    assert parked.attention.m3_program == "PPS200MI"
    assert parked.attention.step == "change purchase order in M3"
    await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "OnHold"})

    await decide(stack, PO, po_id, SkipStep(reason="keep the received quantity"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)
    body = await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "PartlyReceived"})
    assert "not applied" in (body.get("StatusReason") or "")


async def test_cancelling_an_open_po_deletes_its_lines_in_m3(stack: Stack) -> None:
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))

    response = await stack.bng.post(f"/api/v1/purchase-orders/{po_id}/cancel")
    assert response.status_code == 200, response.text

    await wait_for(stack, PO, po_id, DocumentStage.CANCELLED)
    po = await m3_po(stack, puno)
    assert {row["PUSL"] for row in po["lines"]} == {"99"}
    await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "Cancelled"})


async def test_cancelling_a_received_po_is_refused_by_m3_and_parks(stack: Stack) -> None:
    po_id = new_id()
    await place(stack, purchase_order(po_id))
    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", (1, "TYRE-28", "5"))
    await wait_for(stack, PO, po_id, DocumentStage.PARTLY_RECEIVED)

    response = await stack.bng.post(f"/api/v1/purchase-orders/{po_id}/cancel")
    assert response.status_code == 200, response.text

    parked = await wait_for(stack, PO, po_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None
    assert parked.attention.step == "cancel purchase order in M3"
    assert parked.attention.m3_transaction == "DltLine"
    assert parked.attention.actions == ["retry", "skip"]


async def test_an_unknown_item_parks_the_po_and_a_fix_places_it(stack: Stack) -> None:
    po_id = new_id()
    body = purchase_order(po_id)
    body["Lines"][1]["SKU"] = "NO-SUCH-ITEM"
    await ensure_vendor(stack)
    await bng_post(stack, "/api/v1/purchase-orders", body)

    parked = await wait_for(stack, PO, po_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None and parked.attention.step == "check items"

    fixed = purchase_order(po_id)
    await decide(stack, PO, po_id, FixPayload(payload=fixed, reason="right SKU"))
    placed = await wait_for(stack, PO, po_id, DocumentStage.PLACED, DocumentStage.CONFIRMED)
    assert placed.m3_number


async def test_a_lost_answer_on_bngs_status_update_changes_it_once(stack: Stack) -> None:
    po_id = new_id()
    response = await stack.bng.post(
        "/_sandbox/faults",
        json={
            "method": "PUT",
            "path_prefix": f"/api/v1/purchase-orders/{po_id}/status",
            "status": 504,
            "count": 1,
            "after_commit": True,
        },
    )
    assert response.status_code in (200, 201), response.text

    await place(stack, purchase_order(po_id))

    await wait_until(
        stack, PO, po_id, lambda v: any(e.detail == "Placed" for e in v.timeline if e.step == "Status to BNG")
    )
    assert (await stack.bng.get("/_sandbox/faults")).json() == [], "the answer was never lost"
    assert (await view(stack, PO, po_id)).attention is None
    events = (
        await stack.bng.get("/_sandbox/webhooks", params={"type": "purchaseorder.status_changed"})
    ).json()
    placed = [
        e
        for e in events
        if e["payload"]["data"]["PurchaseOrderID"] == po_id and e["payload"]["data"]["Status"] == "Placed"
    ]
    assert len(placed) == 1


async def test_a_lost_delete_entry_answer_leaves_no_entry_and_the_po_parks(stack: Stack) -> None:
    # TRAILER-KID is an active item no warehouse stocks: PPS370MI/AddLine refuses it once the head
    # is in the entry, so the entry is deleted (DeleteEntry, whose answer is lost) and the PO parks.
    po_id = new_id()
    body = purchase_order(po_id)
    body["Lines"][1]["SKU"] = "TRAILER-KID"
    await ensure_vendor(stack)
    await lose_answers(stack, "PPS370MI", "DeleteEntry")
    await bng_post(stack, "/api/v1/purchase-orders", body)

    parked = await wait_for(stack, PO, po_id, DocumentStage.NEEDS_ATTENTION)

    assert parked.attention is not None and parked.attention.kind == "m3_business_error"
    assert parked.attention.m3_program == "PPS370MI" and parked.attention.m3_transaction == "AddLine"
    assert await lost(stack, "PPS370MI", "DeleteEntry")
    entries = {
        c["record"]["MSGN"]
        for c in await committed_calls(stack, "PPS370MI", "AddHead")
        if c["record"].get("YRE1") == po_id
    }
    deletes = [c["record"]["MSGN"] for c in await committed_calls(stack, "PPS370MI", "DeleteEntry")]
    # Every entry of this PO was deleted exactly once: none is left to be finished by anyone.
    assert entries and all(deletes.count(msgn) == 1 for msgn in entries)
    assert not [po for po in await m3_admin(stack, "/purchase-orders") if po.get("YRE1") == po_id]
