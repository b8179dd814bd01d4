"""The sandbox's REST API over plain HTTP: validation, Idempotency-Key, paging, knobs and admin."""

from __future__ import annotations

import time
from typing import Any

import httpx

from sandbox.bng.demo_data import make_demo_orders
from sandbox.serve import ServerThread
from tests.sandbox_bng.receiver import WebhookReceiver


def demo_order(number: int = 10001) -> dict[str, Any]:
    return make_demo_orders(1, seed=number, start_number=number)[0].model_dump(mode="json", exclude_none=True)


def test_openapi_and_docs_are_served(sandbox: ServerThread) -> None:
    spec = httpx.get(f"{sandbox.url}/openapi.json").json()

    assert (spec["info"]["title"], spec["info"]["version"]) == ("BNG sandbox", "1.0.0")
    for path in ("/oauth/token", "/api/v1/orders", "/api/v1/orders/{order_id}/payments", "/_sandbox/faults"):
        assert path in spec["paths"]
    assert "Order" in spec["components"]["schemas"]
    assert "swagger" in httpx.get(f"{sandbox.url}/docs").text.lower()


def test_validation_errors_name_the_fields(api: httpx.Client) -> None:
    order = demo_order()
    order["Lines"][0]["Quantity"] = 0
    order["Currency"] = "EURO"
    del order["CustomerID"]

    response = api.post("/api/v1/orders", json=order)

    assert response.status_code == 422
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["Currency", "CustomerID", "Lines.0.Quantity"]


def test_same_idempotency_key_gives_the_same_answer_and_one_order(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    order = demo_order()
    headers = {"Idempotency-Key": "key-1"}

    first = api.post("/api/v1/orders", json=order, headers=headers)
    second = api.post("/api/v1/orders", json=order, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert api.get("/api/v1/orders").json()["total"] == 1
    receiver.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.2)
    assert len(receiver.deliveries) == 1


def test_idempotency_key_reused_for_another_request_is_refused(api: httpx.Client) -> None:
    api.post("/api/v1/orders", json=demo_order(10001), headers={"Idempotency-Key": "key-2"})

    response = api.post("/api/v1/orders", json=demo_order(10002), headers={"Idempotency-Key": "key-2"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_failed_request_can_be_retried_with_its_key(api: httpx.Client) -> None:
    order = demo_order()
    refused = api.post("/api/v1/orders", json={**order, "Lines": []}, headers={"Idempotency-Key": "key-3"})

    accepted = api.post("/api/v1/orders", json=order, headers={"Idempotency-Key": "key-3"})

    assert (refused.status_code, accepted.status_code) == (422, 201)


def test_page_numbers_and_cursors_agree(api: httpx.Client) -> None:
    first = api.get("/api/v1/products", params={"page_size": 5}).json()
    by_page = api.get("/api/v1/products", params={"page_size": 5, "page": 2}).json()
    by_cursor = api.get("/api/v1/products", params={"page_size": 5, "cursor": first["next_cursor"]}).json()

    assert first["total"] == 15
    assert [p["SKU"] for p in by_page["items"]] == [p["SKU"] for p in by_cursor["items"]]
    assert len(by_page["items"]) == 5 and by_page["items"][0]["SKU"] not in {p["SKU"] for p in first["items"]}
    assert api.get("/api/v1/products", params={"page_size": 0}).json()["errors"][0]["field"] == "page_size"


def test_customer_patch_validates_the_result(api: httpx.Client, receiver: WebhookReceiver) -> None:
    bad = api.patch("/api/v1/customers/CUST-1001", json={"Status": "Sleeping"})
    good = api.patch("/api/v1/customers/CUST-1001", json={"Phone": "+49 30 999"})

    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "Status"
    assert good.status_code == 200 and good.json()["Phone"] == "+49 30 999"
    [event] = receiver.wait_for(lambda got: len(got) >= 1)
    assert (event.event["type"], event.event["data"]["Phone"]) == ("customer.updated", "+49 30 999")


def test_latency_knob_slows_the_api_only(api: httpx.Client, sandbox: ServerThread) -> None:
    api.post("/_sandbox/knobs", json={"latency_ms": 300}).raise_for_status()

    started = time.monotonic()
    api.get("/api/v1/customers/CUST-1001").raise_for_status()
    slow = time.monotonic() - started
    started = time.monotonic()
    httpx.get(f"{sandbox.url}/_sandbox/knobs").raise_for_status()
    fast = time.monotonic() - started

    assert slow >= 0.3 > fast


def test_faults_hit_only_matching_calls_and_run_out(api: httpx.Client) -> None:
    api.post(
        "/_sandbox/faults", json={"method": "GET", "path_prefix": "/api/v1/orders", "status": 502, "count": 2}
    )

    assert api.get("/api/v1/customers").status_code == 200
    assert [api.get("/api/v1/orders").status_code for _ in range(3)] == [502, 502, 200]


def test_demo_orders_go_through_the_public_path(api: httpx.Client, receiver: WebhookReceiver) -> None:
    placed = api.post("/_sandbox/orders", json={"count": 3, "seed": 7}).json()["order_ids"]
    more = api.post("/_sandbox/orders", json={"count": 1}).json()["order_ids"]

    assert placed == ["BNG-10001", "BNG-10002", "BNG-10003"] and more == ["BNG-10004"]
    deliveries = receiver.wait_for(lambda got: len(got) >= 4)
    assert sorted(d.event["data"]["OrderID"] for d in deliveries) == [*placed, *more]
    assert {d.event["type"] for d in deliveries} == {"order.created"}


def test_reset_forgets_everything_and_seed_demo_restores_master_data(api: httpx.Client) -> None:
    api.post("/api/v1/orders", json=demo_order()).raise_for_status()

    api.post("/_sandbox/reset").raise_for_status()
    assert api.get("/api/v1/orders").json()["total"] == 0
    assert api.get("/api/v1/customers").json()["total"] == 0
    assert api.get("/api/v1/vendors").json()["total"] == 0

    assert api.post("/_sandbox/seed-demo").json() == {"products": 15, "customers": 5, "vendors": 3}
    assert api.get("/api/v1/customers/CUST-1003").json()["Status"] == "Active"
