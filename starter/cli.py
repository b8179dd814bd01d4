"""``m3bng``: the command line for running the demo and operating orders.

m3bng demo [--orders 12]              start the embedded stack and run the demo
m3bng orders list [--stage NeedsAttention]
m3bng orders show BNG-10001           stage and timeline of one order
m3bng orders fix BNG-10001 --payload fixed.json   corrected data for the parked step (the order,
                                      an invoice BOD, a payment...): only the fields that change
m3bng orders resume BNG-10001         retry the parked step (e.g. the item exists in M3 now)
m3bng orders skip BNG-10001 --reason "BNG shows it already"   leave the parked step undone
m3bng orders cancel BNG-10001 --reason "customer withdrew"
m3bng sync customer --full            reconcile customers (see starter/sync_cli.py for more)
m3bng deadletter list --open          events the receiver could not route (starter/deadletter_cli.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import get_settings
from starter.deadletter_cli import add_deadletter_parser, open_store, run_deadletter
from starter.demo import run_demo
from starter.sync_cli import add_sync_parser, run_sync
from workflows import search_attributes as sa
from workflows.models import CancelOrder, FixPayload, OrderView, Resume, SkipStep, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

console = Console()
# A person at a terminal: say that Temporal is down after a while instead of waiting for ever.
CLI_WAIT_SECONDS = 10.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="m3bng", description="M3 <-> BNG integration hub")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the embedded stack and run the order-to-cash demo")
    demo.add_argument("--orders", type=int, default=12)
    demo.add_argument("--timeout", type=float, default=240.0)
    demo.add_argument("--m3-step-seconds", type=float, default=1.0, help="M3 sandbox status clock")

    orders = commands.add_parser("orders", help="find and operate orders").add_subparsers(
        dest="action", required=True
    )
    listing = orders.add_parser("list")
    listing.add_argument("--stage")
    for action in ("show", "fix", "resume", "skip", "cancel"):
        sub = orders.add_parser(action)
        sub.add_argument("order_id")
        if action == "fix":
            sub.add_argument(
                "--payload", type=Path, required=True, help="JSON file: the corrected data of the parked step"
            )
        if action in ("fix", "resume", "skip", "cancel"):
            sub.add_argument("--reason", default="", required=action in ("skip", "cancel"))
    add_sync_parser(commands)
    add_deadletter_parser(commands)
    return parser


async def _sync(args: argparse.Namespace) -> int:
    settings = get_settings()
    return await run_sync(args, settings, await connect(settings, wait_seconds=CLI_WAIT_SECONDS))


async def _deadletter(args: argparse.Namespace) -> int:
    settings = get_settings()
    client = await connect(settings, wait_seconds=CLI_WAIT_SECONDS) if args.action == "replay" else None
    return await run_deadletter(args, settings, open_store(settings), client)


async def _orders(args: argparse.Namespace) -> int:
    client = await connect(get_settings(), wait_seconds=CLI_WAIT_SECONDS)
    if args.action == "list":
        query = (
            f'{sa.ORDER_STAGE.name} = "{args.stage}"' if args.stage else f"{sa.BNG_ORDER_ID.name} IS NOT NULL"
        )
        table = Table("Workflow", "Status", "Started")
        async for wf in client.list_workflows(query):
            table.add_row(wf.id, wf.status.name if wf.status else "", str(wf.start_time))
        console.print(table)
        return 0
    handle = client.get_workflow_handle(order_workflow_id(args.order_id))
    view: OrderView
    if args.action == "show":
        view = await handle.query(OrderToCashWorkflow.status)
    elif args.action == "fix":
        payload = json.loads(args.payload.read_text())
        view = await handle.execute_update(
            OrderToCashWorkflow.fix_payload, FixPayload(payload=payload, reason=args.reason)
        )
    elif args.action == "resume":
        view = await handle.execute_update(OrderToCashWorkflow.resume, Resume(reason=args.reason))
    elif args.action == "skip":
        view = await handle.execute_update(OrderToCashWorkflow.skip, SkipStep(reason=args.reason))
    else:
        view = await handle.execute_update(OrderToCashWorkflow.cancel, CancelOrder(reason=args.reason))
    _print_view(view)
    return 0


def _print_view(view: OrderView) -> None:
    console.print(
        f"[bold]{view.bng_order_id}[/]  stage [cyan]{view.stage.value}[/]"
        f"  M3 order {view.m3_order_number or '-'}  customer {view.m3_customer_number or '-'}"
    )
    if view.attention:
        attention = view.attention
        console.print(
            f"[red]Needs attention ({attention.kind}, at {attention.step or '-'}):[/] {attention.summary}"
        )
        for issue in attention.issues:
            console.print(f"  - {issue.field}: {issue.message}")
        if attention.data:
            console.print(f"  data: {json.dumps(attention.data, default=str)}")
        console.print(f"  operator actions: {', '.join(attention.actions)}")
    table = Table("When", "Step", "Detail")
    for entry in view.timeline:
        style = {"error": "red", "info": "dim"}.get(entry.outcome, "")
        table.add_row(
            entry.at.strftime("%H:%M:%S.%f")[:-3],
            f"[{style}]{entry.step}[/]" if style else entry.step,
            entry.detail,
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    if args.command == "demo":
        return asyncio.run(
            run_demo(
                settings, orders=args.orders, timeout=args.timeout, lifecycle_seconds=args.m3_step_seconds
            )
        )
    if args.command == "sync":
        return asyncio.run(_sync(args))
    if args.command == "deadletter":
        return asyncio.run(_deadletter(args))
    return asyncio.run(_orders(args))


if __name__ == "__main__":
    sys.exit(main())
