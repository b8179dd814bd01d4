"""The BNG client's master-data methods against the sandbox over HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import BngConflictError, BngNotFoundError, BngValidationError
from clients.bng.models import Address, Product, Vendor, VendorStatus
from sandbox.serve import ServerThread
from tests.sandbox_bng.conftest import CLIENT_ID, CLIENT_SECRET
from tests.sandbox_bng.receiver import WebhookReceiver


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the list requests per path, to see when the client fetches pages."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.list_calls: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "page_size" in request.url.params:
            self.list_calls[request.url.path] = self.list_calls.get(request.url.path, 0) + 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def counted(sandbox: ServerThread) -> AsyncIterator[tuple[BngClient, CountingTransport]]:
    transport = CountingTransport()
    async with BngClient(
        sandbox.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, transport=transport
    ) as client:
        yield client, transport


def bulk(sandbox: ServerThread, kind: str, documents: list[dict[str, Any]]) -> None:
    response = httpx.post(
        f"{sandbox.url}/_sandbox/bulk", json={"kind": kind, "documents": documents}, timeout=30
    )
    assert response.status_code == 200, response.text


async def test_vendor_methods(bng: BngClient, receiver: WebhookReceiver) -> None:
    vendor = Vendor(
        VendorID="VEND-9001",
        Name="Speichen & Naben KG",
        Address=Address(Line1="Am Hafen 3", City="Bremen", PostalCode="28195", Country="DE"),
        PaymentTerms="NET30",
    )

    created = await bng.create_vendor(vendor, idempotency_key="vendor-9001")
    replayed = await bng.create_vendor(vendor, idempotency_key="vendor-9001")
    with pytest.raises(BngConflictError):
        await bng.create_vendor(vendor)
    linked = await bng.update_vendor(
        "VEND-9001", {"ExternalID": "S000000042", "Status": VendorStatus.INACTIVE}
    )
    fetched = await bng.get_vendor("VEND-9001")
    listed = [v.VendorID async for v in bng.iter_vendors(page_size=2)]

    assert replayed == created and created.UpdatedAt is not None
    assert (created.Currency, created.Status, created.ExternalID) == ("EUR", "Active", None)
    assert fetched == linked and (linked.ExternalID, linked.Status) == ("S000000042", "Inactive")
    assert linked.Address == vendor.Address
    assert listed == ["VEND-3001", "VEND-3002", "VEND-3003", "VEND-9001"]
    with pytest.raises(BngValidationError) as invalid:
        await bng.update_vendor("VEND-9001", {"Currency": "Euro"})
    assert [error.field for error in invalid.value.errors] == ["Currency"]

    await bng.delete_vendor("VEND-9001")

    with pytest.raises(BngNotFoundError):
        await bng.get_vendor("VEND-9001")
    with pytest.raises(BngNotFoundError):
        await bng.delete_vendor("VEND-9001")
    with pytest.raises(BngNotFoundError):
        await bng.update_vendor("VEND-9001", {"Name": "x"})
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert [d.event["type"] for d in deliveries] == ["vendor.created", "vendor.updated", "vendor.deleted"]


async def test_iter_vendors_updated_since(bng: BngClient) -> None:
    since = datetime.now(UTC)
    time.sleep(0.01)
    await bng.update_vendor("VEND-3002", {"Phone": "+886 2 0000"})

    assert [v.VendorID async for v in bng.iter_vendors(updated_since=since)] == ["VEND-3002"]


async def test_product_methods(bng: BngClient, receiver: WebhookReceiver) -> None:
    bell = Product(SKU="BELL-1", Name="Bell", Price=Decimal("9.90"))

    created = await bng.create_product(bell, idempotency_key="bell-1")
    with pytest.raises(BngConflictError):
        await bng.create_product(bell)
    repriced = await bng.update_product("BELL-1", {"Price": Decimal("8.50"), "ExternalID": "BELL-001"})
    with pytest.raises(BngValidationError):
        await bng.update_product("BELL-1", {"SKU": "BELL-2"})
    with pytest.raises(BngNotFoundError):
        await bng.update_product("NO-SUCH-SKU", {"Price": Decimal("1")})

    assert created.Name == "Bell" and created.UnitOfMeasure == "EA"
    assert (repriced.Price, repriced.ExternalID, repriced.Name) == (Decimal("8.50"), "BELL-001", "Bell")
    assert await bng.get_product("BELL-1") == repriced

    await bng.delete_product("BELL-1")

    with pytest.raises(BngNotFoundError):
        await bng.get_product("BELL-1")
    with pytest.raises(BngNotFoundError):
        await bng.delete_product("BELL-1")
    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    assert [d.event["type"] for d in deliveries] == ["product.created", "product.updated", "product.deleted"]


async def test_delete_customer(bng: BngClient, receiver: WebhookReceiver) -> None:
    await bng.delete_customer("CUST-2002")

    with pytest.raises(BngNotFoundError):
        await bng.get_customer("CUST-2002")
    with pytest.raises(BngNotFoundError):
        await bng.delete_customer("CUST-2002")
    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)
    assert delivery.event["type"] == "customer.deleted"
    assert delivery.event["data"]["CompanyName"] == "Nordic Cycles AB"


async def test_get_inventory(bng: BngClient) -> None:
    level = await bng.set_inventory("LOCK-U", "100", on_hand=Decimal("40"), available=Decimal("35"))

    assert await bng.get_inventory("LOCK-U", "100") == level
    with pytest.raises(BngNotFoundError):
        await bng.get_inventory("LOCK-U", "999")
    with pytest.raises(BngNotFoundError):
        await bng.get_inventory("NO-SUCH-SKU", "100")


async def test_ids_with_reserved_characters_stay_one_path_segment(bng: BngClient) -> None:
    odd = Product(SKU="BOX #1?A B", Name="Odd")

    await bng.create_product(odd)
    renamed = await bng.update_product(odd.SKU, {"Name": "Odd renamed"})

    assert (await bng.get_product(odd.SKU)) == renamed and renamed.SKU == "BOX #1?A B"
    await bng.delete_product(odd.SKU)
    with pytest.raises(BngNotFoundError):
        await bng.get_product(odd.SKU)


async def test_iter_products_visits_thousands_of_products_exactly_once(
    counted: tuple[BngClient, CountingTransport], sandbox: ServerThread
) -> None:
    bng, transport = counted
    bulk(sandbox, "product", [{"SKU": f"BULK-{n:05d}", "Name": f"Bulk {n}"} for n in range(3000)])

    skus = [product.SKU async for product in bng.iter_products(page_size=137)]

    assert len(skus) == len(set(skus)) == 3015
    assert set(skus) >= {f"BULK-{n:05d}" for n in range(3000)} and "LOCK-U" in skus
    assert skus == sorted(skus)
    assert transport.list_calls == {"/api/v1/products": -(-3015 // 137)}


async def test_iter_products_fetches_the_next_page_only_when_needed(
    counted: tuple[BngClient, CountingTransport], sandbox: ServerThread
) -> None:
    bng, transport = counted
    bulk(sandbox, "product", [{"SKU": f"BULK-{n:05d}", "Name": f"Bulk {n}"} for n in range(1000)])
    products = bng.iter_products(page_size=10)

    first_page = [await anext(products) for _ in range(10)]
    assert transport.list_calls == {"/api/v1/products": 1}
    eleventh = await anext(products)
    assert transport.list_calls == {"/api/v1/products": 2}
    await products.aclose()  # type: ignore[attr-defined]

    demo_bikes = ["BIKE-BLU-28", "BIKE-OLD-24", "BIKE-RED-26"]  # sort before BULK-
    assert [p.SKU for p in first_page] == demo_bikes + [f"BULK-{n:05d}" for n in range(7)]
    assert eleventh.SKU == "BULK-00007"


async def test_list_page_resumes_from_its_cursor(bng: BngClient, sandbox: ServerThread) -> None:
    bulk(sandbox, "product", [{"SKU": f"BULK-{n:04d}", "Name": f"Bulk {n}"} for n in range(450)])

    first, cursor = await bng.list_page("products", page_size=200)
    assert len(first) == 200 and cursor is not None
    assert isinstance(first[0], dict) and first[0]["SKU"] == "BIKE-BLU-28"
    # A reconciler that crashed here starts again with a new client and the cursor it saved.
    async with BngClient(sandbox.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as again:
        second, cursor = await again.list_page("products", cursor=cursor, page_size=200)
        third, last = await again.list_page("products", cursor=cursor, page_size=200)

    skus = [item["SKU"] for item in first + second + third]
    assert (len(second), len(third), last) == (200, 65, None)
    assert len(skus) == len(set(skus)) == 465 and skus == sorted(skus)


async def test_list_page_serves_every_kind_raw(bng: BngClient, sandbox: ServerThread) -> None:
    await bng.set_inventory("LOCK-U", "100", on_hand=Decimal("4"), available=Decimal("4"))

    customers, customers_next = await bng.list_page("customers", page_size=3)
    vendors, vendors_next = await bng.list_page("vendors")
    stock, stock_next = await bng.list_page("inventory")

    assert [c["CustomerID"] for c in customers] == ["CUST-1001", "CUST-1002", "CUST-1003"]
    assert customers_next is not None
    assert (len(vendors), vendors_next) == (3, None)
    assert vendors[0]["Address"]["City"] == "Stuttgart"  # raw JSON: nested dicts, no models
    assert stock == [
        {
            "SKU": "LOCK-U",
            "Warehouse": "100",
            "QuantityOnHand": "4",
            "QuantityAvailable": "4",
            "UpdatedAt": stock[0]["UpdatedAt"],
        }
    ]
    assert stock_next is None
    with pytest.raises(ValueError, match="orders"):
        await bng.list_page("orders", page_size=10)  # type: ignore[arg-type]
