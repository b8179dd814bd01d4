"""Log lines say whose work they are, and everything a process logs is one JSON object per line.

- every line an activity writes (m3bng's, the M3 and BNG clients') carries the workflow id, the
  workflow and activity type, the attempt and the business keys of the activity's input;
- the Temporal SDK's own lines (standard ``logging``), an exception included, are one JSON line
  each, with the SDK's activity details as fields;
- ``m3bng orders list`` shows the stage, the M3 numbers and the age, also as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import auto_heartbeat, business_keys, workflow_keys
from activities.m3_orders import AddOrderHeadInput
from clients.logging import redact, stdlib_handler
from starter.cli import order_age, run_orders
from tests.conftest import Stack
from tests.test_order_to_cash import demo_order
from workflows.models import Stage, order_workflow_id

ROOT = Path(__file__).parent.parent


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the ``temporalio`` loggers write, through the handler the processes use."""
    stream = io.StringIO()
    handler = stdlib_handler(stream)
    logger = logging.getLogger("temporalio")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    saved = temporalio_activity_info_on_message(False)
    try:
        yield stream
    finally:
        temporalio_activity_info_on_message(saved)
        logger.removeHandler(handler)
        logger.setLevel(level)
        structlog.contextvars.clear_contextvars()


def temporalio_activity_info_on_message(value: bool) -> bool:
    saved = activity.logger.activity_info_on_message
    activity.logger.activity_info_on_message = value
    return saved


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    return [json.loads(line) for line in text.splitlines()]


# --------------------------------------------------------------------- the stack's own activities


async def test_every_activity_line_of_an_order_carries_its_keys_and_workflow_id(stack: Stack) -> None:
    order = demo_order(36001)
    order_id = order["OrderID"]
    workflow_id = order_workflow_id(order_id)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await stack.place_order(order)
        view = await stack.wait_for_stage(order_id, Stage.ORDER_CREATED, Stage.ALLOCATED)
    ours = [entry for entry in logs if entry.get("workflow_id") == workflow_id]
    m3_calls = [entry for entry in ours if entry["event"] == "m3.call"]
    assert {entry["transaction"] for entry in m3_calls} >= {"AddBatchHead", "Confirm"}
    activity_lines = [entry for entry in ours if "activity_type" in entry]
    assert activity_lines and len(activity_lines) >= len(m3_calls)
    for entry in ours:
        # The order's key on every line (the receiver's too), whatever the activity's input names.
        assert entry["bng_order_id"] == order_id, entry
    for entry in activity_lines:
        assert entry["workflow_type"] == "OrderToCashWorkflow"
        assert entry["attempt"] >= 1
    # ensure_m3_customer makes no call (and logs none) for a customer linked already, nor does
    # check_m3_items for items an earlier order of the same worker found sellable (the cache).
    assert {entry["activity_type"] for entry in activity_lines} >= {"add_m3_order_head", "confirm_m3_order"}
    (head,) = [entry for entry in m3_calls if entry["transaction"] == "AddBatchHead"]
    assert head["activity_type"] == "add_m3_order_head"
    assert head["cuno"] == view.m3_customer_number
    (confirm,) = [entry for entry in m3_calls if entry["transaction"] == "Confirm"]
    assert confirm["temporary_order_number"] and confirm["cuno"] == view.m3_customer_number
    # No other line carries this order's id: the keys stay with the activity that bound them.
    ours_ids = {id(entry) for entry in ours}
    assert all(entry.get("bng_order_id") != order_id for entry in logs if id(entry) not in ours_ids)


async def test_the_sdks_failed_activity_line_is_one_json_line_with_the_keys(
    stack: Stack, json_lines: io.StringIO
) -> None:
    """BNG refuses one status push (504): the SDK logs the failed attempt, traceback included."""
    order = demo_order(36002)
    order_id = order["OrderID"]
    response = await stack.bng.post(
        "/_sandbox/faults",
        json={"method": "PATCH", "path_prefix": f"/api/v1/orders/{order_id}", "status": 504, "count": 1},
    )
    assert response.status_code in (200, 201), response.text
    await stack.place_order(order)

    def failed_lines() -> list[dict[str, Any]]:
        return [
            line
            for line in lines(json_lines)
            if line["event"] == "Completing activity as failed"
            and line.get("workflow_id") == order_workflow_id(order_id)
        ]

    # The status push follows the M3 order: wait for its failed attempt, then for the retry.
    for _ in range(300):
        if failed_lines():
            break
        await asyncio.sleep(0.1)
    await stack.wait_for_stage(order_id, Stage.ORDER_CREATED, Stage.ALLOCATED, timeout=60)
    raw = json_lines.getvalue()
    failed = failed_lines()
    assert failed, raw[-3000:]
    line = failed[0]
    assert line["level"] == "warning" and line["logger"] == "temporalio.activity"
    assert line["activity_type"] == "push_order_status_to_bng"
    assert line["bng_order_id"] == order_id and line["attempt"] >= 1
    assert "Traceback (most recent call last)" in line["exception"]
    # No line of the output is anything but JSON: the traceback is inside its line.
    assert all(text.startswith("{") for text in raw.splitlines())


# --------------------------------------------------------------------- the pieces


def test_a_temporalio_error_with_an_exception_is_one_json_line(json_lines: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(bng_order_id="BNG-1", cuor="BNG-1")
    try:
        raise RuntimeError("M3 said no\nsecond line")
    except RuntimeError:
        logging.getLogger("temporalio.worker._workflow_instance").error(
            "Failed activation on workflow",
            exc_info=True,
            extra={
                "temporal_workflow": {"workflow_id": "order-BNG-1", "workflow_type": "OrderToCashWorkflow"}
            },
        )
    text = json_lines.getvalue()
    assert text.count("\n") == 1, text
    (line,) = lines(json_lines)
    assert line["event"] == "Failed activation on workflow"
    assert line["level"] == "error"
    assert line["workflow_id"] == "order-BNG-1" and line["workflow_type"] == "OrderToCashWorkflow"
    assert line["bng_order_id"] == "BNG-1"
    assert "RuntimeError: M3 said no" in line["exception"]


async def test_an_activitys_lines_are_bound_to_its_workflow_and_input(json_lines: io.StringIO) -> None:
    @auto_heartbeat
    async def add_head(data: AddOrderHeadInput) -> None:
        structlog.get_logger("test").info("m3.call", transaction="AddBatchHead")
        activity.logger.warning("from the SDK's logger")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="order-BNG-7", attempt=3)
    data = AddOrderHeadInput(bng_order_id="BNG-7", cuno="C007", head={})
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await env.run(add_head, data)
    (line,) = logs
    assert line["bng_order_id"] == "BNG-7" and line["cuno"] == "C007"
    assert line["workflow_id"] == "order-BNG-7" and line["attempt"] == 3
    (sdk_line,) = lines(json_lines)
    assert sdk_line["event"] == "from the SDK's logger"  # no "({...})" appended: those are fields
    assert sdk_line["workflow_id"] == "order-BNG-7" and sdk_line["bng_order_id"] == "BNG-7"


def test_business_keys_come_from_the_input_or_the_workflow_id() -> None:
    assert business_keys(AddOrderHeadInput(bng_order_id="BNG-1", cuno="C1", head={"X": "y"})) == {
        "bng_order_id": "BNG-1",
        "cuno": "C1",
    }
    assert workflow_keys("OrderToCashWorkflow", "order-BNG-1") == {"bng_order_id": "BNG-1"}
    assert workflow_keys("PurchaseOrderWorkflow", "po-PO-1") == {"bng_id": "PO-1"}
    assert workflow_keys("SupplierInvoiceWorkflow", "supplier-invoice-SI-1") == {"bng_id": "SI-1"}
    assert workflow_keys("EntitySyncWorkflow", "inventory-BIKE/100") == {
        "entity": "inventory",
        "bng_key": "BIKE/100",
    }


def test_secrets_and_personal_data_stay_masked_on_stdlib_lines(json_lines: io.StringIO) -> None:
    logging.getLogger("temporalio.client").warning(
        "x", extra={"client_secret": "s3cr3t", "email": "ann@x.io"}
    )
    (line,) = lines(json_lines)
    assert line["client_secret"] == "[redacted]" and line["email"] == "a***"
    assert redact(None, "", {"password": "p"}) == {"password": "[redacted]"}


# --------------------------------------------------------------------- m3bng orders list


def test_order_age_reads_like_an_operator_says_it() -> None:
    assert [order_age(s) for s in (5, 125, 3 * 3600 + 5 * 60, 2 * 86400 + 4 * 3600)] == [
        "5s",
        "2m",
        "3h 05m",
        "2d 04h",
    ]


async def test_orders_list_shows_stage_m3_numbers_and_age_as_json(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = demo_order(36003)
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    # Visibility is eventually consistent: the M3 order number may take a moment to be listed.
    # What --json prints (stdout also carries the in-process worker's log lines here).
    printed: list[Any] = []
    monkeypatch.setattr("starter.cli.print_json", printed.append)
    row: dict[str, Any] | None = None
    for _ in range(100):
        await run_orders(argparse.Namespace(action="list", stage=None, json=True), stack.client)
        row = {row["order_id"]: row for row in printed.pop()}.get(order["OrderID"])
        if row and row["m3_order"]:
            break
        await asyncio.sleep(0.2)
    assert row is not None
    json.dumps(row)  # plain JSON values
    assert row["stage"] in (Stage.ORDER_CREATED.value, Stage.ALLOCATED.value)
    assert row["m3_order"] == view.m3_order_number and row["m3_customer"] == view.m3_customer_number
    assert row["workflow_id"] == order_workflow_id(order["OrderID"])
    assert row["age_seconds"] >= 0 and row["age"].endswith(("s", "m"))


def test_a_configured_process_writes_nothing_but_json_lines() -> None:
    """configure_logging as the worker and the receiver call it, in a process of its own."""
    script = textwrap.dedent(
        """
        import logging, structlog
        from clients.logging import configure_logging
        configure_logging("INFO", temporal_core=False)
        structlog.contextvars.bind_contextvars(bng_order_id="BNG-9")
        structlog.get_logger("worker").info("worker started", task_queue="m3bng")
        logging.getLogger("httpx").info("HTTP Request: GET http://m3/CRS610MI/Add?CUNM=Ann%20Smith")
        logging.getLogger("uvicorn.error").warning("uvicorn says")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("temporalio.worker._workflow_instance").exception("Failed activation")
        import uvicorn.config
        assert uvicorn.config.LOGGING_CONFIG["loggers"]["uvicorn.access"]["handlers"] == []
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )
    assert done.stderr == ""
    written = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["event"] for line in written] == ["worker started", "uvicorn says", "Failed activation"]
    assert all(line["bng_order_id"] == "BNG-9" for line in written)
    assert "ValueError: boom" in written[-1]["exception"] and written[-1]["level"] == "error"
    assert "Ann" not in done.stdout
