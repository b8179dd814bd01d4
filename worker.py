"""Run the m3bng worker: ``python worker.py`` (settings from the environment, see settings.py)."""

from __future__ import annotations

import asyncio
import compileall
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

import workflows
from activities.connections import Connections
from activities.registry import all_activities
from clients.logging import configure_logging
from clients.metrics_server import MetricsServer, fleet_loop, free_loopback_port, sdk_runtime
from clients.temporal_connection import connect
from settings import Settings, exit_unless_valid, get_settings
from storage import write_attempts
from workflows.journal import JournalWorkflow
from workflows.master_data import EntitySyncWorkflow
from workflows.order_to_cash import OrderToCashWorkflow
from workflows.purchase_order import PurchaseOrderWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.refund import RefundWorkflow
from workflows.supplier_invoice import SupplierInvoiceWorkflow

WORKFLOWS = [
    OrderToCashWorkflow,
    EntitySyncWorkflow,
    ReconcileWorkflow,
    PurchaseOrderWorkflow,
    SupplierInvoiceWorkflow,
    JournalWorkflow,
    RefundWorkflow,
]


# Worker settings, shared with the bench's engine-ceiling worker so that both run alike.
# Calls to M3 and BNG wait on the network, not the CPU: many may be in flight at once.
TUNING: dict[str, Any] = {
    "max_concurrent_activities": 100,
    "max_concurrent_local_activities": 100,
    "max_concurrent_workflow_tasks": 100,
    "max_cached_workflows": 2000,
}


def cache_workflow_bytecode() -> None:
    """Write the bytecode of the workflow modules now, once.

    The workflow sandbox imports a workflow's module afresh for every workflow run. Python reuses
    cached bytecode where there is some; under ``PYTHONDONTWRITEBYTECODE`` (usual in containers)
    there is none, and each run compiled the module's source again: 12 % of the worker's CPU in
    ``make bench``. ``compileall`` writes only what is out of date.
    """
    folder = Path(workflows.__file__).parent
    if not compileall.compile_dir(folder, maxlevels=0, quiet=2):
        structlog.get_logger("worker").warning(
            "workflow bytecode not cached: each workflow run compiles its module", folder=str(folder)
        )


async def store_upkeep(connections: Connections, settings: Settings) -> None:
    """Now and then, forget the write attempts of orders M3 has confirmed (they are never
    written again; storage.write_attempts.prune_settled says what is kept and why)."""
    log = structlog.get_logger("worker")

    def prune() -> int:
        before = datetime.now(UTC) - timedelta(hours=settings.write_attempts_kept_hours)
        with connections.sessions() as session:
            return write_attempts.prune_settled(session, before=before)

    while True:
        try:
            if deleted := await asyncio.to_thread(prune):
                log.info("write attempts of confirmed orders forgotten", rows=deleted)
        except SQLAlchemyError as error:
            log.warning("store upkeep failed; trying again later", error=str(error))
        await asyncio.sleep(settings.store_upkeep_every_seconds)


def build_worker(client: Client, connections: Connections, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=all_activities(connections, client),
        **TUNING,
    )


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM. Started before Temporal or the database, it waits for them
    (connect, upgrade_schema) instead of exiting."""
    log = structlog.get_logger("worker")
    cache_workflow_bytecode()
    metrics = start_metrics(settings)
    client = await connect(settings)
    connections = Connections.from_settings(settings)
    upkeep = asyncio.create_task(store_upkeep(connections, settings))
    fleet = asyncio.create_task(
        fleet_loop(
            client,
            every_seconds=settings.metrics_fleet_every_seconds,
            scan_limit=settings.metrics_fleet_scan_limit,
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with build_worker(client, connections, settings.task_queue):
            log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
            await stop.wait()
    finally:
        fleet.cancel()
        upkeep.cancel()
        await connections.aclose()
        if metrics is not None:
            metrics.stop()
    log.info("worker stopped")


def start_metrics(settings: Settings) -> MetricsServer | None:
    """The worker's /metrics (``worker_metrics_port``), with the Temporal SDK's exporter behind it.

    Before the first Temporal client, which then uses the runtime with the exporter. A port that
    is taken is logged and the worker runs without its endpoint: the work matters more.
    """
    log = structlog.get_logger("worker")
    if not settings.worker_metrics_port:
        return None
    sdk_port = settings.worker_sdk_metrics_port or free_loopback_port()
    Runtime.set_default(sdk_runtime(sdk_port), error_if_already_set=False)
    server = MetricsServer(
        settings.worker_metrics_host,
        settings.worker_metrics_port,
        settings.metrics_token.get_secret_value(),
        sdk_port,
    )
    try:
        server.start()
    except OSError as error:
        log.error("worker metrics endpoint not started", port=settings.worker_metrics_port, error=str(error))
        return None
    if not settings.metrics_token.get_secret_value():
        log.warning("M3BNG_METRICS_TOKEN is not set: every scrape of the worker's /metrics is refused")
    log.info("worker metrics", url=server.url)
    return server


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    exit_unless_valid(settings, "worker")
    # Until the worker runs, SIGTERM interrupts the wait for Temporal or the database like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        structlog.get_logger("worker").info("worker stopped before it started")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
