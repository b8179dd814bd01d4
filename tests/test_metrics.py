"""Metrics move when real traffic runs: orders, a purchase order, master data, a reconciliation,
a 429, bad webhooks and BODs go through the test stack, then both /metrics endpoints are scraped
over HTTP, as Prometheus does, with the bearer token (and refused without it)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from clients import metrics
from clients.metrics_server import MetricsServer, refresh_fleet
from tests.conftest import METRICS_TOKEN, Stack, signed
from tests.test_master_data import eventually, settled
from tests.test_order_to_cash import demo_order
from tests.test_purchasing import ensure_vendor, new_id, place, purchase_order
from tests.test_reconcile import add_item, reconcile
from workflows.models import Stage

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture(scope="module")
def worker_metrics(stack: Stack, sdk_metrics_port: int) -> Iterator[MetricsServer]:
    """The worker's endpoint as worker.py serves it, over the test stack's worker (same process)."""
    server = MetricsServer("127.0.0.1", 0, METRICS_TOKEN, sdk_metrics_port).start()
    yield server
    server.stop()


def samples(text: str) -> dict[str, float]:
    """Sample name -> sum over its label sets; parsing it is also the format check."""
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return totals


def labelled(text: str, name: str) -> list[dict[str, str]]:
    return [
        dict(sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.value > 0
    ]


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(url, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_an_unauthenticated_scrape_is_refused(stack: Stack, worker_metrics: MetricsServer) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for url in (f"{stack.receiver_url}/metrics", worker_metrics.url):
            assert (await client.get(url)).status_code == 401
            wrong = await client.get(url, headers={"Authorization": "Bearer not-the-token-at-all"})
            assert wrong.status_code == 401
            assert (await client.get(url, headers={"Authorization": METRICS_TOKEN})).status_code == 401


async def test_metrics_move_with_real_traffic(stack: Stack, worker_metrics: MetricsServer) -> None:
    # An order to Paid, with one 429 from the ION API gateway on the way.
    await stack.m3.post("/_sandbox/faults", json={"program": "MMS200MI", "status": 429, "retry_after": 0})
    order = demo_order(39001 + uuid.uuid4().int % 900)
    await stack.place_order(order)
    await stack.drive_to_paid(order["OrderID"], timeout=60)
    # An order that cannot be mapped parks.
    broken = demo_order(39901 + uuid.uuid4().int % 90)
    broken = {**broken, "OrderDate": "not a date"}
    response = await stack.bng.post("/_sandbox/emit", json={"type": "order.created", "data": broken})
    assert response.status_code in (200, 201, 202), response.text
    await stack.wait_for_stage(broken["OrderID"], Stage.NEEDS_ATTENTION)
    # A purchase order is placed in M3.
    await ensure_vendor(stack)
    await place(stack, purchase_order(new_id()))
    # Master data: an item born in M3 reaches BNG; then a reconciliation run.
    itno = f"MX{uuid.uuid4().hex[:6].upper()}"
    await add_item(stack, itno, f"Metrics {itno}")
    await settled(stack, "product", itno)
    await reconcile(stack, "supplier", fix=False)
    # Webhooks and BODs the receiver refuses, and one it keeps as a dead letter.
    async with httpx.AsyncClient(base_url=stack.receiver_url, timeout=10) as receiver:
        body, headers = signed({"type": "order.created", "data": {}})
        bad = await receiver.post(
            "/webhooks/bng", content=body, headers={**headers, "webhook-signature": "v1,AAAA"}
        )
        assert bad.status_code == 401
        body, headers = signed({"id": "evt_x", "type": "nobody.handles.this", "data": {}})
        dead = await receiver.post("/webhooks/bng", content=body, headers=headers)
        assert dead.status_code == 202 and dead.json()["outcome"] == "dead-letter"
        unauthenticated = await receiver.post(
            "/ims/v3/multipartMessage", content=b"--x--", headers={"content-type": "multipart/form-data"}
        )
        assert unauthenticated.status_code == 401
    await refresh_fleet(stack.client)

    receiver_text = await scrape(f"{stack.receiver_url}/metrics")
    # The worker's endpoint carries the SDK's exporter too; wait for its workflow counters.
    worker_text = await eventually(
        lambda: _with_sdk(worker_metrics.url), what="the SDK exporter's workflow counters"
    )

    found = samples(receiver_text)
    for name in (
        "m3bng_webhooks_received_total",
        "m3bng_webhooks_rejected_total",
        "m3bng_bods_received_total",
        "m3bng_bods_rejected_total",
        "m3bng_events_routed_total",
        "m3bng_dead_letters_total",
    ):
        assert found.get(name, 0) > 0, f"{name} did not move"
    assert {"reason": "unauthenticated"} in labelled(receiver_text, "m3bng_webhooks_rejected_total")
    outcomes = {labels["outcome"] for labels in labelled(receiver_text, "m3bng_events_routed_total")}
    assert {"started", "signalled", "dead-letter"} <= outcomes

    found = samples(worker_text)
    for name in (
        # M3 and BNG calls, latency, 429s and the retry wait after them
        "m3bng_m3_calls_total",
        "m3bng_m3_call_duration_seconds_count",
        "m3bng_m3_errors_total",
        "m3bng_bng_calls_total",
        "m3bng_bng_call_duration_seconds_count",
        "m3bng_rate_limited_total",
        "m3bng_retry_wait_seconds_count",
        # reconciliation and the fleet
        "m3bng_reconcile_runs_total",
        "m3bng_reconcile_last_run_timestamp_seconds",
        "m3bng_parked_items",
        "m3bng_open_items",
        "m3bng_oldest_parked_age_seconds",
        # the workflows, through the SDK meter
        "m3bng_documents_started_total",
        "m3bng_documents_stage_entered_total",
        "m3bng_documents_completed_total",
        "m3bng_documents_parked_total",
        "m3bng_sync_outcomes_total",
        "m3bng_sync_lag_seconds_count",
        # the SDK's own worker metrics
        "temporal_workflow_task_schedule_to_start_latency_count",
        "temporal_activity_schedule_to_start_latency_count",
        "temporal_worker_task_slots_available",
    ):
        assert found.get(name, 0) > 0, f"{name} did not move"
    m3_outcomes = {labels["outcome"] for labels in labelled(worker_text, "m3bng_m3_calls_total")}
    assert {"ok", "rate_limited"} <= m3_outcomes
    routes = {labels["route"] for labels in labelled(worker_text, "m3bng_bng_calls_total")}
    assert {"/api/v1/orders/{id}", "/api/v1/orders/{id}/invoice"} <= routes
    parked = labelled(worker_text, "m3bng_documents_parked_total")
    assert any(
        labels["workflow_type"] == "OrderToCashWorkflow" and labels["class"] == "invalid_payload"
        for labels in parked
    )
    for name in SDK_FAMILIES:  # what the rules and the dashboard read from the SDK's exporter
        assert f"# TYPE {name} " in worker_text, name
    completed = labelled(worker_text, "m3bng_documents_completed_total")
    assert any(labels["stage"] == "Paid" for labels in completed)


async def _with_sdk(url: str) -> str | None:
    text = await scrape(url)
    found = samples(text)
    wanted = ("m3bng_documents_completed_total", "m3bng_sync_outcomes_total", "m3bng_documents_parked_total")
    return text if all(found.get(name, 0) > 0 for name in wanted) else None


# --- the alert rules and the dashboard: parsed, and naming only metrics that exist ---------------

OPS = Path(__file__).parent.parent / "ops"
RULES = OPS / "prometheus" / "m3bng-alerts.yml"
DASHBOARD = OPS / "grafana" / "m3bng-dashboard.json"
# The Temporal SDK's worker metrics the rules and the dashboard use (the traffic test scrapes them).
SDK_FAMILIES = {
    "temporal_activity_schedule_to_start_latency": "histogram",
    "temporal_workflow_task_schedule_to_start_latency": "histogram",
    "temporal_worker_task_slots_available": "gauge",
    "temporal_worker_task_slots_used": "gauge",
}
SEVERITIES = {"critical", "warning", "info"}


def _series(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return {name}


def known_series() -> set[str]:
    """Every series name m3bng's code exports."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                names |= _series(family.name, family.type)
    for name in (
        metrics.DOCUMENTS_STARTED,
        metrics.DOCUMENTS_STAGE_ENTERED,
        metrics.DOCUMENTS_COMPLETED,
        metrics.DOCUMENTS_PARKED,
        metrics.SYNC_OUTCOMES,
        metrics.RECORDS_PARKED,
    ):
        names |= _series(name, "counter")
    names |= _series(metrics.SYNC_LAG, "histogram")
    for name, kind in SDK_FAMILIES.items():
        names |= _series(name, kind)
    return names


def selectors(expr: str) -> set[str]:
    """The metric names an expression reads; parsing fails the test on bad PromQL."""
    found: set[str] = set()

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_the_alert_rules_parse_and_name_only_exported_metrics() -> None:
    document = yaml.safe_load(RULES.read_text())
    known = known_series()
    alerts: list[str] = []
    assert isinstance(document["groups"], list) and document["groups"]
    for group in document["groups"]:
        assert group["name"] and group["rules"], group
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
            assert rule["alert"].startswith("M3bng"), rule
            alerts.append(rule["alert"])
            unknown = selectors(rule["expr"]) - known
            assert not unknown, f"{rule['alert']} reads metrics no code exports: {unknown}"
            if "for" in rule:
                promql_parser.parse_duration(rule["for"])
            assert rule["labels"]["severity"] in SEVERITIES, rule
            assert rule["annotations"]["summary"], rule
    assert len(alerts) == len(set(alerts)), "alert names repeat"
    # What issue 9 asks alerts for.
    for wanted in (
        "M3bngParkedItemsGrowing",
        "M3bngWebhookRejectionsSpiking",
        "M3bngM3ErrorRate",
        "M3bngM3QuotaExhausted",
        "M3bngActivityScheduleToStartHigh",
        "M3bngReconciliationFoundDrift",
        "M3bngStuckOrder",
    ):
        assert wanted in alerts


def test_the_dashboard_queries_parse_and_name_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    known = known_series()
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(exprs) >= 10
    used: set[str] = set()
    for expr in exprs:
        # Grafana's interval variable, as Grafana substitutes it.
        used |= selectors(expr.replace("$__rate_interval", "5m"))
    assert not used - known, f"the dashboard reads metrics no code exports: {used - known}"
