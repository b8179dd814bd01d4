"""Signed, at-least-once webhook delivery from the sandbox to a real receiver."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from clients.bng.models import Order
from clients.bng.webhooks import verify
from sandbox.bng.demo_data import make_demo_orders
from sandbox.serve import ServerThread, free_port
from tests.sandbox_bng.conftest import API_KEY, SECRET, MakeSandbox
from tests.sandbox_bng.receiver import Delivery, WebhookReceiver


def demo_order(number: int = 10001) -> dict[str, Any]:
    order = make_demo_orders(1, seed=number, start_number=number)[0]
    return order.model_dump(mode="json", exclude_none=True)


def of_type(event_type: str, deliveries: list[Delivery]) -> list[Delivery]:
    return [delivery for delivery in deliveries if delivery.event["type"] == event_type]


def webhook_log(sandbox: ServerThread) -> list[dict[str, Any]]:
    response = httpx.get(f"{sandbox.url}/_sandbox/webhooks")
    response.raise_for_status()
    entries: list[dict[str, Any]] = response.json()
    return entries


def test_order_created_is_delivered_signed_with_the_full_order(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    order = demo_order()
    assert api.post("/api/v1/orders", json=order).status_code == 201

    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)

    verify(SECRET, delivery.headers, delivery.body)  # the receiver checked too; check again here
    assert delivery.verification_error is None
    assert delivery.msg_id.startswith("msg_") and len(delivery.msg_id) == 36
    assert delivery.headers["content-type"] == "application/json"
    event = delivery.event
    assert event["type"] == "order.created"
    assert event["timestamp"].endswith("+00:00")
    received = Order.model_validate(event["data"])
    assert received.OrderID == order["OrderID"]
    assert [line.SKU for line in received.Lines] == [line["SKU"] for line in order["Lines"]]
    [entry] = webhook_log(sandbox)
    assert entry["msg_id"] == delivery.msg_id
    assert (entry["type"], entry["attempts"], entry["last_status"], entry["delivered"]) == (
        "order.created",
        1,
        204,
        True,
    )


def test_duplicate_delivery_rate_one_sends_every_message_twice(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    api.post("/_sandbox/knobs", json={"duplicate_delivery_rate": 1.0}).raise_for_status()
    api.post("/api/v1/orders", json=demo_order())

    first, second = receiver.wait_for(lambda got: len(got) >= 2)

    assert first.msg_id == second.msg_id
    assert first.event == second.event
    time.sleep(0.2)
    assert len(receiver.deliveries) == 2  # one duplicate, not a storm
    [entry] = webhook_log(sandbox)
    assert (entry["attempts"], entry["deliveries"], entry["delivered"]) == (2, 2, True)


def test_a_receiver_failing_twice_still_gets_the_message(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    receiver.fail_next(2)
    api.post("/api/v1/orders", json=demo_order())

    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)

    answers = [attempt.answered for attempt in receiver.deliveries]
    assert answers == [500, 500, 204]
    assert {attempt.msg_id for attempt in receiver.deliveries} == {delivery.msg_id}
    [entry] = webhook_log(sandbox)
    assert (entry["attempts"], entry["last_status"], entry["delivered"]) == (3, 204, True)


def test_delivery_gives_up_after_max_attempts(make_sandbox: MakeSandbox, receiver: WebhookReceiver) -> None:
    sandbox = make_sandbox(webhook_max_attempts=3, webhook_backoff_seconds=0.01)
    receiver.fail_next(100)
    httpx.post(f"{sandbox.url}/api/v1/orders", json=demo_order(), headers={"X-API-Key": API_KEY})

    deadline = time.monotonic() + 5
    while not (entries := webhook_log(sandbox))[0]["failed"] and time.monotonic() < deadline:
        time.sleep(0.02)

    assert (entries[0]["attempts"], entries[0]["last_status"], entries[0]["delivered"]) == (3, 500, False)
    assert len(receiver.deliveries) == 3


def test_events_of_one_order_arrive_in_the_order_they_happened(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    # order.created is refused twice and retried; the updates behind it must wait for it.
    receiver.fail_next(2)
    order = demo_order()
    api.post("/api/v1/orders", json=order)
    for status in ("Accepted", "Allocated", "Shipped"):
        api.patch(f"/api/v1/orders/{order['OrderID']}", json={"OrderStatus": status}).raise_for_status()

    deliveries = receiver.wait_for(lambda got: len(got) >= 4)

    assert [d.event["type"] for d in deliveries] == ["order.created", *["order.updated"] * 3]
    assert [d.event["data"]["OrderStatus"] for d in deliveries] == [
        "Pending",
        "Accepted",
        "Allocated",
        "Shipped",
    ]


def test_emit_sends_arbitrary_data_signed(api: httpx.Client, receiver: WebhookReceiver) -> None:
    broken = {"OrderID": "BNG-BROKEN", "Lines": [{"SKU": "", "Quantity": 0}], "OrderDate": "not a date"}
    response = api.post("/_sandbox/emit", json={"type": "order.created", "data": broken})
    assert response.status_code == 200

    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)

    assert delivery.verification_error is None
    assert delivery.msg_id == response.json()["msg_id"]
    assert delivery.event["data"] == broken


def test_redeliver_sends_the_same_message_again(
    api: httpx.Client, sandbox: ServerThread, receiver: WebhookReceiver
) -> None:
    api.post("/api/v1/orders", json=demo_order())
    [first] = receiver.wait_for(lambda got: len(got) >= 1)

    response = httpx.post(f"{sandbox.url}/_sandbox/webhooks/redeliver/{first.msg_id}")
    assert response.json() == {"msg_id": first.msg_id, "scheduled": 1}
    _, again = receiver.wait_for(lambda got: len(got) >= 2)

    assert again.msg_id == first.msg_id and again.body == first.body
    assert httpx.post(f"{sandbox.url}/_sandbox/webhooks/redeliver/msg_unknown").status_code == 404


def test_registered_endpoint_gets_its_events_with_its_own_secret(
    api: httpx.Client, receiver: WebhookReceiver
) -> None:
    other = WebhookReceiver(secret="")
    with ServerThread(other.app()) as server:
        created = api.post(
            "/api/v1/webhooks/endpoints", json={"url": f"{server.url}/hook", "events": ["payment.*"]}
        )
        assert created.status_code == 201
        other.secret = created.json()["secret"]
        assert other.secret.startswith("whsec_")

        order = demo_order()
        api.post("/api/v1/orders", json=order)
        api.post(f"/api/v1/orders/{order['OrderID']}/payments", json={"Amount": "10.00", "Currency": "EUR"})
        [payment] = other.wait_for(lambda got: len(got) >= 1)
        receiver.wait_for(lambda got: len(got) >= 2)

    assert payment.verification_error is None
    assert payment.event["type"] == "payment.captured"
    assert [d.event["type"] for d in receiver.accepted()] == ["order.created", "payment.captured"]


def test_undelivered_messages_survive_a_restart(
    make_sandbox: MakeSandbox, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'bng.db'}"
    nobody_listens = f"http://127.0.0.1:{free_port()}/hook"
    first = make_sandbox(database_url=database_url, webhook_url=nobody_listens, webhook_backoff_seconds=60)
    order = demo_order()
    httpx.post(f"{first.url}/api/v1/orders", json=order, headers={"X-API-Key": API_KEY}).raise_for_status()
    deadline = time.monotonic() + 5
    while webhook_log(first)[0]["attempts"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert webhook_log(first)[0]["last_error"].startswith("ConnectError")
    first.stop()

    # Same database, receiver up again: the pending message goes out, the order is still there.
    second = make_sandbox(database_url=database_url)
    httpx.post(f"{second.url}/_sandbox/webhooks/redeliver/{webhook_log(second)[0]['msg_id']}")
    [delivery] = receiver.wait_for(lambda got: len(got) >= 1)

    assert delivery.event["data"]["OrderID"] == order["OrderID"]
    fetched = httpx.get(f"{second.url}/api/v1/orders/{order['OrderID']}", headers={"X-API-Key": API_KEY})
    assert fetched.status_code == 200


def test_the_configured_endpoint_gets_only_the_events_it_subscribes_to(
    make_sandbox: MakeSandbox, receiver: WebhookReceiver
) -> None:
    sandbox = make_sandbox(webhook_events=["order.created", "payment.*"])
    order = demo_order()
    with httpx.Client(base_url=sandbox.url, headers={"X-API-Key": API_KEY}) as api:
        api.post("/api/v1/orders", json=order).raise_for_status()
        api.patch(f"/api/v1/orders/{order['OrderID']}", json={"OrderStatus": "Accepted"}).raise_for_status()

    time.sleep(0.5)  # long enough for the sandbox to have sent the order.updated, had it been subscribed
    assert [d.event["type"] for d in receiver.wait_for(lambda got: len(got) >= 1)] == ["order.created"]
