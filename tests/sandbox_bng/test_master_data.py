"""Master data in the sandbox over HTTP: vendors, deletes and their webhooks, drift and bulk loads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from clients.bng.models import Customer, Product, Vendor, WebhookEventType
from clients.bng.webhooks import verify
from sandbox.bng.demo_data import demo_vendors
from sandbox.serve import ServerThread
from tests.sandbox_bng.conftest import SECRET
from tests.sandbox_bng.receiver import Delivery, WebhookReceiver

NEW_VENDOR: dict[str, Any] = {
    "VendorID": "VEND-9001",
    "Name": "Speichen & Naben KG",
    "Email": "info@speichen.example",
    "Address": {"Line1": "Am Hafen 3", "City": "Bremen", "PostalCode": "28195", "Country": "DE"},
    "Currency": "EUR",
    "PaymentTerms": "NET30",
}


def webhook_log(sandbox: ServerThread) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.url}/_sandbox/webhooks")
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


def types(deliveries: list[Delivery]) -> list[str]:
    return [delivery.event["type"] for delivery in deliveries]


def assert_signed(deliveries: list[Delivery]) -> None:
    for delivery in deliveries:
        assert delivery.verification_error is None
        verify(SECRET, delivery.headers, delivery.body)


def test_new_event_types_are_part_of_the_schema() -> None:
    assert {event.value for event in WebhookEventType} >= {
        "customer.deleted",
        "product.created",
        "product.deleted",
        "vendor.created",
        "vendor.updated",
        "vendor.deleted",
    }


def test_openapi_documents_the_vendor_api(sandbox: ServerThread) -> None:
    spec = httpx.get(f"{sandbox.url}/openapi.json").json()

    assert {"get", "post"} <= set(spec["paths"]["/api/v1/vendors"])
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/api/v1/vendors/{vendor_id}"])
    assert "delete" in spec["paths"]["/api/v1/customers/{customer_id}"]
    assert "delete" in spec["paths"]["/api/v1/products/{sku}"]
    assert "get" in spec["paths"]["/api/v1/inventory/{sku}/{warehouse}"]
    assert {"/_sandbox/drift", "/_sandbox/bulk"} <= set(spec["paths"])
    assert "Vendor" in spec["components"]["schemas"]


def test_vendor_model_validates_and_defaults() -> None:
    vendor = Vendor.model_validate(NEW_VENDOR)

    assert (vendor.Status, vendor.ExternalID, vendor.Address and vendor.Address.City) == (
        "Active",
        None,
        "Bremen",
    )
    assert Vendor(VendorID="V", Name="N").Currency == "EUR"
    for bad in (
        {"Currency": "euro"},
        {"Currency": "eur"},
        {"Name": ""},
        {"VendorID": ""},
        {"Status": "Gone"},
    ):
        with pytest.raises(ValueError):
            Vendor.model_validate({**NEW_VENDOR, **bad})


def test_vendor_lifecycle_emits_signed_created_updated_deleted(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    created = api.post("/api/v1/vendors", json=NEW_VENDOR, headers={"Idempotency-Key": "vend-1"})
    replayed = api.post("/api/v1/vendors", json=NEW_VENDOR, headers={"Idempotency-Key": "vend-1"})
    duplicate = api.post("/api/v1/vendors", json=NEW_VENDOR)
    assert (created.status_code, replayed.status_code, duplicate.status_code) == (201, 201, 409)
    assert replayed.json() == created.json() and replayed.headers["Idempotent-Replayed"] == "true"
    assert created.json()["Status"] == "Active" and created.json()["UpdatedAt"]
    assert api.get("/api/v1/vendors/VEND-9001").json() == created.json()

    updated = api.patch("/api/v1/vendors/VEND-9001", json={"ExternalID": "S000000042", "Phone": "+49 421 1"})
    unchanged = api.patch("/api/v1/vendors/VEND-9001", json={"ExternalID": "S000000042"})
    rename_id = api.patch("/api/v1/vendors/VEND-9001", json={"VendorID": "VEND-9002"})
    bad_currency = api.patch("/api/v1/vendors/VEND-9001", json={"Currency": "EURO"})
    assert updated.status_code == 200 and updated.json()["ExternalID"] == "S000000042"
    assert updated.json()["Name"] == NEW_VENDOR["Name"]  # a partial update keeps the rest
    assert unchanged.json() == updated.json()  # same UpdatedAt: nothing changed
    assert rename_id.status_code == 422 and rename_id.json()["errors"][0]["field"] == "VendorID"
    assert bad_currency.status_code == 422 and bad_currency.json()["errors"][0]["field"] == "Currency"

    assert api.delete("/api/v1/vendors/VEND-9001").status_code == 204
    assert api.get("/api/v1/vendors/VEND-9001").status_code == 404
    assert api.delete("/api/v1/vendors/VEND-9001").status_code == 404
    assert api.patch("/api/v1/vendors/VEND-9001", json={"Phone": "1"}).status_code == 404

    deliveries = receiver.wait_for(lambda got: len(got) >= 3)
    time.sleep(0.2)
    assert types(receiver.accepted()) == ["vendor.created", "vendor.updated", "vendor.deleted"]
    assert_signed(deliveries)
    assert deliveries[0].event["data"] == created.json()
    assert deliveries[1].event["data"] == updated.json()
    assert deliveries[2].event["data"] == updated.json()  # the last body before the delete
    assert {entry["ordering_key"] for entry in webhook_log(sandbox)} == {"vendor:VEND-9001"}


def test_vendor_list_pages_and_filters_by_updated_since(api: httpx.Client) -> None:
    demo_ids = [vendor.VendorID for vendor in demo_vendors()]
    first = api.get("/api/v1/vendors", params={"page_size": 2}).json()
    second = api.get("/api/v1/vendors", params={"page_size": 2, "cursor": first["next_cursor"]}).json()
    assert first["total"] == len(demo_ids) == 3
    assert [v["VendorID"] for v in first["items"] + second["items"]] == demo_ids
    assert second["next_cursor"] is None

    since = datetime.now(UTC)
    time.sleep(0.01)
    api.patch(f"/api/v1/vendors/{demo_ids[1]}", json={"PaymentTerms": "NET45"}).raise_for_status()
    changed = api.get("/api/v1/vendors", params={"updated_since": since.isoformat()}).json()
    assert [v["VendorID"] for v in changed["items"]] == [demo_ids[1]]


def test_product_create_emits_product_created_then_updated(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    bell = {"SKU": "BELL-1", "Name": "Bell", "Price": "9.90"}
    assert api.post("/api/v1/products", json=bell).status_code == 201
    api.patch("/api/v1/products/BELL-1", json={"Price": "8.90"}).raise_for_status()

    deliveries = receiver.wait_for(lambda got: len(got) >= 2)

    assert types(deliveries) == ["product.created", "product.updated"]
    assert Product.model_validate(deliveries[0].event["data"]).Name == "Bell"
    assert deliveries[1].event["data"]["Price"] == "8.90"


def test_deleting_customers_and_products_removes_them_and_emits_deleted(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    customer = api.get("/api/v1/customers/CUST-2001").json()
    product = api.get("/api/v1/products/GLOVES-L").json()

    assert api.delete("/api/v1/customers/CUST-2001").status_code == 204
    assert api.delete("/api/v1/products/GLOVES-L").status_code == 204

    assert api.get("/api/v1/customers/CUST-2001").status_code == 404
    assert api.get("/api/v1/products/GLOVES-L").status_code == 404
    assert "CUST-2001" not in {c["CustomerID"] for c in api.get("/api/v1/customers").json()["items"]}
    assert api.get("/api/v1/products").json()["total"] == 14
    missing = api.delete("/api/v1/products/GLOVES-L")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    deliveries = receiver.wait_for(lambda got: len(got) >= 2)
    by_type = {d.event["type"]: d for d in deliveries}
    assert set(by_type) == {"customer.deleted", "product.deleted"}
    assert by_type["customer.deleted"].event["data"] == customer
    assert Customer.model_validate(by_type["customer.deleted"].event["data"]).LastName == "Schmidt"
    assert by_type["product.deleted"].event["data"] == product
    assert_signed(deliveries)
    keys = {entry["type"]: entry["ordering_key"] for entry in webhook_log(sandbox)}
    assert keys == {"customer.deleted": "customer:CUST-2001", "product.deleted": "product:GLOVES-L"}
    # Deleted for good: the same id can be created again, as a new customer.
    again = api.post("/api/v1/customers", json={"CustomerID": "CUST-2001", "LastName": "Neu"})
    assert again.status_code == 201 and "FirstName" not in again.json()


def test_drift_changes_the_document_without_any_webhook(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    before = api.get("/api/v1/customers/CUST-1001").json()

    drifted = httpx.post(
        f"{sandbox.url}/_sandbox/drift",
        json={"kind": "customer", "key": "CUST-1001", "changes": {"Phone": "+49 30 000", "ExternalID": None}},
    )

    assert drifted.status_code == 200
    after = api.get("/api/v1/customers/CUST-1001").json()
    assert after == drifted.json()
    assert after["Phone"] == "+49 30 000" and "ExternalID" not in after
    assert after["CompanyName"] == before["CompanyName"]
    assert datetime.fromisoformat(after["UpdatedAt"]) > datetime.fromisoformat(before["UpdatedAt"])
    # A real change on the same lane afterwards: it arrives alone, nothing queued before it.
    api.patch("/api/v1/customers/CUST-1001", json={"Email": "new@veloshop-berlin.example"})
    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.2)
    assert len(receiver.deliveries) == 1
    assert delivery.event["type"] == "customer.updated"
    assert delivery.event["data"]["Phone"] == "+49 30 000"
    assert [entry["type"] for entry in webhook_log(sandbox)] == ["customer.updated"]


@pytest.mark.parametrize(
    ("kind", "key", "changes", "field", "expected"),
    [
        ("product", "LOCK-U", {"Price": "31.00"}, "Price", "31.00"),
        ("vendor", "VEND-3002", {"Status": "Inactive"}, "Status", "Inactive"),
        ("inventory", "LOCK-U/100", {"QuantityAvailable": "3"}, "QuantityAvailable", "3"),
    ],
)
def test_drift_works_for_every_kind(
    api: httpx.Client,
    sandbox: ServerThread,
    receiver: WebhookReceiver,
    kind: str,
    key: str,
    changes: dict[str, Any],
    field: str,
    expected: str,
) -> None:
    api.put("/api/v1/inventory/LOCK-U/100", json={"QuantityOnHand": "10", "QuantityAvailable": "8"})
    receiver.wait_for(lambda got: len(got) >= 1)
    logged = len(webhook_log(sandbox))

    response = httpx.post(
        f"{sandbox.url}/_sandbox/drift", json={"kind": kind, "key": key, "changes": changes}
    )

    assert response.status_code == 200 and response.json()[field] == expected
    path = {"product": "products", "vendor": "vendors", "inventory": "inventory"}[kind]
    assert api.get(f"/api/v1/{path}/{key}").json()[field] == expected
    time.sleep(0.2)
    assert len(webhook_log(sandbox)) == logged and len(receiver.deliveries) == 1


def test_drift_is_validated_and_keeps_the_document_on_error(api: httpx.Client, sandbox: ServerThread) -> None:
    def drift(**body: Any) -> httpx.Response:
        return httpx.post(f"{sandbox.url}/_sandbox/drift", json=body)

    before = api.get("/api/v1/products/LOCK-U").json()

    invalid = drift(kind="product", key="LOCK-U", changes={"Name": "", "Price": "cheap"})
    rekey = drift(kind="product", key="LOCK-U", changes={"SKU": "LOCK-V"})
    rekey_stock = drift(kind="customer", key="CUST-1001", changes={"CustomerID": "X"})
    unknown = drift(kind="vendor", key="VEND-0000", changes={"Name": "x"})
    bad_kind = drift(kind="order", key="BNG-1", changes={})

    assert invalid.status_code == 422
    assert sorted(error["field"] for error in invalid.json()["errors"]) == ["Name", "Price"]
    assert rekey.status_code == 422 and rekey.json()["errors"][0]["field"] == "SKU"
    assert rekey_stock.status_code == 422 and rekey_stock.json()["errors"][0]["field"] == "CustomerID"
    assert unknown.status_code == 404
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"
    assert api.get("/api/v1/products/LOCK-U").json() == before
    assert api.get("/api/v1/products/LOCK-V").status_code == 404


def test_drift_touch_decides_whether_updated_since_sees_it(api: httpx.Client, sandbox: ServerThread) -> None:
    before = api.get("/api/v1/vendors/VEND-3001").json()
    since = datetime.now(UTC)
    time.sleep(0.01)

    for key, touch in (("VEND-3001", False), ("VEND-3003", True)):
        httpx.post(
            f"{sandbox.url}/_sandbox/drift",
            json={"kind": "vendor", "key": key, "changes": {"PaymentTerms": "NET10"}, "touch": touch},
        ).raise_for_status()

    changed = api.get("/api/v1/vendors", params={"updated_since": since.isoformat()}).json()["items"]
    assert [vendor["VendorID"] for vendor in changed] == ["VEND-3003"]
    quiet = api.get("/api/v1/vendors/VEND-3001").json()
    assert quiet["PaymentTerms"] == "NET10" and quiet["UpdatedAt"] == before["UpdatedAt"]


def test_bulk_inserts_thousands_quickly_without_webhooks(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    documents = [
        {"SKU": f"BULK-{number:05d}", "Name": f"Bulk item {number}", "Price": "1.50"}
        for number in range(5000)
    ]

    started = time.monotonic()
    response = httpx.post(
        f"{sandbox.url}/_sandbox/bulk", json={"kind": "product", "documents": documents}, timeout=30
    )
    elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    assert response.json() == {"kind": "product", "inserted": 5000, "replaced": 0}
    assert elapsed < 3, f"bulk load of 5000 products took {elapsed:.2f}s"
    assert api.get("/api/v1/products").json()["total"] == 5015
    stored = api.get("/api/v1/products/BULK-04321").json()
    assert (stored["Name"], stored["Price"], stored["UnitOfMeasure"]) == ("Bulk item 4321", "1.50", "EA")
    assert stored["UpdatedAt"]
    time.sleep(0.2)
    assert webhook_log(sandbox) == [] and receiver.deliveries == []


def test_bulk_replaces_existing_documents_and_keeps_given_timestamps(
    api: httpx.Client, sandbox: ServerThread
) -> None:
    old = "2020-01-01T00:00:00Z"
    documents = [
        {"VendorID": "VEND-3001", "Name": "Rahmenwerk (replaced)", "UpdatedAt": old},
        {"VendorID": "VEND-7001", "Name": "New supplier", "Currency": "GBP"},
    ]

    response = httpx.post(f"{sandbox.url}/_sandbox/bulk", json={"kind": "vendor", "documents": documents})

    assert response.json() == {"kind": "vendor", "inserted": 1, "replaced": 1}
    replaced = api.get("/api/v1/vendors/VEND-3001").json()
    # Replaced, not merged: the old e-mail and address are gone.
    assert replaced == {
        "VendorID": "VEND-3001",
        "Name": "Rahmenwerk (replaced)",
        "Currency": "EUR",
        "Status": "Active",
        "UpdatedAt": old,
    }
    assert api.get("/api/v1/vendors").json()["total"] == 4
    since = api.get("/api/v1/vendors", params={"updated_since": "2021-01-01T00:00:00Z"}).json()
    assert "VEND-3001" not in {vendor["VendorID"] for vendor in since["items"]}


def test_bulk_inventory_is_keyed_by_sku_and_warehouse(api: httpx.Client, sandbox: ServerThread) -> None:
    documents = [
        {"SKU": sku, "Warehouse": warehouse, "QuantityOnHand": "5", "QuantityAvailable": "4"}
        for sku in ("LOCK-U", "TUBE-28")
        for warehouse in ("100", "200")
    ]

    response = httpx.post(f"{sandbox.url}/_sandbox/bulk", json={"kind": "inventory", "documents": documents})

    assert response.json()["inserted"] == 4
    assert api.get("/api/v1/inventory/TUBE-28/200").json()["QuantityOnHand"] == "5"
    assert api.get("/api/v1/inventory", params={"warehouse": "100"}).json()["total"] == 2


def test_bulk_is_all_or_nothing(api: httpx.Client, sandbox: ServerThread) -> None:
    documents: list[dict[str, Any]] = [
        {"SKU": "OK-1", "Name": "Fine"},
        {"SKU": "BAD-1"},
        {"SKU": "OK-2", "Name": "Fine", "Price": "free"},
        {"SKU": "OK-1", "Name": "Twice"},
    ]

    response = httpx.post(f"{sandbox.url}/_sandbox/bulk", json={"kind": "product", "documents": documents})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [
        "documents.1.Name",
        "documents.2.Price",
        "documents.3",
    ]
    assert api.get("/api/v1/products/OK-1").status_code == 404
    assert api.get("/api/v1/products").json()["total"] == 15
