"""The BNG client against the sandbox: orders, M3's updates, payments, paging, errors and retries."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from clients.bng.client import BngClient
from clients.bng.errors import (
    BngConflictError,
    BngNotFoundError,
    BngRateLimitedError,
    BngTransientError,
    BngValidationError,
)
from clients.bng.models import Customer, Invoice, Order, OrderStatus, OrderStatusUpdate, Payment, Product
from sandbox.bng.demo_data import make_demo_orders
from sandbox.serve import ServerThread, free_port
from tests.sandbox_bng.conftest import CLIENT_ID, CLIENT_SECRET
from tests.sandbox_bng.receiver import WebhookReceiver


def demo_order(number: int = 10001) -> Order:
    return make_demo_orders(1, seed=number, start_number=number)[0]


def add_fault(sandbox: ServerThread, **fault: object) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/faults", json=fault).raise_for_status()


async def test_create_and_read_an_order(bng: BngClient) -> None:
    order = demo_order()

    created = await bng.create_order(order)
    fetched = await bng.get_order(order.OrderID)

    assert created == fetched
    assert fetched.OrderStatus == OrderStatus.PENDING
    assert fetched.TotalAmount == sum(line.Quantity * line.UnitPrice for line in order.Lines)
    assert fetched.UpdatedAt is not None
    assert [o.OrderID for o in await bng.list_orders(status=OrderStatus.PENDING)] == [order.OrderID]
    assert await bng.list_orders(status=OrderStatus.SHIPPED) == []


async def test_status_updates_are_applied_idempotently_and_recorded(
    bng: BngClient, sandbox: ServerThread
) -> None:
    order = await bng.create_order(demo_order())
    accepted = OrderStatusUpdate(OrderStatus=OrderStatus.ACCEPTED, M3OrderNumber="1000042")
    shipped = OrderStatusUpdate(OrderStatus=OrderStatus.SHIPPED, DeliveryNumber="DLV-7")

    await bng.update_order_status(order.OrderID, accepted)
    again = await bng.update_order_status(order.OrderID, accepted)  # a retried activity
    final = await bng.update_order_status(order.OrderID, shipped)

    assert again.OrderStatus == OrderStatus.ACCEPTED and again.M3OrderNumber == "1000042"
    assert (final.OrderStatus, final.M3OrderNumber, final.DeliveryNumber) == ("Shipped", "1000042", "DLV-7")
    history = httpx.get(
        f"{sandbox.url}/api/v1/orders/{order.OrderID}/history", headers={"X-API-Key": "test-key-123"}
    ).json()
    assert [entry["OrderStatus"] for entry in history] == ["Accepted", "Shipped"]
    assert history[1]["PreviousStatus"] == "Accepted" and history[1]["DeliveryNumber"] == "DLV-7"
    assert all(datetime.fromisoformat(entry["ReceivedAt"]).tzinfo for entry in history)


async def test_cancelled_order_refuses_other_statuses(bng: BngClient) -> None:
    order = await bng.create_order(demo_order())
    await bng.update_order_status(order.OrderID, OrderStatusUpdate(OrderStatus=OrderStatus.CANCELLED))

    with pytest.raises(BngConflictError):
        await bng.update_order_status(order.OrderID, OrderStatusUpdate(OrderStatus=OrderStatus.SHIPPED))


async def test_put_invoice_is_idempotent(bng: BngClient, receiver: WebhookReceiver) -> None:
    order = await bng.create_order(demo_order())
    invoice = Invoice(
        InvoiceNumber="INV-2026-0001",
        InvoiceDate=date(2026, 11, 25),
        DueDate=date(2026, 12, 25),
        NetAmount=Decimal("100.00"),
        TaxAmount=Decimal("19.00"),
        TotalAmount=Decimal("119.00"),
        Currency="EUR",
    )

    first = await bng.put_invoice(order.OrderID, invoice)
    second = await bng.put_invoice(order.OrderID, invoice)

    assert first.Invoice == invoice and second == first
    deliveries = receiver.wait_for(lambda got: len(got) >= 2)
    assert [d.event["type"] for d in deliveries] == ["order.created", "order.updated"]
    assert deliveries[1].event["data"]["Invoice"]["InvoiceNumber"] == "INV-2026-0001"


async def test_capture_payment_emits_payment_captured(bng: BngClient, receiver: WebhookReceiver) -> None:
    order = await bng.create_order(demo_order())

    payment = await bng.capture_payment(
        order.OrderID, amount=Decimal("123.45"), currency="EUR", payment_id="PAY-1"
    )
    replay = await bng.capture_payment(
        order.OrderID, amount=Decimal("123.45"), currency="EUR", payment_id="PAY-1"
    )

    assert (payment.PaymentID, payment.Amount, payment.Status) == ("PAY-1", Decimal("123.45"), "Captured")
    assert replay == payment
    assert await bng.list_payments(order.OrderID) == [payment]
    deliveries = receiver.wait_for(lambda got: len(got) >= 2)
    assert [d.event["type"] for d in deliveries] == ["order.created", "payment.captured"]
    assert Payment.model_validate(deliveries[1].event["data"]) == payment
    with pytest.raises(BngConflictError):
        await bng.capture_payment(order.OrderID, amount=Decimal("1"), currency="EUR", payment_id="PAY-1")
    with pytest.raises(BngValidationError) as wrong_currency:
        await bng.capture_payment(order.OrderID, amount=Decimal("1"), currency="USD")
    assert [error.field for error in wrong_currency.value.errors] == ["Currency"]


async def test_iterating_customers_reads_every_page(bng: BngClient) -> None:
    for number in range(3):
        await bng.create_customer(Customer(CustomerID=f"CUST-30{number}", CompanyName=f"Shop {number}"))

    customers = [customer.CustomerID async for customer in bng.iter_customers(page_size=2)]

    assert customers == [
        "CUST-1001",
        "CUST-1002",
        "CUST-1003",
        "CUST-2001",
        "CUST-2002",
        "CUST-300",
        "CUST-301",
        "CUST-302",
    ]


async def test_updated_since_returns_only_changed_customers(bng: BngClient) -> None:
    since = datetime.now(UTC)
    time.sleep(0.01)

    updated = await bng.update_customer("CUST-2002", {"ExternalID": "C000000099"})
    changed = [customer async for customer in bng.iter_customers(updated_since=since)]

    assert updated.ExternalID == "C000000099" and updated.CompanyName == "Nordic Cycles AB"
    assert [customer.CustomerID for customer in changed] == ["CUST-2002"]


async def test_products_and_inventory(bng: BngClient) -> None:
    renamed = await bng.upsert_product(
        Product(SKU="LOCK-U", Name="U-lock heavy duty", Price=Decimal("39.50"))
    )
    created = await bng.upsert_product(Product(SKU="BELL-1", Name="Bell", ProductCategory="ACCESSORIES"))
    level = await bng.set_inventory("LOCK-U", "100", on_hand=Decimal("40"), available=Decimal("35"))

    assert (renamed.Name, renamed.Price, renamed.ProductCategory) == (
        "U-lock heavy duty",
        Decimal("39.50"),
        "ACCESSORIES",
    )
    assert (await bng.get_product("BELL-1")) == created
    assert len([product async for product in bng.iter_products(page_size=5)]) == 16
    assert (level.QuantityOnHand, level.QuantityAvailable) == (Decimal("40"), Decimal("35"))
    assert [lvl async for lvl in bng.iter_inventory(warehouse="100")] == [level]
    with pytest.raises(BngNotFoundError):
        await bng.set_inventory("NO-SUCH-SKU", "100", on_hand=Decimal("1"), available=Decimal("1"))


async def test_not_found_and_validation_errors_are_not_retried(bng: BngClient, sandbox: ServerThread) -> None:
    with pytest.raises(BngNotFoundError):
        await bng.get_order("BNG-404")

    unknown_sku = demo_order().model_copy(update={"OrderID": "BNG-BAD"})
    unknown_sku.Lines[0].SKU = "NOT-SOLD-HERE"
    with pytest.raises(BngValidationError) as invalid:
        await bng.create_order(unknown_sku)
    assert [error.field for error in invalid.value.errors] == ["Lines.0.SKU"]
    assert "NOT-SOLD-HERE" in invalid.value.errors[0].message


async def test_transient_5xx_is_retried_to_success(bng: BngClient, sandbox: ServerThread) -> None:
    add_fault(sandbox, method="GET", path_prefix="/api/v1/customers/", status=503, count=2)

    customer = await bng.get_customer("CUST-1001")

    assert customer.ExternalID == "C000000001"
    assert httpx.get(f"{sandbox.url}/_sandbox/faults").json() == []  # both faults were hit


async def test_token_endpoint_outage_is_retried(bng: BngClient, sandbox: ServerThread) -> None:
    add_fault(sandbox, method="POST", path_prefix="/oauth/token", status=503, count=1)

    customer = await bng.get_customer("CUST-1002")

    assert customer.CompanyName == "Pedal Partners Ltd"


async def test_429_with_retry_after_is_honoured_then_succeeds(bng: BngClient, sandbox: ServerThread) -> None:
    add_fault(sandbox, method="GET", path_prefix="/api/v1/products/", status=429, count=1, retry_after=1)

    started = time.monotonic()
    product = await bng.get_product("PUMP-FLOOR")

    assert product.Name == "Floor pump"
    assert time.monotonic() - started >= 1.0


async def test_token_bucket_rate_limit_answers_429_and_the_client_waits(
    bng: BngClient, sandbox: ServerThread
) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/knobs", json={"rate_limit_per_second": 2}).raise_for_status()
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": "test-key-123"}) as raw:
        answers = [raw.get("/api/v1/products/TUBE-28") for _ in range(4)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert [answer.status_code for answer in answers[:2]] == [200, 200] and limited
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["error"] == "rate_limited"

    started = time.monotonic()
    names = [(await bng.get_product(sku)).Name for sku in ("TUBE-28", "TYRE-28", "CHAIN-9S")]

    assert names == ["Inner tube 28in", "Tyre 28x1.75", "Chain 9-speed"]
    assert time.monotonic() - started >= 0.4  # three calls at two per second: someone waited


async def test_long_retry_after_is_raised_at_once_for_the_caller_to_reschedule(
    bng: BngClient, sandbox: ServerThread
) -> None:
    add_fault(sandbox, path_prefix="/api/v1/orders", status=429, count=1, retry_after=60)

    started = time.monotonic()
    with pytest.raises(BngRateLimitedError) as limited:
        await bng.get_order("BNG-10001")

    assert limited.value.retry_after == 60
    assert time.monotonic() - started < 1


async def test_unreachable_bng_is_a_transient_error_after_the_retries() -> None:
    async with BngClient(
        f"http://127.0.0.1:{free_port()}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        max_attempts=2,
        backoff_base=0.01,
    ) as bng:
        with pytest.raises(BngTransientError, match="unreachable"):
            await bng.get_order("BNG-10001")


async def test_create_order_with_the_same_idempotency_key_creates_once(
    bng: BngClient, receiver: WebhookReceiver
) -> None:
    order = demo_order()

    first = await bng.create_order(order, idempotency_key="checkout-42")
    second = await bng.create_order(order, idempotency_key="checkout-42")

    assert first == second
    receiver.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.2)
    assert len(receiver.deliveries) == 1
    with pytest.raises(BngConflictError):
        await bng.create_order(order)  # a new key: BNG sees a second order with the same id
