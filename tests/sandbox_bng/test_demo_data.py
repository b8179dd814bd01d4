"""The demo data: deterministic, valid, and consistent with the M3 sandbox's demo tenant."""

from __future__ import annotations

from decimal import Decimal

from sandbox.bng.demo_data import (
    BNG_ONLY_SKU,
    M3_SKUS,
    demo_customers,
    demo_products,
    demo_vendors,
    make_demo_orders,
    make_demo_purchase_orders,
)


def test_catalogue_prices_and_the_bng_only_scooter() -> None:
    products = {product.SKU: product for product in demo_products()}

    assert products["BIKE-RED-26"].Price == Decimal("749.00")
    assert products["TOOLKIT-16"].Name == "Multi tool 16 functions"
    assert products[BNG_ONLY_SKU].Price == Decimal("1299.00")
    assert len(M3_SKUS) == 12 and BNG_ONLY_SKU not in M3_SKUS


def test_customers_link_to_m3_where_m3_knows_them() -> None:
    customers = {customer.CustomerID: customer for customer in demo_customers()}

    assert {cid: c.ExternalID for cid, c in customers.items()} == {
        "CUST-1001": "C000000001",
        "CUST-1002": "C000000002",
        "CUST-1003": "C000000003",
        "CUST-2001": None,
        "CUST-2002": None,
    }
    anna = customers["CUST-2001"]
    assert (anna.FirstName, anna.LastName, anna.CompanyName) == ("Anna", "Schmidt", None)
    assert all(c.Email and c.Phone and c.BillingAddress and c.ShippingAddress for c in customers.values())


def test_demo_orders_are_deterministic_and_valid() -> None:
    orders = make_demo_orders(40, seed=3)
    customers = {customer.CustomerID: customer for customer in demo_customers()}
    prices = {product.SKU: product.Price for product in demo_products()}

    assert orders == make_demo_orders(40, seed=3)
    assert orders != make_demo_orders(40, seed=4)
    assert [order.OrderID for order in orders[:2]] == ["BNG-10001", "BNG-10002"]
    assert {order.CustomerID for order in orders} <= {"CUST-1001", "CUST-1002", "CUST-2001", "CUST-2002"}
    for order in orders:
        assert 1 <= len(order.Lines) <= 4
        assert {order.StoreID} <= {"WEB", "B2B"}
        assert order.ShippingAddress == customers[order.CustomerID].ShippingAddress
        for line in order.Lines:
            assert line.SKU in M3_SKUS
            assert 1 <= line.Quantity <= 3
            assert line.UnitPrice == prices[line.SKU]
        assert order.TotalAmount == sum(line.Quantity * line.UnitPrice for line in order.Lines)
    assert orders[0].OrderDate < orders[-1].OrderDate
    assert make_demo_orders(1, start_number=555)[0].OrderID == "BNG-555"


def test_demo_vendors_are_unlinked_and_complete() -> None:
    vendors = {vendor.VendorID: vendor for vendor in demo_vendors()}

    assert list(vendors) == ["VEND-3001", "VEND-3002", "VEND-3003"]
    assert all(vendor.ExternalID is None and vendor.Address and vendor.Email for vendor in vendors.values())
    assert {vid: (v.Currency, v.Status) for vid, v in vendors.items()} == {
        "VEND-3001": ("EUR", "Active"),
        "VEND-3002": ("USD", "Active"),
        "VEND-3003": ("SEK", "Inactive"),
    }
    # M3's TEPY has 3 characters: the terms must fit it for m3bng to create the M3 supplier.
    assert all(vendor.PaymentTerms and len(vendor.PaymentTerms) <= 3 for vendor in vendors.values())


def test_demo_purchase_orders_are_deterministic_and_for_active_vendors() -> None:
    orders = make_demo_purchase_orders(20, seed=5)
    vendors = {vendor.VendorID: vendor for vendor in demo_vendors()}

    assert orders == make_demo_purchase_orders(20, seed=5)
    assert [order.PurchaseOrderID for order in orders[:2]] == ["PO-40001", "PO-40002"]
    assert {order.VendorID for order in orders} == {"VEND-3001", "VEND-3002"}
    for order in orders:
        assert order.Currency == vendors[order.VendorID].Currency
        assert 1 <= len(order.Lines) <= 3
        assert all(line.SKU in M3_SKUS and line.Quantity > 0 for line in order.Lines)
        assert len({line.LineNumber for line in order.Lines}) == len(order.Lines)
