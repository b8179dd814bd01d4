"""Faults that lose the answer after BNG committed the write, random 5xx, and webhooks out of order."""

from __future__ import annotations

import time
from typing import Any

import httpx

from sandbox.bng.demo_data import make_demo_orders
from tests.sandbox_bng.receiver import WebhookReceiver


def demo_order(number: int = 10001) -> dict[str, Any]:
    return make_demo_orders(1, seed=number, start_number=number)[0].model_dump(mode="json", exclude_none=True)


def set_knobs(api: httpx.Client, **knobs: Any) -> dict[str, Any]:
    response = api.post("/_sandbox/knobs", json=knobs)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_after_commit_fault_applies_the_patch_and_answers_the_status(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    api.post(
        "/_sandbox/faults",
        json={"method": "PATCH", "path_prefix": "/api/v1/customers/", "status": 504, "after_commit": True},
    ).raise_for_status()

    lost = api.patch("/api/v1/customers/CUST-1001", json={"Phone": "+49 30 111"})
    again = api.patch("/api/v1/customers/CUST-1001", json={"Phone": "+49 30 222"})

    assert lost.status_code == 504
    assert lost.json()["error"] == "injected_fault"
    assert again.status_code == 200  # the fault is used up
    assert api.get("/_sandbox/faults").json() == []
    deliveries = receiver.wait_for(lambda got: len(got) >= 2)
    assert [d.event["data"]["Phone"] for d in deliveries] == ["+49 30 111", "+49 30 222"]


def test_post_retried_with_its_key_after_a_lost_answer_gets_the_original(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    api.post(
        "/_sandbox/faults",
        json={"method": "POST", "path_prefix": "/api/v1/orders", "status": 502, "after_commit": True},
    ).raise_for_status()
    order = demo_order()
    headers = {"Idempotency-Key": "lost-1"}

    lost = api.post("/api/v1/orders", json=order, headers=headers)
    retried = api.post("/api/v1/orders", json=order, headers=headers)

    assert lost.status_code == 502
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["OrderID"] == order["OrderID"]
    assert api.get("/api/v1/orders").json()["total"] == 1
    receiver.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.2)
    assert [d.event["type"] for d in receiver.deliveries] == ["order.created"]


def test_lost_answer_rate_loses_writes_only_and_can_be_filtered(api: httpx.Client) -> None:
    knobs = set_knobs(api, lost_answer_rate=1.0)
    assert (knobs["lost_answer_status"], knobs["lost_answer_methods"]) == (504, None)

    created = api.post("/api/v1/customers", json={"CustomerID": "CUST-3001", "LastName": "Lost"})
    read = api.get("/api/v1/customers/CUST-3001")
    listed = api.get("/api/v1/customers")

    assert created.status_code == 504
    assert read.status_code == 200 and read.json()["LastName"] == "Lost"
    assert listed.status_code == 200

    set_knobs(api, lost_answer_methods=["PATCH"], lost_answer_status=503)
    assert (
        api.post("/api/v1/customers", json={"CustomerID": "CUST-3002", "LastName": "Kept"}).status_code == 201
    )
    assert api.patch("/api/v1/customers/CUST-3002", json={"LastName": "Patched"}).status_code == 503
    assert api.get("/api/v1/customers/CUST-3002").json()["LastName"] == "Patched"

    set_knobs(api, lost_answer_path_prefix="/api/v1/orders")
    assert api.patch("/api/v1/customers/CUST-3002", json={"LastName": "Again"}).status_code == 200

    # null: back to every write under /api/, then the rate off.
    knobs = set_knobs(api, lost_answer_methods=None, lost_answer_path_prefix=None)
    assert (knobs["lost_answer_methods"], knobs["lost_answer_path_prefix"]) == (None, "/api/")
    assert api.delete("/api/v1/customers/CUST-3002").status_code == 503
    assert api.get("/api/v1/customers/CUST-3002").status_code == 404
    assert set_knobs(api, lost_answer_rate=None)["lost_answer_rate"] == 0.0
    assert (
        api.post("/api/v1/customers", json={"CustomerID": "CUST-3003", "LastName": "Ok"}).status_code == 201
    )


def test_error_rate_5xx_fails_before_anything_happens(api: httpx.Client) -> None:
    set_knobs(api, error_rate_5xx=1.0, error_5xx_statuses=[502, 504])

    statuses = {
        api.post("/api/v1/customers", json={"CustomerID": "CUST-3004", "LastName": "Never"}).status_code
        for _ in range(30)
    }
    set_knobs(api, error_rate_5xx=0)

    assert statuses == {502, 504}
    assert api.get("/api/v1/customers/CUST-3004").status_code == 404
    assert api.get("/_sandbox/knobs").status_code == 200  # the admin API never fails


def test_knobs_are_validated(api: httpx.Client) -> None:
    for bad in (
        {"lost_answer_rate": 2},
        {"lost_answer_status": 500},
        {"lost_answer_methods": ["GET"]},
        {"error_5xx_statuses": [404]},
        {"delivery_jitter_ms": -1},
    ):
        assert api.post("/_sandbox/knobs", json=bad).status_code == 422, bad


def test_delivery_jitter_delivers_events_out_of_order_and_duplicates_still_work(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    set_knobs(api, delivery_jitter_ms=400, duplicate_delivery_rate=1.0)
    sent = [
        api.post(
            "/_sandbox/emit", json={"type": "test.event", "data": {"n": n}, "ordering_key": "one-lane"}
        ).json()["msg_id"]
        for n in range(15)
    ]

    deliveries = receiver.wait_for(lambda got: len(got) >= 30)

    numbers = [d.event["data"]["n"] for d in deliveries]
    assert sorted(numbers) == sorted([*range(15), *range(15)])
    assert numbers != sorted(numbers)  # one ordering key, yet not in order
    assert sorted(d.msg_id for d in deliveries) == sorted(sent * 2)


def test_without_jitter_one_ordering_key_is_delivered_in_order(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    for n in range(8):
        api.post("/_sandbox/emit", json={"type": "test.event", "data": {"n": n}, "ordering_key": "one-lane"})

    deliveries = receiver.wait_for(lambda got: len(got) >= 8)

    assert [d.event["data"]["n"] for d in deliveries] == list(range(8))
