"""The worker's metrics endpoint: one port, bearer-token protected, both kinds of metrics.

- ``prometheus-client``'s registry (``clients.metrics``: M3/BNG calls, reconciliation, fleet gauges);
- the Temporal SDK's runtime Prometheus exporter (``temporal_*`` worker metrics and the workflows'
  ``m3bng_*`` counters). The SDK exporter listens on a loopback port of its own, without
  authentication; this endpoint reads it and appends its text, so operators scrape one URL.

The fleet gauges (parked items, oldest parked or stalled item) come from Temporal's visibility:
a count per kind, and for the newest ``scan_limit`` running items the time of their last history
event (one reverse-history read each), every ``every_seconds``.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from clients import metrics
from clients.logging import core_logging_config

log = structlog.get_logger("metrics")

# Buckets (seconds) for the SDK's latency histograms; the defaults stop short of minutes.
_SDK_LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sdk_runtime(port: int) -> Runtime:
    """A Temporal runtime whose Prometheus exporter listens on 127.0.0.1:``port``."""
    return Runtime(
        telemetry=TelemetryConfig(
            # The SDK core's own lines go through the process's JSON logging too.
            logging=core_logging_config(),
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides={
                    "temporal_workflow_task_schedule_to_start_latency": _SDK_LATENCY_BUCKETS,
                    "temporal_activity_schedule_to_start_latency": _SDK_LATENCY_BUCKETS,
                    metrics.SYNC_LAG: _SDK_LATENCY_BUCKETS,
                },
            ),
        )
    )


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``; never with an empty token (metrics off)."""
    if not token or not header:
        return False
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


def exposition(sdk_port: int | None) -> bytes:
    """This process's registry, then the SDK exporter's text."""
    text = generate_latest(REGISTRY)
    if sdk_port:
        # urllib, not httpx: a loopback read per scrape should not log a line each time.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{sdk_port}/metrics", timeout=5) as response:
                text += b"\n" + response.read()
        except OSError as error:
            log.warning("metrics.sdk_exporter_unreachable", port=sdk_port, error=str(error))
    return text


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(token: str, sdk_port: int | None) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found; try /metrics\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")]
            )
            return [b"metrics need Authorization: Bearer <M3BNG_METRICS_TOKEN>\n"]
        body = exposition(sdk_port)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class MetricsServer:
    """``GET /metrics`` on ``host:port`` in a background thread (not the worker's event loop)."""

    host: str
    port: int
    token: str
    sdk_port: int | None
    _server: WSGIServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> MetricsServer:
        self._server = make_server(
            self.host,
            self.port,
            wsgi_app(self.token, self.sdk_port),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- fleet gauges --------------------------------------------------------------------------------

PARKED = "NeedsAttention"


@dataclass(frozen=True)
class Kind:
    name: str
    workflow_types: tuple[str, ...]
    stage_attribute: str
    final_stages: frozenset[str] = frozenset()
    # Records idle between changes by design: only their parked ones are looked at.
    stalls: bool = True

    @property
    def stage_key(self) -> SearchAttributeKey[str]:
        return SearchAttributeKey.for_keyword(self.stage_attribute)

    @property
    def running(self) -> str:
        types = ", ".join(f"'{name}'" for name in self.workflow_types)
        return f"WorkflowType IN ({types}) AND ExecutionStatus = 'Running'"

    @property
    def parked(self) -> str:
        return f"{self.running} AND {self.stage_attribute} = '{PARKED}'"


KINDS = (
    Kind("order", ("OrderToCashWorkflow",), "OrderStage", metrics.FINAL_STAGES),
    Kind(
        "document",
        ("PurchaseOrderWorkflow", "SupplierInvoiceWorkflow", "JournalWorkflow", "RefundWorkflow"),
        "DocumentStage",
        metrics.FINAL_STAGES,
    ),
    Kind("record", ("EntitySyncWorkflow",), "SyncState", stalls=False),
)


async def refresh_fleet(client: Client, *, scan_limit: int = 200) -> None:
    """Set the fleet gauges once from Temporal's visibility."""
    now = time.time()
    for kind in KINDS:
        parked_count = (await client.count_workflows(kind.parked)).count
        metrics.PARKED_ITEMS.labels(kind.name).set(parked_count)
        parked_ages: list[float] = []
        stalled_ages: list[float] = []
        if kind.stalls:
            metrics.OPEN_ITEMS.labels(kind.name).set((await client.count_workflows(kind.running)).count)
        query = kind.running if kind.stalls else kind.parked
        async for execution in client.list_workflows(query, limit=scan_limit, page_size=scan_limit):
            stage = execution.typed_search_attributes.get(kind.stage_key)
            if stage in kind.final_stages:
                continue
            moved = await _last_event_time(client, execution.id, execution.run_id)
            if moved is None:
                continue
            (parked_ages if stage == PARKED else stalled_ages).append(max(0.0, now - moved))
        metrics.OLDEST_PARKED_SECONDS.labels(kind.name).set(max(parked_ages, default=0.0))
        if kind.stalls:
            metrics.OLDEST_STALLED_SECONDS.labels(kind.name).set(max(stalled_ages, default=0.0))


async def fleet_loop(client: Client, *, every_seconds: float, scan_limit: int) -> None:
    """Refresh the fleet gauges until cancelled; a failed read is logged and counted."""
    while True:
        try:
            await refresh_fleet(client, scan_limit=scan_limit)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            metrics.FLEET_SCRAPE_ERRORS.inc()
            log.warning("metrics.fleet_refresh_failed", error=f"{type(error).__name__}: {error}")
        await asyncio.sleep(every_seconds)


async def _last_event_time(client: Client, workflow_id: str, run_id: str | None) -> float | None:
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id or ""),
            maximum_page_size=1,
        )
    )
    events = response.history.events
    return events[0].event_time.ToNanoseconds() / 1e9 if events else None
