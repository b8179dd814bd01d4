"""BNG writes: a PATCH/PUT that may have arrived is never resent by the client; one that never left is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import BngAmbiguousWriteError
from clients.bng.models import (
    JournalStatus,
    JournalStatusUpdate,
    OrderStatus,
    OrderStatusUpdate,
    PurchaseOrderStatus,
    PurchaseOrderStatusUpdate,
    SupplierInvoiceStatus,
    SupplierInvoiceStatusUpdate,
)

ORDER = {
    "OrderID": "BNG-1",
    "CustomerID": "C1",
    "OrderDate": "2026-11-27",
    "Lines": [{"LineNumber": 1, "SKU": "A", "Quantity": "1", "UnitPrice": "1"}],
}


def client(answers: list[Callable[[httpx.Request], httpx.Response]], seen: list[httpx.Request]) -> BngClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)(request) if len(answers) > 1 else answers[0](request)

    return BngClient("http://bng.test", api_key="k", backoff_base=0, transport=httpx.MockTransport(handle))


def status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(code, json=ORDER if code == 200 else {"error": "x", "message": "x"})


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    "lost", [status(502), status(503), status(504), timeout], ids=["502", "503", "504", "timeout"]
)
async def test_a_patch_whose_answer_is_lost_is_not_resent(
    lost: Callable[[httpx.Request], httpx.Response],
) -> None:
    seen: list[httpx.Request] = []
    async with client([lost, status(200)], seen) as bng:
        with pytest.raises(BngAmbiguousWriteError):
            await bng.update_order_status("BNG-1", OrderStatusUpdate(OrderStatus=OrderStatus.ACCEPTED))
    assert len(seen) == 1


async def test_a_patch_that_never_left_is_sent_again() -> None:
    seen: list[httpx.Request] = []
    async with client([refused, status(200)], seen) as bng:
        await bng.update_order_status("BNG-1", OrderStatusUpdate(OrderStatus=OrderStatus.ACCEPTED))
    assert len(seen) == 2


async def test_a_read_whose_answer_is_lost_is_read_again() -> None:
    seen: list[httpx.Request] = []
    async with client([status(504), status(200)], seen) as bng:
        await bng.get_order("BNG-1")
    assert len(seen) == 2


@pytest.mark.parametrize("lost", [status(504), timeout], ids=["504", "timeout"])
@pytest.mark.parametrize(
    "put_status",
    [
        lambda bng: bng.set_purchase_order_status(
            "PO-1", PurchaseOrderStatusUpdate(Status=PurchaseOrderStatus.PLACED, ExternalID="2000001")
        ),
        lambda bng: bng.set_supplier_invoice_status(
            "SI-1", SupplierInvoiceStatusUpdate(Status=SupplierInvoiceStatus.POSTED, ExternalID="4100012")
        ),
        lambda bng: bng.set_journal_status("JE-1", JournalStatusUpdate(Status=JournalStatus.POSTED)),
    ],
    ids=["purchase-order", "supplier-invoice", "journal"],
)
async def test_a_status_put_whose_answer_is_lost_is_not_resent(
    lost: Callable[[httpx.Request], httpx.Response],
    put_status: Callable[[BngClient], Awaitable[object]],
) -> None:
    seen: list[httpx.Request] = []
    async with client([lost, status(200)], seen) as bng:
        with pytest.raises(BngAmbiguousWriteError):
            await put_status(bng)
    assert [(request.method, request.url.path.rsplit("/", 1)[-1]) for request in seen] == [("PUT", "status")]
