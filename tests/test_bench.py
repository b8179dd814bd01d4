"""The bench's pure parts: target verdicts, ratios, figures from logs, and the Markdown report."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from settings import Settings
from starter.bench import markdown, quota_figures
from starter.bench_summary import Target, ratio, summary_rows, verdict
from starter.bench_to_m3 import (
    LINES_PER_ORDER,
    bench_orders,
    call_figures,
    order_figures,
    request_figures,
)
from starter.stack import EmbeddedStack
from workflows.models import OrderView, Stage, TimelineEntry


def _pcts(p50: float, p99: float) -> dict[str, float]:
    return {"p50": p50, "p95": p99, "p99": p99, "max": p99, "mean": p50}


def _to_m3(rate: float, *, parked: int = 0, requests: float | None = 9.5) -> dict[str, Any]:
    return {
        "orders": 300,
        "confirmed": 300 - parked,
        "parked": parked,
        "not_confirmed": parked,
        "orders_per_second": rate,
        "webhook_to_m3_order_seconds": _pcts(2.0, 4.0),
        "history_events_per_order": _pcts(18, 18),
        "m3_calls_per_order": 13.5,
        "m3_requests_per_order": requests,
        "m3_throttled_429": 0,
    }


def _ceiling(kind: str, rate: float) -> dict[str, Any]:
    return {
        "activities": kind,
        "steps": 7,
        "workflows": 300,
        "completed": 300,
        "workflows_per_second": rate,
        "latency_seconds": _pcts(3.0, 3.5),
        "starts_per_second": 280.0,
        "start_call_ms": _pcts(200.0, 350.0),
    }


@pytest.fixture
def result() -> dict[str, Any]:
    quota = {**_to_m3(0.9, requests=9.6), "m3_throttled_429": 228}
    return {
        "machine": {"date": "2026-11-27 18:00 UTC", "cores": 2, "temporalio": "1.35.0", "git_commit": "abc"},
        "m3_status_step_seconds": 0.5,
        "ceiling": {"regular": _ceiling("regular", 20.0), "local": _ceiling("local", 30.0)},
        "to_m3": {
            "latency_0": _to_m3(18.0),
            "latency_50": _to_m3(15.0),
            "naive": _to_m3(6.0),
            "two_workers": _to_m3(21.6, requests=None),
        },
        "quota": quota_figures(quota, 10.0),
        "order_to_cash": {
            "orders": 200,
            "paid": 200,
            "not_paid": 0,
            "latency_origin": "bng webhook emitted",
            "placing_seconds": 3.1,
            "total_seconds": 50.0,
            "orders_per_second_to_paid": 4.0,
            "webhook_to_m3_order_seconds": _pcts(1.0, 2.0),
            "webhook_to_paid_seconds": _pcts(10.0, 12.0),
            "webhook_delivery_ms": _pcts(40.0, 60.0),
            "history_events_per_paid_order": _pcts(55, 61),
        },
        "intake": [
            {
                "senders": 32,
                "elapsed_seconds": 10.0,
                "acked": 1400,
                "acks_per_second": 140.0,
                "ack_latency_ms": _pcts(150.0, 900.0),
                "errors": 0,
                "acked_without_workflow": 0,
            }
        ],
        "scenario_seconds": {"engine ceiling": 12.0},
    }


def test_verdict_says_met_or_missed_by_how_much() -> None:
    assert verdict(18.0, Target(15), "orders/s") == "met (+20 %)"
    assert verdict(7.5, Target(15), "orders/s") == "missed by 7.5 orders/s (50 % short)"
    assert verdict(90.0, Target(100, higher_is_better=False), "ms") == "met"
    assert verdict(150.0, Target(100, higher_is_better=False), "ms") == "missed by 50 ms (50 % over)"
    assert verdict(2, Target(0, higher_is_better=False), "orders") == "missed by 2 orders"
    assert verdict(None, Target(15)) == "not measured"


def test_ratio_is_none_without_both_figures() -> None:
    assert ratio(18.0, 6.0) == 3.0
    assert ratio(None, 6.0) is None
    assert ratio(18.0, 0.0) is None


def test_summary_compares_the_product_with_ceiling_naive_design_and_targets(result: dict[str, Any]) -> None:
    rows = {row.figure: row for row in summary_rows(result)}
    to_m3 = rows["Webhook → confirmed M3 order, latency 0: orders/s"]
    assert to_m3.measured == 18.0
    assert to_m3.ceiling.startswith("0.6 of 30/s")
    assert to_m3.verdict == "met (+20 %)"
    assert rows["… as a share of the no-op ceiling (local activities)"].verdict.startswith("missed by 0.4")
    assert rows["… product / naive design (every call a regular activity)"].measured == 3.0
    assert rows["Scale-out: 2 worker processes / 1, to M3"].measured == 1.2
    assert rows["Intake, 32 senders: durable acks/s"].verdict.startswith("missed by 260 acks/s")
    assert rows["Lifecycle: history events per Paid order (p50)"].verdict == "met"
    assert rows["Quota: failed or parked orders"].measured == 0


def test_quota_bound_uses_gateway_requests_per_order() -> None:
    figures = quota_figures(_to_m3(0.9, requests=9.0), 10.0)
    assert figures["quota_bound_orders_per_second"] == 1.11
    assert figures["share_of_quota_bound"] == 0.81
    # Without the worker's metrics, the sandbox's count of transactions stands in.
    assert quota_figures(_to_m3(0.5, requests=None), 10.0)["quota_bound_orders_per_second"] == 0.74


def test_markdown_has_the_summary_and_every_scenario(result: dict[str, Any]) -> None:
    text = markdown(result, "make bench")
    assert text.index("## Summary against the targets of issue 10") < text.index("## Engine ceiling")
    assert "| local | 300 | 300 | 30.0 | 3 / 3.5 / 3.5 s (max 3.5) |" in text
    assert "| product, M3 latency 0 | 300 | 300 / 0 | 18.0 | 0.6 | 2 / 4 / 4 s (max 4) | 1.14 |" in text
    assert "| naive design (`M3BNG_ORDER_CALLS=activities`), latency 0 | 300 | 300 / 0 | 6.0 | 0.3 |" in text
    assert "- product / naive design: 3.0x (target ≥ 2x)" in text
    assert "10 requests/s ÷ 9.6 M3 requests per order = 1.04 orders/s at most" in text
    assert "| 32 | 10.0 | 1400 | 140.0 | 0.5 |" in text
    assert "## Order to cash: 200 orders" in text
    assert "engine ceiling 12 s" in text


def test_markdown_without_the_newer_scenarios_keeps_the_old_sections(result: dict[str, Any]) -> None:
    for key in ("ceiling", "to_m3", "quota"):
        del result[key]
    text = markdown(result, "make bench-quick")
    assert "## Engine ceiling" not in text
    assert "## Intake" in text
    assert "not measured" in text  # the summary says what is missing


def test_bench_orders_have_three_lines_and_contiguous_ids() -> None:
    orders = bench_orders(20, start_number=10501)
    assert [order.OrderID for order in orders] == [f"BNG-{n}" for n in range(10501, 10521)]
    assert all(len(order.Lines) == LINES_PER_ORDER for order in orders)


def test_order_figures_run_from_the_webhook_emit() -> None:
    emitted = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def view(order_id: str, after: float) -> OrderView:
        at = emitted + timedelta(seconds=after)
        return OrderView(
            bng_order_id=order_id,
            stage=Stage.ORDER_CREATED,
            timeline=[TimelineEntry(at=at, step=Stage.ORDER_CREATED.value)],
        )

    views: dict[str, OrderView | None] = {"A": view("A", 2.0), "B": view("B", 5.0), "C": None}
    sent: dict[str, tuple[datetime, datetime | None]] = {
        "A": (emitted, None),
        "B": (emitted + timedelta(seconds=1), None),
    }
    latencies, span = order_figures(views, sent, Stage.ORDER_CREATED.value)
    assert latencies == [2.0, 4.0]
    assert span == 5.0


def test_call_and_request_figures_per_order() -> None:
    calls: list[dict[str, Any]] = [
        {"program": "OIS100MI", "transaction": "AddBatchLine", "outcome": "ok"},
        {"program": "OIS100MI", "transaction": "AddBatchLine", "outcome": "ok"},
        {"program": "OIS100MI", "transaction": "Confirm", "outcome": "nok"},
        {"program": "OIS100MI", "transaction": "Confirm", "outcome": "fault", "status": 429},
    ]
    figures = call_figures(calls, orders=1)
    assert figures["m3_calls_per_order"] == 3
    assert figures["m3_throttled_429"] == 1
    assert figures["m3_calls_by_transaction"] == {"OIS100MI/AddBatchLine": 2, "OIS100MI/Confirm": 1}
    requests = request_figures(Counter({"ok": 8, "rate_limited": 5, "mi_error": 1}), orders=3)
    assert requests["m3_requests_per_order"] == 3.0
    assert request_figures(None, orders=3) == {"m3_requests_per_order": None}


def test_stack_names_one_worker_process_per_worker() -> None:
    stack = EmbeddedStack(Settings(), workers=3, env={"M3BNG_ORDER_CALLS": "activities"})
    assert stack.worker_names == ["worker", "worker-2", "worker-3"]
    assert EmbeddedStack(Settings()).worker_names == ["worker"]


def test_the_master_data_bods_side_load_gets_its_own_column(result: dict[str, Any]) -> None:
    result["order_to_cash_with_master_data_bods"] = {
        **result["order_to_cash"],
        "total_seconds": 80.0,
        "orders_per_second_to_paid": 2.5,
    }
    text = markdown(result, "make bench")
    assert "| figure | orders only (M3 sends no master-data BODs) | with M3's master-data BODs" in text
    assert "| first order placed → last order paid | 50.0 s (4.0 orders/s) | 80.0 s (2.5 orders/s) |" in text


def test_what_the_cores_allow_sets_cpu_per_order_beside_the_rate_reached(result: dict[str, Any]) -> None:
    result["to_m3"]["latency_0"]["cpu_ms_per_order"] = {
        "worker": 60.0,
        "temporal": 25.0,
        "m3-sandbox": 25.0,
        "bng-sandbox": 15.0,
        "receiver": 5.0,
    }
    text = markdown(result, "make bench")
    assert (
        "| webhook → confirmed M3 order, latency 0 | 60 / 25 / 40 / 5 ms | 130 ms | 15.38 orders/s "
        "| 18.0 orders/s | 22.22 orders/s |"
    ) in text
    del result["to_m3"]["latency_0"]["cpu_ms_per_order"]
    assert "## What the cores allow" not in markdown(result, "make bench")
