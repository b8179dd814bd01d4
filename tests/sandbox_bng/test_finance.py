"""Supplier invoices, journals and refunds in the BNG sandbox, through BngClient: rules, paging, webhooks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import BngAmbiguousWriteError, BngConflictError, BngNotFoundError, BngValidationError
from clients.bng.models import (
    Journal,
    JournalLine,
    JournalStatus,
    JournalStatusUpdate,
    Order,
    PaymentStatus,
    Refund,
    SupplierInvoice,
    SupplierInvoiceLine,
    SupplierInvoiceStatus,
    SupplierInvoiceStatusUpdate,
)
from sandbox.bng.demo_data import make_demo_orders
from sandbox.serve import ServerThread
from tests.sandbox_bng.receiver import Delivery, WebhookReceiver
from tests.sandbox_bng.test_purchasing import add_fault, purchase_order, types, webhook_log


def supplier_invoice(invoice_id: str = "SI-5001", **fields: Any) -> SupplierInvoice:
    values: dict[str, Any] = {
        "SupplierInvoiceID": invoice_id,
        "VendorID": "VEND-3001",
        "InvoiceNumber": f"RW-{invoice_id}",
        "InvoiceDate": date(2026, 12, 12),
        "DueDate": date(2027, 1, 11),
        "Currency": "EUR",
        "NetAmount": Decimal("420.00"),
        "TaxAmount": Decimal("79.80"),
        "TotalAmount": Decimal("499.80"),
        "Lines": [
            SupplierInvoiceLine(
                LineNumber=1,
                PurchaseOrderID="PO-1001",
                PurchaseOrderLine=1,
                SKU="TYRE-28",
                Quantity=Decimal("50"),
                UnitPrice=Decimal("8.40"),
            )
        ],
    }
    return SupplierInvoice(**(values | fields))


def journal(journal_id: str = "JE-7001", **fields: Any) -> Journal:
    values: dict[str, Any] = {
        "JournalID": journal_id,
        "JournalDate": date(2026, 12, 31),
        "Description": "Accrued IT services December",
        "Lines": [
            JournalLine(
                LineNumber=1, Account="6540", CostCenter="200", Debit=Decimal("1250.00"), Currency="EUR"
            ),
            JournalLine(LineNumber=2, Account="2440", Credit=Decimal("1250.00"), Currency="EUR"),
        ],
    }
    return Journal(**(values | fields))


def field_names(error: pytest.ExceptionInfo[BngValidationError]) -> list[str]:
    return sorted(field.field for field in error.value.errors)


def of_type(event_type: str, deliveries: list[Delivery]) -> list[Delivery]:
    return [delivery for delivery in deliveries if delivery.event["type"] == event_type]


# -- supplier invoices --------------------------------------------------------------------------


async def test_supplier_invoice_is_created_announced_and_its_status_echoed_once(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    await bng.create_purchase_order(purchase_order())
    created = await bng.create_supplier_invoice(supplier_invoice())
    posted = SupplierInvoiceStatusUpdate(Status=SupplierInvoiceStatus.POSTED, ExternalID="4100012")

    first = await bng.set_supplier_invoice_status("SI-5001", posted)
    again = await bng.set_supplier_invoice_status("SI-5001", posted)

    assert created.Status == SupplierInvoiceStatus.RECEIVED and created.UpdatedAt is not None
    assert await bng.get_supplier_invoice("SI-5001") == first == again
    assert (first.Status, first.ExternalID) == ("Posted", "4100012")
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert types(deliveries) == [
        "purchaseorder.created",
        "supplierinvoice.created",
        "supplierinvoice.status_changed",
    ]
    assert verified(deliveries)
    assert SupplierInvoice.model_validate(deliveries[1].event["data"]) == created
    assert SupplierInvoice.model_validate(deliveries[2].event["data"]) == first
    entries = webhook_log(sandbox, "supplierinvoice.status_changed")
    assert [entry["ordering_key"] for entry in entries] == ["supplier-invoice:SI-5001"]
    with pytest.raises(BngNotFoundError):
        await bng.set_supplier_invoice_status("SI-404", posted)


def verified(deliveries: list[Delivery]) -> bool:
    return all(delivery.verification_error is None for delivery in deliveries)


async def test_supplier_invoices_in_keyset_pages_and_by_status(bng: BngClient) -> None:
    await bng.create_purchase_order(purchase_order())
    for number in (5003, 5001, 5002):
        await bng.create_supplier_invoice(supplier_invoice(f"SI-{number}"))
    held = SupplierInvoiceStatusUpdate(Status=SupplierInvoiceStatus.ON_HOLD, StatusReason="price variance 6%")
    await bng.set_supplier_invoice_status("SI-5002", held)

    every = [invoice.SupplierInvoiceID async for invoice in bng.iter_supplier_invoices(page_size=1)]
    on_hold = [invoice async for invoice in bng.iter_supplier_invoices(status=SupplierInvoiceStatus.ON_HOLD)]
    first, cursor = await bng.list_page("supplier-invoices", page_size=2)
    rest, end = await bng.list_page("supplier-invoices", page_size=2, cursor=cursor)

    assert every == ["SI-5001", "SI-5002", "SI-5003"]
    assert [(i.SupplierInvoiceID, i.StatusReason) for i in on_hold] == [("SI-5002", "price variance 6%")]
    assert [item["SupplierInvoiceID"] for item in first + rest] == every and end is None


async def test_supplier_invoice_refusals(bng: BngClient) -> None:
    await bng.create_purchase_order(purchase_order())
    await bng.create_purchase_order(purchase_order("PO-2001", vendor_id="VEND-3002", Currency="USD"))

    def line(po_id: str = "PO-1001", po_line: int = 1) -> SupplierInvoiceLine:
        return SupplierInvoiceLine(
            LineNumber=1,
            PurchaseOrderID=po_id,
            PurchaseOrderLine=po_line,
            Quantity=Decimal(1),
            UnitPrice=Decimal(1),
        )

    with pytest.raises(BngValidationError) as total:
        await bng.create_supplier_invoice(supplier_invoice(TotalAmount=Decimal("500.00")))
    with pytest.raises(BngValidationError) as vendor:
        await bng.create_supplier_invoice(supplier_invoice(VendorID="VEND-9999"))
    with pytest.raises(BngValidationError) as unknown_po:
        await bng.create_supplier_invoice(supplier_invoice(Lines=[line("PO-404")]))
    with pytest.raises(BngValidationError) as other_vendor:
        await bng.create_supplier_invoice(supplier_invoice(Lines=[line("PO-2001")]))
    with pytest.raises(BngValidationError) as unknown_line:
        await bng.create_supplier_invoice(supplier_invoice(Lines=[line(po_line=9)]))
    with pytest.raises(BngValidationError) as status:
        await bng.create_supplier_invoice(supplier_invoice(Status=SupplierInvoiceStatus.POSTED))
    await bng.create_supplier_invoice(supplier_invoice())
    with pytest.raises(BngConflictError):
        await bng.create_supplier_invoice(supplier_invoice())
    # The same supplier invoice number entered twice under two BNG ids: m3bng's to catch, not BNG's.
    twin = await bng.create_supplier_invoice(supplier_invoice("SI-5002", InvoiceNumber="RW-SI-5001"))

    assert field_names(total) == ["TotalAmount"]
    assert field_names(vendor) == ["VendorID"]
    assert field_names(unknown_po) == field_names(other_vendor) == ["Lines.0.PurchaseOrderID"]
    assert field_names(unknown_line) == ["Lines.0.PurchaseOrderLine"]
    assert field_names(status) == ["Status"]
    assert twin.InvoiceNumber == "RW-SI-5001"


# -- journals -----------------------------------------------------------------------------------


async def test_journal_is_created_announced_and_its_status_echoed_once(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    created = await bng.create_journal(journal())
    posted = JournalStatusUpdate(Status=JournalStatus.POSTED, ExternalID="JE-7001/VONO 4711")

    first = await bng.set_journal_status("JE-7001", posted)
    again = await bng.set_journal_status("JE-7001", posted)

    assert created.Status == JournalStatus.RECEIVED
    assert await bng.get_journal("JE-7001") == first == again
    deliveries = receiver.wait_for(lambda got: len(got) >= 2)
    assert types(deliveries) == ["journal.created", "journal.status_changed"]
    assert verified(deliveries)
    assert Journal.model_validate(deliveries[0].event["data"]) == created
    assert Journal.model_validate(deliveries[1].event["data"]).ExternalID == "JE-7001/VONO 4711"
    assert [entry["ordering_key"] for entry in webhook_log(sandbox)] == ["journal:JE-7001"] * 2
    with pytest.raises(BngNotFoundError):
        await bng.get_journal("JE-404")


async def test_journals_in_keyset_pages(bng: BngClient) -> None:
    for number in (7002, 7003, 7001):
        await bng.create_journal(journal(f"JE-{number}"))
    rejected = JournalStatusUpdate(Status=JournalStatus.REJECTED, StatusReason="line 2: period closed")
    await bng.set_journal_status("JE-7003", rejected)

    every = [entry.JournalID async for entry in bng.iter_journals(page_size=2)]
    refused = [entry.JournalID async for entry in bng.iter_journals(status=JournalStatus.REJECTED)]

    assert every == ["JE-7001", "JE-7002", "JE-7003"]
    assert refused == ["JE-7003"]


async def test_journal_refusals_and_what_bng_leaves_to_m3(bng: BngClient, api: httpx.Client) -> None:
    one_line = journal().model_dump(mode="json")
    one_line["Lines"] = one_line["Lines"][:1]
    duplicate = [
        JournalLine(LineNumber=1, Account="6540", Debit=Decimal("10"), Currency="EUR"),
        JournalLine(LineNumber=1, Account="2440", Credit=Decimal("10"), Currency="EUR"),
    ]
    both = [
        JournalLine(LineNumber=1, Account="6540", Debit=Decimal("10"), Credit=Decimal("10"), Currency="EUR"),
        JournalLine(LineNumber=2, Account="2440", Credit=Decimal("10"), Currency="EUR"),
    ]
    unbalanced = [
        JournalLine(LineNumber=1, Account="6540", Debit=Decimal("10"), Currency="EUR"),
        JournalLine(LineNumber=2, Account="9999", Credit=Decimal("9"), Currency="EUR"),
    ]

    single = api.post("/api/v1/journals", json=one_line)
    with pytest.raises(BngValidationError) as duplicate_lines:
        await bng.create_journal(journal(Lines=duplicate))
    with pytest.raises(BngValidationError) as debit_and_credit:
        await bng.create_journal(journal(Lines=both))
    await bng.create_journal(journal())
    with pytest.raises(BngConflictError):
        await bng.create_journal(journal())
    # Balance, accounts and periods are GLS840MI CtrlBatch's to refuse, so m3bng can meet them.
    accepted = await bng.create_journal(journal("JE-7002", Lines=unbalanced, JournalDate=date(2020, 1, 31)))

    assert (single.status_code, single.json()["errors"][0]["field"]) == (422, "Lines")
    assert field_names(duplicate_lines) == ["Lines.1.LineNumber"]
    assert field_names(debit_and_credit) == ["Lines.0"]
    assert accepted.Lines == unbalanced


async def test_a_lost_answer_on_a_journal_status_put_is_not_resent(
    bng: BngClient, sandbox: ServerThread
) -> None:
    await bng.create_journal(journal())
    add_fault(sandbox, method="PUT", path_prefix="/api/v1/journals/", status=502, after_commit=True)
    posted = JournalStatusUpdate(Status=JournalStatus.POSTED, ExternalID="JE-7001")

    with pytest.raises(BngAmbiguousWriteError):
        await bng.set_journal_status("JE-7001", posted)

    assert (await bng.get_journal("JE-7001")).Status == JournalStatus.POSTED
    assert len(webhook_log(sandbox, "journal.status_changed")) == 1
    # Sending it again once the caller has looked is harmless: the same status changes nothing.
    await bng.set_journal_status("JE-7001", posted)
    assert len(webhook_log(sandbox, "journal.status_changed")) == 1


# -- refunds ------------------------------------------------------------------------------------


async def paid_order(bng: BngClient, amount: str = "100.00") -> Order:
    order = await bng.create_order(make_demo_orders(1, seed=1, start_number=10001)[0])
    await bng.capture_payment(order.OrderID, amount=Decimal(amount), currency="EUR", payment_id="PAY-1")
    return order


async def test_refund_is_announced_with_the_refund_and_replayed_by_its_id(
    bng: BngClient, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    order = await paid_order(bng)

    refund = await bng.refund_payment(
        order.OrderID, "PAY-1", amount=Decimal("40.00"), currency="EUR", refund_id="RF-1", reason="damaged"
    )
    replay = await bng.refund_payment(
        order.OrderID, "PAY-1", amount=Decimal("40"), currency="EUR", refund_id="RF-1"
    )

    assert (refund.RefundID, refund.PaymentID, refund.OrderID) == ("RF-1", "PAY-1", order.OrderID)
    assert (refund.Amount, refund.Currency, refund.Reason) == (Decimal("40.00"), "EUR", "damaged")
    assert replay == refund == await bng.get_refund("RF-1")
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert types(deliveries) == ["order.created", "payment.captured", "payment.refunded"]
    assert verified(deliveries)
    assert Refund.model_validate(deliveries[2].event["data"]) == refund
    [entry] = webhook_log(sandbox, "payment.refunded")
    assert entry["ordering_key"] == f"order:{order.OrderID}"


async def test_refunds_may_not_exceed_the_captured_amount(bng: BngClient, sandbox: ServerThread) -> None:
    order = await paid_order(bng)
    await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("40"), currency="EUR", refund_id="RF-1")

    with pytest.raises(BngConflictError, match="exceed"):
        await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("60.01"), currency="EUR")
    with pytest.raises(BngConflictError):  # a known RefundID with another amount
        await bng.refund_payment(
            order.OrderID, "PAY-1", amount=Decimal("41"), currency="EUR", refund_id="RF-1"
        )
    rest = await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("60"), currency="EUR")

    assert rest.RefundID.startswith("RF-") and rest.RefundID != "RF-1"
    [payment] = await bng.list_payments(order.OrderID)
    assert payment.Status == PaymentStatus.REFUNDED
    refunds = await bng.list_refunds(order.OrderID, "PAY-1")
    assert sorted(r.Amount for r in refunds) == [Decimal("40"), Decimal("60")]
    assert len(webhook_log(sandbox, "payment.refunded")) == 2
    with pytest.raises(BngConflictError):
        await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("0.01"), currency="EUR")


async def test_refund_refusals(bng: BngClient) -> None:
    order = await paid_order(bng)
    other = await bng.create_order(make_demo_orders(1, seed=2, start_number=10002)[0])

    with pytest.raises(BngNotFoundError):
        await bng.refund_payment(order.OrderID, "PAY-404", amount=Decimal("1"), currency="EUR")
    with pytest.raises(BngNotFoundError):  # the payment belongs to another order
        await bng.refund_payment(other.OrderID, "PAY-1", amount=Decimal("1"), currency="EUR")
    with pytest.raises(BngNotFoundError):
        await bng.refund_payment("BNG-404", "PAY-1", amount=Decimal("1"), currency="EUR")
    with pytest.raises(BngValidationError) as currency:
        await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("1"), currency="USD")
    with pytest.raises(BngValidationError) as zero:
        await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("0"), currency="EUR")
    with pytest.raises(BngNotFoundError):
        await bng.get_refund("RF-404")
    with pytest.raises(BngNotFoundError):
        await bng.list_refunds(other.OrderID, "PAY-1")

    assert field_names(currency) == ["Currency"]
    assert field_names(zero) == ["Amount"]


async def test_a_refund_whose_answer_is_lost_is_retried_with_its_key_and_made_once(
    bng: BngClient, sandbox: ServerThread
) -> None:
    order = await paid_order(bng)
    add_fault(sandbox, method="POST", path_prefix="/api/v1/orders/", status=504, after_commit=True)

    refund = await bng.refund_payment(order.OrderID, "PAY-1", amount=Decimal("25"), currency="EUR")

    assert await bng.list_refunds(order.OrderID, "PAY-1") == [refund]
    assert len(webhook_log(sandbox, "payment.refunded")) == 1
