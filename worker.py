"""Run the m3bng worker: ``python worker.py`` (settings from the environment, see settings.py)."""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.connections import Connections
from activities.registry import all_activities
from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import Settings, exit_unless_valid, get_settings
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


def build_worker(client: Client, connections: Connections, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=all_activities(connections, client),
        max_concurrent_activities=50,
    )


async def run(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM. Started before Temporal or the database, it waits for them
    (connect, upgrade_schema) instead of exiting."""
    log = structlog.get_logger("worker")
    client = await connect(settings)
    connections = Connections.from_settings(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with build_worker(client, connections, settings.task_queue):
            log.info("worker started", task_queue=settings.task_queue, temporal=settings.temporal_address)
            await stop.wait()
    finally:
        await connections.aclose()
    log.info("worker stopped")


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
