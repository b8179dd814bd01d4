"""Demo catalogue, customers and orders, matching the M3 sandbox's demo tenant.

The twelve catalogue SKUs are M3 items; SCOOTER-X exists only in BNG. CUST-1001..1003 are linked
to M3 customers C000000001..3 (C000000003 is blocked in M3 only); CUST-2001 and CUST-2002 are not
in M3 yet. The demo vendors VEND-3001..3003 are not linked to M3 suppliers (no ExternalID);
VEND-3001 (EUR) and VEND-3002 (USD) take purchase orders, VEND-3003 is inactive and refused.
Their PaymentTerms are the M3 terms codes ("30", "60": M3's TEPY has 3 characters, so BNG's own
"NET30" would not map), so m3bng can create them as M3 suppliers as they are.
Keep this file in step with sandbox/m3/demo_data.py.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from clients.bng.models import (
    Address,
    Customer,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Vendor,
    VendorStatus,
)
from sandbox.bng.store import BngStore

# SKU, name, category, price.
_CATALOGUE: list[tuple[str, str, str, str]] = [
    ("BIKE-RED-26", "City bike red 26in", "BIKES", "749.00"),
    ("BIKE-BLU-28", "Touring bike blue 28in", "BIKES", "899.00"),
    ("HELMET-M", "Helmet size M", "ACCESSORIES", "59.90"),
    ("HELMET-L", "Helmet size L", "ACCESSORIES", "59.90"),
    ("LOCK-U", "U-lock", "ACCESSORIES", "34.50"),
    ("LIGHT-SET", "LED light set", "ACCESSORIES", "24.90"),
    ("TYRE-28", "Tyre 28x1.75", "PARTS", "19.90"),
    ("TUBE-28", "Inner tube 28in", "PARTS", "6.50"),
    ("CHAIN-9S", "Chain 9-speed", "PARTS", "22.00"),
    ("PUMP-FLOOR", "Floor pump", "TOOLS", "39.00"),
    ("TOOLKIT-16", "Multi tool 16 functions", "TOOLS", "27.50"),
    ("GLOVES-L", "Gloves size L", "APPAREL", "19.00"),
]
# Sold in BNG, unknown to M3: an order for it must fail M3 validation.
BNG_ONLY_SKU = "SCOOTER-X"
# Also sold in BNG, but M3 cannot fulfil them: BIKE-OLD-24 is blocked in M3, and no M3
# warehouse stocks TRAILER-KID. Never used by make_demo_orders; the failure tests use them.
_UNFULFILLABLE: list[tuple[str, str, str, str]] = [
    (BNG_ONLY_SKU, "E-scooter X", "BIKES", "1299.00"),
    ("BIKE-OLD-24", "City bike 24in (discontinued)", "BIKES", "499.00"),
    ("TRAILER-KID", "Kids bike trailer", "ACCESSORIES", "199.00"),
]

M3_SKUS: list[str] = [sku for sku, *_ in _CATALOGUE]
BLOCKED_CUSTOMER_ID = "CUST-1003"
ORDERING_CUSTOMER_IDS: list[str] = ["CUST-1001", "CUST-1002", "CUST-2001", "CUST-2002"]
# The demo vendors that take purchase orders (VEND-3003 is inactive).
PURCHASING_VENDOR_IDS: list[str] = ["VEND-3001", "VEND-3002"]
INACTIVE_VENDOR_ID = "VEND-3003"
# Fixed, so make_demo_orders gives the same orders on every run.
DEFAULT_ORDER_START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def demo_products() -> list[Product]:
    return [
        Product(SKU=sku, Name=name, ProductCategory=category, Price=Decimal(price), UnitOfMeasure="EA")
        for sku, name, category, price in _CATALOGUE + _UNFULFILLABLE
    ]


def _address(line1: str, city: str, postal_code: str, country: str) -> Address:
    return Address(Line1=line1, City=city, PostalCode=postal_code, Country=country)


def demo_customers() -> list[Customer]:
    berlin = _address("Torstrasse 101", "Berlin", "10119", "DE")
    # The same addresses as the M3 sandbox's customer records, where M3 has the customer.
    london = _address("12 Cycle Lane", "London", "N1 7AA", "GB")
    blocked = _address("Sperrweg 9", "Hamburg", "20095", "DE")
    hamburg = _address("Eppendorfer Weg 7", "Hamburg", "20259", "DE")
    goteborg = _address("Linnegatan 18", "Goteborg", "41304", "SE")
    return [
        Customer(
            CustomerID="CUST-1001",
            ExternalID="C000000001",
            CompanyName="Velo Shop Berlin",
            FirstName="Jonas",
            LastName="Weber",
            Email="orders@veloshop-berlin.example",
            Phone="+49 30 1234567",
            BillingAddress=berlin,
            ShippingAddress=_address("Lagerstrasse 5", "Berlin", "10553", "DE"),
            CreditLimit=Decimal("25000"),
        ),
        Customer(
            CustomerID="CUST-1002",
            ExternalID="C000000002",
            CompanyName="Pedal Partners Ltd",
            FirstName="Oliver",
            LastName="Hughes",
            Email="purchasing@pedalpartners.example",
            Phone="+44 20 7946 0123",
            BillingAddress=london,
            ShippingAddress=london,
            CreditLimit=Decimal("15000"),
        ),
        Customer(
            CustomerID=BLOCKED_CUSTOMER_ID,
            ExternalID="C000000003",
            CompanyName="Blocked Bikes GmbH",
            Email="info@blocked-bikes.example",
            Phone="+49 89 7654321",
            BillingAddress=blocked,
            ShippingAddress=blocked,
            CreditLimit=Decimal("5000"),
        ),
        Customer(
            CustomerID="CUST-2001",
            FirstName="Anna",
            LastName="Schmidt",
            Email="anna.schmidt@example.com",
            Phone="+49 40 5556677",
            BillingAddress=hamburg,
            ShippingAddress=hamburg,
        ),
        Customer(
            CustomerID="CUST-2002",
            CompanyName="Nordic Cycles AB",
            FirstName="Erik",
            LastName="Lindqvist",
            Email="order@nordiccycles.example",
            Phone="+46 31 123 45 67",
            BillingAddress=goteborg,
            ShippingAddress=goteborg,
            CreditLimit=Decimal("10000"),
        ),
    ]


def demo_vendors() -> list[Vendor]:
    return [
        Vendor(
            VendorID="VEND-3001",
            Name="Rahmenwerk Fahrradteile GmbH",
            Email="sales@rahmenwerk.example",
            Phone="+49 711 400 800",
            Address=_address("Industriestrasse 12", "Stuttgart", "70565", "DE"),
            Currency="EUR",
            PaymentTerms="30",
        ),
        Vendor(
            VendorID="VEND-3002",
            Name="Taipei Cycle Components Co.",
            Email="export@tcc.example",
            Phone="+886 2 2345 6789",
            Address=_address("88 Xinyi Road Sec. 5", "Taipei", "110", "TW"),
            Currency="USD",
            PaymentTerms="60",
        ),
        Vendor(
            VendorID="VEND-3003",
            Name="Nordic Gear Supply AB",
            Email="order@nordicgear.example",
            Address=_address("Hamngatan 4", "Malmo", "21122", "SE"),
            Currency="SEK",
            PaymentTerms="30",
            Status=VendorStatus.INACTIVE,
        ),
    ]


def make_demo_orders(
    count: int, *, seed: int = 0, start_number: int = 10001, start: datetime = DEFAULT_ORDER_START
) -> list[Order]:
    """``count`` realistic, valid orders; the same arguments always give the same orders."""
    rng = random.Random(seed)
    customers = {customer.CustomerID: customer for customer in demo_customers()}
    prices = {product.SKU: product for product in demo_products()}
    orders = []
    placed_at = start
    for number in range(start_number, start_number + count):
        customer = customers[rng.choice(ORDERING_CUSTOMER_IDS)]
        skus = rng.sample(M3_SKUS, rng.randint(1, 4))
        lines = [
            OrderLine(
                LineNumber=index,
                SKU=sku,
                Quantity=Decimal(rng.randint(1, 3)),
                UnitPrice=prices[sku].Price or Decimal("0"),
                ProductCategory=prices[sku].ProductCategory,
                Description=prices[sku].Name,
            )
            for index, sku in enumerate(skus, start=1)
        ]
        total = sum((line.Quantity * line.UnitPrice for line in lines), Decimal("0"))
        placed_at += timedelta(minutes=rng.randint(3, 90))
        is_business = customer.CompanyName is not None
        orders.append(
            Order(
                OrderID=f"BNG-{number}",
                StoreID="B2B" if is_business else "WEB",
                CustomerID=customer.CustomerID,
                CustomerName=customer.CompanyName or f"{customer.FirstName} {customer.LastName}",
                CompanyName=customer.CompanyName,
                FirstName=customer.FirstName,
                LastName=customer.LastName,
                Email=customer.Email,
                Phone=customer.Phone,
                OrderDate=placed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                Currency="EUR",
                CustomerPO=f"PO-{number}-{rng.randint(100, 999)}" if is_business else None,
                BillingAddress=customer.BillingAddress,
                ShippingAddress=customer.ShippingAddress,
                Lines=lines,
                TotalAmount=total.quantize(Decimal("0.01")),
            )
        )
    return orders


def make_demo_purchase_orders(
    count: int, *, seed: int = 0, start_number: int = 40001, start: datetime = DEFAULT_ORDER_START
) -> list[PurchaseOrder]:
    """``count`` valid POs (PO-40001, ...) for the active demo vendors, in M3 SKUs; deterministic.

    Not seeded: tests and demos create them through the API, so purchaseorder.created goes out.
    """
    rng = random.Random(seed)
    vendors = {vendor.VendorID: vendor for vendor in demo_vendors()}
    prices = {product.SKU: product.Price or Decimal("0") for product in demo_products()}
    orders = []
    ordered_at = start
    for number in range(start_number, start_number + count):
        vendor = vendors[rng.choice(PURCHASING_VENDOR_IDS)]
        ordered_at += timedelta(hours=rng.randint(1, 30))
        delivery = (ordered_at + timedelta(days=rng.randint(7, 28))).date()
        lines = [
            PurchaseOrderLine(
                LineNumber=index,
                SKU=sku,
                Quantity=Decimal(rng.choice((10, 20, 25, 50, 100))),
                UnitPrice=(prices[sku] * Decimal("0.55")).quantize(Decimal("0.01")),
                RequestedDeliveryDate=delivery,
            )
            for index, sku in enumerate(rng.sample(M3_SKUS, rng.randint(1, 3)), start=1)
        ]
        orders.append(
            PurchaseOrder(
                PurchaseOrderID=f"PO-{number}",
                VendorID=vendor.VendorID,
                OrderDate=ordered_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                RequestedDeliveryDate=delivery.isoformat(),
                Currency=vendor.Currency,
                Buyer="purchasing",
                Lines=lines,
            )
        )
    return orders


def seed_demo(store: BngStore) -> None:
    """Load the demo catalogue, customers and vendors, quietly: they predate the integration."""
    for product in demo_products():
        if store.get("product", product.SKU) is None:
            store.create_product(product, emit=False)
    for customer in demo_customers():
        if store.get("customer", customer.CustomerID) is None:
            store.create_customer(customer, emit=False)
    for vendor in demo_vendors():
        if store.get("vendor", vendor.VendorID) is None:
            store.create_vendor(vendor, emit=False)
