"""The packaged maps on realistic BNG records."""

from __future__ import annotations

from typing import Any

import pytest

from mapping.engine import apply_mapping
from mapping.loader import available_mappings, load_lookups, load_mapping

ORDER_CONTEXT = {"ORTP": "A01"}
CUSTOMER_CONTEXT = {"CUTM": "TEMPLATE"}


def bng_order(**changes: Any) -> dict[str, Any]:
    """An order as BNG sends it (Order.model_dump(mode="json"))."""
    order: dict[str, Any] = {
        "OrderID": "BNG-2026-000042",
        "StoreID": "WEB",
        "CustomerID": "CUST-77",
        "FirstName": "Anna",
        "LastName": "Schmidt",
        "OrderDate": "2026-11-24T10:15:00Z",
        "OrderStatus": "Pending",
        "Currency": "EUR",
        "ShippingAddress": {
            "Line1": "Unter den Linden 1",
            "City": "Berlin",
            "PostalCode": "10117",
            "Country": "DE",
        },
        "Lines": [
            {"LineNumber": 1, "SKU": "BIKE-TRK-500", "Quantity": "2", "UnitPrice": "1299.00"},
            {"LineNumber": 2, "SKU": "HELMET-M", "Quantity": "1.5", "UnitPrice": "49.95"},
        ],
    }
    order.update(changes)
    return order


def bng_customer(**changes: Any) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "CustomerID": "CUST-77",
        "CompanyName": "Velo Werkstatt GmbH",
        "FirstName": "Anna",
        "LastName": "Schmidt",
        "Email": "anna@velo.example",
        "Phone": "+49 30 1234567",
        "BillingAddress": {
            "Line1": "Unter den Linden 1",
            "Line2": "Hinterhof",
            "City": "Berlin",
            "PostalCode": "10117",
            "Country": "DE",
        },
        "Status": "Active",
    }
    customer.update(changes)
    return customer


def map_order(order: dict[str, Any]) -> Any:
    return apply_mapping(
        load_mapping("order.bng_to_m3"), order, context=ORDER_CONTEXT, lookups=load_lookups()
    )


def test_all_packaged_maps_load() -> None:
    entities = (
        "customer",
        "inventory",
        "journal",
        "order",
        "product",
        "purchase_order",
        "supplier",
        "supplier_invoice",
    )
    directions = {name.rsplit(".", 1)[1] for name in available_mappings()}
    assert directions == {"bng_to_m3", "m3_to_bng"}
    assert {name.split(".")[0] for name in available_mappings()} == set(entities)
    for name in available_mappings():
        assert load_mapping(name).target_system == name.rsplit("_", 1)[1]


def test_order_map_gives_the_expected_m3_values() -> None:
    result = map_order(bng_order())
    assert result.errors == []
    assert result.values == {
        "CUOR": "BNG-2026-000042",
        "ORDT": "20261124",
        "RLDT": "20261124",
        "CUCD": "EUR",
        "ORTP": "A01",
        "WHLO": "100",
        "YREF": "Anna Schmidt",
        "MODL": "DHL",
    }
    assert result.lines == [
        {"PONR": "1", "ITNO": "BIKE-TRK-500", "ORQT": "2", "SAPR": "1299", "DWDT": "20261124", "WHLO": "100"},
        {"PONR": "2", "ITNO": "HELMET-M", "ORQT": "1.5", "SAPR": "49.95", "DWDT": "20261124", "WHLO": "100"},
    ]


def test_order_other_store_country_and_line_delivery_date() -> None:
    order = bng_order(
        StoreID="B2B", ShippingAddress={"Line1": "x", "City": "Wien", "PostalCode": "1010", "Country": "AT"}
    )
    order["Lines"][0]["RequestedDeliveryDate"] = "2026-12-01"
    result = map_order(order)
    assert result.ok
    assert (result.values["WHLO"], result.values["MODL"]) == ("200", "UPS")
    assert [line["DWDT"] for line in result.lines] == ["20261201", "20261124"]
    assert [line["WHLO"] for line in result.lines] == ["200", "200"]


def test_order_without_ship_to_leaves_modl_to_m3() -> None:
    result = map_order(bng_order(ShippingAddress=None))
    assert result.ok
    assert "MODL" not in result.values


def test_too_long_order_id_and_sku_are_errors_naming_field_and_source() -> None:
    order = bng_order(OrderID="BNG-2026-000000000042X")  # 22 characters
    order["Lines"][1]["SKU"] = "HELMET-MEDIUM-BLK"  # 17 characters
    result = map_order(order)
    assert [(e.field, e.source, e.line) for e in result.errors] == [
        ("CUOR", "OrderID", None),
        ("ITNO", "SKU", 2),
    ]
    assert result.errors[0].message == (
        "CUOR: value 'BNG-2026-000000000042X' is 22 characters, M3 allows 20 (from OrderID)"
    )
    assert (
        result.errors[1].message
        == "ITNO (line 2): value 'HELMET-MEDIUM-BLK' is 17 characters, M3 allows 15 (from SKU)"
    )
    assert "CUOR" not in result.values


def test_yref_is_truncated_to_30() -> None:
    result = map_order(bng_order(FirstName="Maximiliane-Theresa", LastName="Schwarzenberger-Lichtenstein"))
    assert result.ok
    assert result.values["YREF"] == "Maximiliane-Theresa Schwarzenb"


def test_unknown_store_is_an_error() -> None:
    result = map_order(bng_order(StoreID="POS"))
    [error] = result.errors
    assert (error.field, error.source) == ("WHLO", "StoreID")
    assert error.message == "WHLO: 'POS' is not in lookup table store_to_warehouse (from StoreID)"
    # The lines read head.WHLO, which is missing; WHLO is optional on a line so M3 would default it.
    assert all("WHLO" not in line for line in result.lines)


def test_bad_order_date_is_an_error() -> None:
    result = map_order(bng_order(OrderDate="24/11/2026"))
    assert [(e.field, e.source) for e in result.errors] == [("ORDT", "OrderDate"), ("RLDT", "OrderDate")]
    # A line falls back to the head's RLDT, which is missing; DWDT is optional, so no line error.
    assert all("DWDT" not in line for line in result.lines)


def test_customer_map_for_a_company() -> None:
    result = apply_mapping(
        load_mapping("customer.bng_to_m3"), bng_customer(), context=CUSTOMER_CONTEXT, lookups=load_lookups()
    )
    assert result.errors == []
    assert result.values == {
        "CUTM": "TEMPLATE",
        "CUNM": "Velo Werkstatt GmbH",
        "CUA1": "Unter den Linden 1",
        "CUA2": "Hinterhof",
        "CUA3": "Berlin",
        "TOWN": "Berlin",
        "PONO": "10117",
        "CSCD": "DE",
        "PHNO": "+49 30 1234567",
        "MAIL": "anna@velo.example",
        "YREF": "Anna Schmidt",
        "STAT": "20",
        "CUCD": "EUR",
    }


def test_consumer_customer_gets_the_persons_name() -> None:
    customer = bng_customer(CompanyName=None, Status="Blocked")
    result = apply_mapping(
        load_mapping("customer.bng_to_m3"),
        customer,
        context={**CUSTOMER_CONTEXT, "CUNO": "C1"},
        lookups=load_lookups(),
    )
    assert result.ok
    assert (result.values["CUNM"], result.values["STAT"], result.values["CUNO"]) == (
        "Anna Schmidt",
        "90",
        "C1",
    )


def test_customer_without_billing_address_lacks_cua1() -> None:
    result = apply_mapping(
        load_mapping("customer.bng_to_m3"),
        bng_customer(BillingAddress=None),
        context=CUSTOMER_CONTEXT,
        lookups=load_lookups(),
    )
    assert [(e.field, e.source) for e in result.errors] == [("CUA1", "BillingAddress.Line1")]


@pytest.mark.parametrize(("category", "itcl"), [("BIKES", "B10"), ("APPAREL", "C50"), (None, None)])
def test_product_map(category: str | None, itcl: str | None) -> None:
    product = {
        "SKU": "BIKE-TRK-500",
        "Name": "Trekking bike 500, aluminium frame, 28 inch",
        "Description": "A sturdy trekking bike. " * 4,
        "ProductCategory": category,
        "UnitOfMeasure": "ea",
        "Status": "Active",
    }
    result = apply_mapping(load_mapping("product.bng_to_m3"), product, lookups=load_lookups())
    assert result.ok
    expected = {
        "ITNO": "BIKE-TRK-500",
        "ITDS": "Trekking bike 500, aluminium f",
        "FUDS": ("A sturdy trekking bike. " * 3)[:60].rstrip(),
        "UNMS": "EA",
        "STAT": "20",
        "MABU": "2",
    }
    if itcl is not None:
        expected["ITCL"] = itcl
    assert result.values == expected


def test_unknown_product_category_is_an_error() -> None:
    product = {"SKU": "X1", "Name": "Thing", "ProductCategory": "GARDEN", "UnitOfMeasure": "EA"}
    result = apply_mapping(load_mapping("product.bng_to_m3"), product, lookups=load_lookups())
    assert [(e.field, e.source, e.message) for e in result.errors] == [
        (
            "ITCL",
            "ProductCategory",
            "ITCL: 'GARDEN' is not in lookup table product_category_to_itcl (from ProductCategory)",
        )
    ]
