"""Supplier invoices end to end: three-way match, suggested fixes, APS450MI entry, duplicates.

A PO is placed and received through the real entry points first (tests/test_purchasing.py), then
the supplier invoice arrives as BNG's supplierinvoice.created webhook.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.conftest import Stack
from tests.documents import (
    bng_get,
    bng_post,
    committed_calls,
    decide,
    lost,
    m3_admin,
    wait_for,
    wait_for_bng,
    wait_until,
)
from tests.test_exactly_once import lose_answers
from tests.test_purchasing import VENDOR, m3_po, new_id, place, purchase_order, receive
from workflows.documents import DocumentStage, DocumentType
from workflows.models import AcceptSuggestion

PO = DocumentType.PURCHASE_ORDER
INVOICE = DocumentType.SUPPLIER_INVOICE


def supplier_invoice(
    po_id: str, *lines: tuple[int, str, str, str], invoice_number: str | None = None
) -> dict[str, Any]:
    """``lines``: (PO line, SKU, quantity, unit price); 19 % VAT on the net."""
    net = sum((Decimal(qty) * Decimal(price) for _, _, qty, price in lines), Decimal(0)).quantize(
        Decimal("0.01")
    )
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
    return {
        "SupplierInvoiceID": new_id("SI"),
        "VendorID": VENDOR,
        "InvoiceNumber": invoice_number or f"INV-{uuid.uuid4().hex[:10]}",
        "InvoiceDate": "2026-11-26",
        "DueDate": "2026-12-26",
        "Currency": "EUR",
        "NetAmount": str(net),
        "TaxAmount": str(tax),
        "TotalAmount": str(net + tax),
        "Lines": [
            {
                "LineNumber": number,
                "PurchaseOrderID": po_id,
                "PurchaseOrderLine": pnli,
                "SKU": sku,
                "Quantity": qty,
                "UnitPrice": price,
            }
            for number, (pnli, sku, qty, price) in enumerate(lines, start=1)
        ],
    }


async def received_po(stack: Stack, tyres: str = "40", tubes: str = "100") -> tuple[str, str]:
    """A PO of 40 tyres at 8.50 and 100 tubes at 2.10, received as far as asked."""
    po_id = new_id()
    puno = await place(stack, purchase_order(po_id))
    lines = [(n, sku, qty) for n, sku, qty in ((1, "TYRE-28", tyres), (2, "TUBE-28", tubes)) if qty != "0"]
    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", *lines)
    full = tyres == "40" and tubes == "100"
    await wait_for(stack, PO, po_id, DocumentStage.FULLY_RECEIVED if full else DocumentStage.PARTLY_RECEIVED)
    return po_id, puno


async def m3_invoice(stack: Stack, inbn: str) -> dict[str, Any]:
    return dict(await m3_admin(stack, f"/supplier-invoices/{inbn}"))


async def test_a_matching_invoice_is_posted_and_closes_the_po(stack: Stack) -> None:
    po_id, puno = await received_po(stack)
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"), (2, "TUBE-28", "100", "2.10"))
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)

    posted = await wait_for(stack, INVOICE, invoice["SupplierInvoiceID"], DocumentStage.POSTED)

    assert posted.m3_number
    m3 = await m3_invoice(stack, posted.m3_number)
    assert str(m3["head"]["SUPA"]) == "20"
    assert m3["head"]["CORI"] == invoice["SupplierInvoiceID"]
    assert m3["head"]["SINO"] == invoice["InvoiceNumber"]
    assert sorted(int(line["PNLI"]) for line in m3["lines"]) == [1, 2]
    # BNG is told right after the stage: wait for that step, not only for the stage.
    await wait_until(
        stack, INVOICE, invoice["SupplierInvoiceID"], lambda v: v.timeline[-1].step == "Status to BNG"
    )
    bng = await bng_get(stack, f"/api/v1/supplier-invoices/{invoice['SupplierInvoiceID']}")
    assert (bng["Status"], bng["ExternalID"]) == ("Posted", posted.m3_number)
    steps = [entry.step for entry in posted.timeline]
    assert steps[:5] == ["Received", "Validated", "Matched", "Entered", "Posted"]
    # Received and invoiced in full: M3 closes the PO lines (85), and BNG's PO follows.
    await wait_for(stack, PO, po_id, DocumentStage.CLOSED)
    assert {line["PUSL"] for line in (await m3_po(stack, puno))["lines"]} == {"85"}
    await wait_for_bng(stack, f"/api/v1/purchase-orders/{po_id}", {"Status": "Closed"})


async def test_a_price_difference_parks_and_accepting_it_books_the_variance(stack: Stack) -> None:
    po_id, _ = await received_po(stack)
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.90"), (2, "TUBE-28", "100", "2.10"))
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)
    bng_id = invoice["SupplierInvoiceID"]

    parked = await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None
    assert parked.attention.kind == "match_mismatch"
    assert [issue.line for issue in parked.attention.issues] == [1]
    assert "8.9" in parked.attention.summary and "8.5" in parked.attention.summary
    offered = [s.id for s in parked.attention.suggestions]
    assert offered == ["accept_price_difference", "reject"]
    await wait_for_bng(stack, f"/api/v1/supplier-invoices/{bng_id}", {"Status": "OnHold"})

    await decide(
        stack, INVOICE, bng_id, AcceptSuggestion(suggestion="accept_price_difference", reason="agreed")
    )
    posted = await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)

    assert posted.m3_number
    m3 = await m3_invoice(stack, posted.m3_number)
    assert str(m3["head"]["SUPA"]) == "20"
    variance = [line for line in m3["lines"] if str(line["RDTP"]) == "8"]
    assert [(str(line["AIT1"]), Decimal(line["NLAM"])) for line in variance] == [("4090", Decimal("16.00"))]
    assert Decimal(next(line for line in m3["lines"] if str(line["PNLI"]) == "1")["GRPR"]) == Decimal("8.50")
    await wait_for_bng(stack, f"/api/v1/supplier-invoices/{bng_id}", {"Status": "Posted"})


async def test_an_invoice_ahead_of_its_goods_waits_for_the_receipt(stack: Stack) -> None:
    po_id, _ = await received_po(stack, tyres="20", tubes="0")
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"))
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)
    bng_id = invoice["SupplierInvoiceID"]

    parked = await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None
    assert [s.id for s in parked.attention.suggestions] == ["wait_for_receipt", "reject"]
    await decide(stack, INVOICE, bng_id, AcceptSuggestion(suggestion="wait_for_receipt"))
    await wait_for(stack, INVOICE, bng_id, DocumentStage.WAITING_FOR_RECEIPT)

    # The rest arrives in BNG's warehouse; the PO's workflow posts it and tells the invoice.
    await receive(stack, po_id, f"GR{uuid.uuid4().hex[:8]}", (1, "TYRE-28", "20"))
    posted = await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)
    assert posted.m3_number


async def test_rejecting_a_mismatch_tells_bng_why(stack: Stack) -> None:
    po_id, _ = await received_po(stack)
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "12.00"))
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)
    bng_id = invoice["SupplierInvoiceID"]

    parked = await wait_for(stack, INVOICE, bng_id, DocumentStage.NEEDS_ATTENTION)
    assert parked.attention is not None
    # 41 % over the PO price: beyond what an operator may accept in one action.
    assert [s.id for s in parked.attention.suggestions] == ["reject"]
    await decide(stack, INVOICE, bng_id, AcceptSuggestion(suggestion="reject"))

    rejected = await wait_for(stack, INVOICE, bng_id, DocumentStage.REJECTED)
    assert rejected.m3_number is None
    body = await wait_for_bng(stack, f"/api/v1/supplier-invoices/{bng_id}", {"Status": "Rejected"})
    assert "12" in body["StatusReason"]


async def test_a_duplicate_supplier_invoice_number_is_refused_naming_the_earlier_one(stack: Stack) -> None:
    po_id, _ = await received_po(stack)
    first = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"))
    await bng_post(stack, "/api/v1/supplier-invoices", first)
    posted = await wait_for(stack, INVOICE, first["SupplierInvoiceID"], DocumentStage.POSTED)

    again = supplier_invoice(po_id, (2, "TUBE-28", "100", "2.10"), invoice_number=first["InvoiceNumber"])
    await bng_post(stack, "/api/v1/supplier-invoices", again)

    refused = await wait_for(stack, INVOICE, again["SupplierInvoiceID"], DocumentStage.REJECTED)
    assert refused.m3_number is None
    [reason] = [entry.detail for entry in refused.timeline if entry.step == "Rejected"]
    assert posted.m3_number and posted.m3_number in reason
    assert first["SupplierInvoiceID"] in reason
    body = await wait_for_bng(
        stack, f"/api/v1/supplier-invoices/{again['SupplierInvoiceID']}", {"Status": "Rejected"}
    )
    assert first["SupplierInvoiceID"] in body["StatusReason"]


async def test_lost_answers_while_entering_make_one_invoice(stack: Stack) -> None:
    po_id, _ = await received_po(stack)
    await lose_answers(stack, "APS450MI", "AddHead", "AddLine")
    await lose_answers(stack, "APS455MI", "ValidByBatchNo")
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"), (2, "TUBE-28", "100", "2.10"))
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)

    posted = await wait_for(stack, INVOICE, invoice["SupplierInvoiceID"], DocumentStage.POSTED, timeout=60)

    for program, transaction in (
        ("APS450MI", "AddHead"),
        ("APS450MI", "AddLine"),
        ("APS455MI", "ValidByBatchNo"),
    ):
        assert await lost(stack, program, transaction), f"{transaction} never lost its answer"
    heads = [
        call
        for call in await committed_calls(stack, "APS450MI", "AddHead")
        if call["record"].get("CORI") == invoice["SupplierInvoiceID"] and call["outcome"] != "nok"
    ]
    assert len(heads) == 1
    assert posted.m3_number
    m3 = await m3_invoice(stack, posted.m3_number)
    assert sorted(int(line["PNLI"]) for line in m3["lines"]) == [1, 2]
    assert str(m3["head"]["SUPA"]) == "20"


async def test_a_lost_answer_on_bngs_invoice_status_update_changes_it_once(stack: Stack) -> None:
    po_id, _ = await received_po(stack)
    invoice = supplier_invoice(po_id, (1, "TYRE-28", "40", "8.50"), (2, "TUBE-28", "100", "2.10"))
    bng_id = invoice["SupplierInvoiceID"]
    path = f"/api/v1/supplier-invoices/{bng_id}/status"
    fault = {"method": "PUT", "path_prefix": path, "status": 504, "count": 1, "after_commit": True}
    response = await stack.bng.post("/_sandbox/faults", json=fault)
    assert response.status_code in (200, 201), response.text
    await bng_post(stack, "/api/v1/supplier-invoices", invoice)

    posted = await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)
    await wait_until(stack, INVOICE, bng_id, lambda v: v.timeline[-1].step == "Status to BNG")

    assert (await stack.bng.get("/_sandbox/faults")).json() == [], "the answer was never lost"
    final = await wait_for(stack, INVOICE, bng_id, DocumentStage.POSTED)
    assert all(entry.outcome != "error" for entry in final.timeline)
    events = (
        await stack.bng.get("/_sandbox/webhooks", params={"type": "supplierinvoice.status_changed"})
    ).json()
    mine = [e["payload"]["data"] for e in events if e["payload"]["data"]["SupplierInvoiceID"] == bng_id]
    assert [(e["Status"], e["ExternalID"]) for e in mine] == [("Posted", posted.m3_number)]
