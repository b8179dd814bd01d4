"""The main job of ``make run``: demo orders placed in BNG travel live through order-to-cash.

The demo plays the shop's customers: it places orders through BNG's API and, once BNG shows an
order as invoiced, pays it there. Everything in between is m3bng reacting to BNG webhooks and
M3 BODs, exactly as in production.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from rich.console import Console
from rich.live import Live
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from clients.bng.client import BngClient
from clients.temporal_connection import connect
from sandbox.bng.demo_data import make_demo_orders
from settings import Settings
from starter.demo_p2p import P2POutcome, print_p2p_summary, run_p2p
from starter.schedules import ensure_reconcile_schedules
from starter.secrets import with_demo_secrets
from starter.stack import TEMPORAL_UI_PORT, EmbeddedStack
from workflows.models import OrderView, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

FINAL = {Stage.PAID, Stage.CANCELLED, Stage.NEEDS_ATTENTION}
STAGE_STYLE = {Stage.PAID: "bold green", Stage.NEEDS_ATTENTION: "bold red", Stage.CANCELLED: "dim"}
PIPELINE = [
    Stage.RECEIVED,
    Stage.VALIDATED,
    Stage.CUSTOMER_READY,
    Stage.ORDER_CREATED,
    Stage.ALLOCATED,
    Stage.PICKING,
    Stage.SHIPPED,
    Stage.INVOICED,
    Stage.PAID,
]


@dataclass
class DemoOutcome:
    views: dict[str, OrderView | None]
    seconds: float

    @property
    def all_paid(self) -> bool:
        return all(view is not None and view.stage == Stage.PAID for view in self.views.values())


async def place_orders(bng: BngClient, count: int) -> list[str]:
    existing = 0
    async for _ in bng.iter_orders():
        existing += 1
    orders = make_demo_orders(count, seed=int(time.time()), start_number=10001 + existing)
    for order in orders:
        await bng.create_order(order, idempotency_key=f"demo-{order.OrderID}")
    return [order.OrderID for order in orders]


async def observe_and_pay(
    client: Client, bng: BngClient, views: dict[str, OrderView | None], paying: set[str]
) -> None:
    """One pass over the unfinished orders: read each one's view, and pay those that BNG shows
    as invoiced (the demo plays the customer)."""
    for order_id, known in views.items():
        if known is not None and known.stage in FINAL:
            continue
        view = await view_of(client, order_id) or known
        views[order_id] = view
        if view and view.stage == Stage.INVOICED and view.invoice and order_id not in paying:
            await bng.capture_payment(
                order_id, amount=view.invoice.total_amount, currency=view.invoice.currency
            )
            paying.add(order_id)


def all_final(views: dict[str, OrderView | None]) -> bool:
    return all(view is not None and view.stage in FINAL for view in views.values())


async def follow(
    client: Client, bng: BngClient, order_ids: list[str], timeout: float, console: Console
) -> DemoOutcome:
    views: dict[str, OrderView | None] = dict.fromkeys(order_ids)
    paying: set[str] = set()
    started = time.monotonic()
    with Live(_table(views, 0), console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < timeout:
            await observe_and_pay(client, bng, views, paying)
            live.update(_table(views, time.monotonic() - started))
            if all_final(views):
                break
            await asyncio.sleep(0.5)
    return DemoOutcome(views=views, seconds=time.monotonic() - started)


async def view_of(client: Client, order_id: str) -> OrderView | None:
    try:
        return await client.get_workflow_handle(order_workflow_id(order_id)).query(OrderToCashWorkflow.status)
    except RPCError:
        return None  # the webhook has not reached m3bng yet


def _table(views: dict[str, OrderView | None], elapsed: float) -> Table:
    table = Table(title=f"m3bng order-to-cash — live ({elapsed:4.0f}s)", expand=False)
    for column in (
        "BNG order",
        "Customer",
        "Progress",
        "Stage",
        "M3 order",
        "Delivery",
        "Invoice",
        "Last step",
    ):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for order_id, view in views.items():
        if view is None:
            table.add_row(order_id, "", "", "waiting for webhook", "", "", "", "")
            continue
        rank = PIPELINE.index(view.stage) if view.stage in PIPELINE else 0
        bar = "█" * (rank + 1) + "·" * (len(PIPELINE) - rank - 1)
        last = view.timeline[-1] if view.timeline else None
        table.add_row(
            order_id,
            view.m3_customer_number or "",
            bar,
            f"[{STAGE_STYLE.get(view.stage, 'cyan')}]{view.stage.value}[/]",
            view.m3_order_number or "",
            view.delivery_number or "",
            view.invoice.invoice_number if view.invoice else "",
            f"{last.step}: {last.detail}"[:48] if last else "",
        )
    return table


# The Temporal UI's workflow list, filtered by a visibility query (the same queries as the CLI's).
UI_VIEWS: dict[str, str] = {
    "orders": 'WorkflowType="OrderToCashWorkflow"',
    "parked orders": 'OrderStage="NeedsAttention"',
    "parked documents": 'DocumentStage="NeedsAttention"',
    "sync records": 'WorkflowType="EntitySyncWorkflow"',
    "parked records": 'SyncState="NeedsAttention"',
}


def temporal_ui_query_link(query: str, port: int = TEMPORAL_UI_PORT) -> str:
    """A link to the Temporal UI's workflow list with ``query`` already in its search box."""
    return f"http://localhost:{port}/namespaces/default/workflows?query={quote(query)}"


def print_summary(console: Console, outcome: DemoOutcome, restarts: Mapping[str, int] | None = None) -> None:
    stages = Counter(view.stage.value if view else "not started" for view in outcome.views.values())
    console.print()
    console.print(
        f"[bold]{len(outcome.views)} demo orders in {outcome.seconds:.1f}s:[/] "
        + ", ".join(f"{count} {stage}" for stage, count in sorted(stages.items()))
    )
    for order_id, view in outcome.views.items():
        if view and view.attention:
            console.print(f"  [red]{order_id}[/]: {view.attention.summary}")
    if restarts:
        restarted = ", ".join(f"{name} {count}x" for name, count in sorted(restarts.items()))
        console.print(f"[yellow]Restarted after dying unexpectedly:[/] {restarted}   (logs in var/logs/)")
    console.print("Temporal UI:")
    for name, query in UI_VIEWS.items():
        console.print(f"  {name + ':':<18}{temporal_ui_query_link(query)}", soft_wrap=True)
    console.print(
        "  (columns: 'Configure Columns' in the list adds BngOrderId, OrderStage, M3OrderNumber...; "
        "see README)"
    )
    console.print("Timelines:   m3bng orders show <BNG order id>")


async def run_demo(
    settings: Settings, *, orders: int, timeout: float, lifecycle_seconds: float, purchase_orders: int = 3
) -> int:
    settings = with_demo_secrets(settings)  # var/secrets.env, for every process of the stack
    # A pipe or CI log gets a fixed wide table instead of rich's 80-column default.
    console = Console(width=None if sys.stdout.isatty() else 150)
    stack = EmbeddedStack(settings, lifecycle_seconds=lifecycle_seconds)
    # SIGTERM (a supervisor, `timeout`) stops the stack as cleanly as Ctrl-C does.
    current = asyncio.current_task()
    if current is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    console.print(
        "[bold]Starting the embedded stack[/] (Temporal dev server, M3 + BNG sandboxes, worker, receiver)…"
    )
    try:
        stack.start()
        client = await connect(settings)
        # Master data: a full reconciliation per entity on a Temporal Schedule; events do the rest.
        await ensure_reconcile_schedules(client, settings)
        async with BngClient(
            settings.bng_base_url,
            client_id=settings.bng_client_id,
            client_secret=settings.bng_client_secret.get_secret_value(),
        ) as bng:
            order_ids = await place_orders(bng, orders)
            console.print(f"Placed {len(order_ids)} orders in BNG; following them through M3…")
            outcome = await follow(client, bng, order_ids, timeout, console)
            # Procure-to-pay and finance (starter/demo_p2p.py): POs, receipts, invoices, a journal.
            p2p: P2POutcome | None = None
            if purchase_orders > 0:
                p2p = await run_p2p(client, bng, purchase_orders, timeout, console)
        print_summary(console, outcome, stack.restarts)
        if p2p is not None:
            print_p2p_summary(console, p2p)
        if os.environ.get("CI", "").lower() == "true":
            return 0 if outcome.all_paid and (p2p is None or p2p.complete) else 1
        console.print("[bold]The stack stays up for exploring. Ctrl-C stops it.[/]")
        while True:
            stack.check_alive()
            await asyncio.sleep(1)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0
    finally:
        stack.stop()
