"""``m3bng``: the command line for running the demo and operating orders.

m3bng demo [--orders 12] [--purchase-orders 3]   start the embedded stack and run the demo
m3bng orders list [--stage NeedsAttention] [--json]
m3bng orders show BNG-10001 [--json]  stage and timeline of one order
m3bng orders fix BNG-10001 --payload fixed.json   corrected data for the parked step (the order,
                                      an invoice BOD, a payment...): only the fields that change
m3bng orders resume BNG-10001         retry the parked step (e.g. the item exists in M3 now)
m3bng orders skip BNG-10001 --reason "BNG shows it already"   leave the parked step undone
m3bng orders cancel BNG-10001 --reason "customer withdrew"
m3bng po|invoices|journals|refunds list|show|fix|resume|skip|cancel ...   the same for purchase
                                      orders, supplier invoices (also accept --suggestion), journals,
                                      refunds (starter/documents_cli.py)
m3bng sync customer --full            reconcile customers (see starter/sync_cli.py for more)
m3bng deadletter list --open          events the receiver could not route (starter/deadletter_cli.py)
m3bng doctor [--json]                 check the configuration against M3, BNG, Temporal and the
                                      database before go-live (starter/doctor.py)
m3bng maps validate|diff|export|import   promote declared maps (starter/maps_cli.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.markup import escape
from temporalio.client import Client

from clients.logging import configure_logging
from settings import get_settings
from starter.cli_common import (
    OPERATOR_CALL_ERRORS,
    cli_client,
    console,
    find_workflows,
    print_attention,
    print_failure,
    print_json,
    print_rows,
    print_timeline,
)
from starter.deadletter_cli import add_deadletter_parser, open_store, run_deadletter
from starter.demo import run_demo
from starter.doctor import run_doctor
from starter.documents_cli import DOCUMENT_COMMANDS, add_documents_parser, run_documents
from starter.maps_cli import add_maps_parser, run_maps
from starter.sync_cli import add_sync_parser, run_sync
from workflows import search_attributes as sa
from workflows.models import CancelOrder, FixPayload, OrderView, Resume, SkipStep, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="m3bng", description="M3 <-> BNG integration hub")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="start the embedded stack and run the order-to-cash demo")
    demo.add_argument("--orders", type=int, default=12)
    demo.add_argument("--timeout", type=float, default=240.0)
    demo.add_argument("--m3-step-seconds", type=float, default=1.0, help="M3 sandbox status clock")
    demo.add_argument(
        "--purchase-orders",
        type=int,
        default=3,
        help="demo POs for procure-to-pay after the orders (0: skip)",
    )

    orders = commands.add_parser("orders", help="find and operate orders").add_subparsers(
        dest="action", required=True
    )
    listing = orders.add_parser("list")
    listing.add_argument("--stage")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    for action in ("show", "fix", "resume", "skip", "cancel"):
        sub = orders.add_parser(action)
        sub.add_argument("order_id")
        sub.add_argument("--json", action="store_true", help="print the view as JSON")
        if action == "fix":
            sub.add_argument(
                "--payload", type=Path, required=True, help="JSON file: the corrected data of the parked step"
            )
        if action in ("fix", "resume", "skip", "cancel"):
            sub.add_argument("--reason", default="", required=action in ("skip", "cancel"))
    add_documents_parser(commands)
    add_sync_parser(commands)
    add_deadletter_parser(commands)
    doctor = commands.add_parser("doctor", help="check the configuration against the real systems")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    add_maps_parser(commands)
    return parser


async def _sync(args: argparse.Namespace) -> int:
    return await run_sync(args, get_settings(), await cli_client())


async def _deadletter(args: argparse.Namespace) -> int:
    settings = get_settings()
    client = await cli_client(settings) if args.action == "replay" else None
    return await run_deadletter(args, settings, open_store(settings), client)


async def _documents(args: argparse.Namespace) -> int:
    return await run_documents(args, await cli_client())


def orders_list_query(stage: str | None) -> str:
    if stage:
        return f'{sa.ORDER_STAGE.name} = "{stage}"'
    # Refund workflows carry their order's BngOrderId too; they are documents, not orders.
    return f"{sa.BNG_ORDER_ID.name} IS NOT NULL AND {sa.DOCUMENT_TYPE.name} IS NULL"


def order_age(seconds: float) -> str:
    """How long ago an order came in, as an operator reads it: 45s, 12m, 3h 05m, 2d 04h."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


async def run_orders(args: argparse.Namespace, client: Client) -> int:
    if args.action == "list":
        columns = {
            "order_id": sa.BNG_ORDER_ID,
            "stage": sa.ORDER_STAGE,
            "m3_order": sa.M3_ORDER_NUMBER,
            "m3_customer": sa.M3_CUSTOMER_NUMBER,
        }
        rows = await find_workflows(client, orders_list_query(args.stage), columns)
        now = datetime.now(UTC)
        listed: list[dict[str, Any]] = []
        for row in rows:
            age = now - datetime.fromisoformat(str(row["started"]))
            listed.append(
                {**row, "age": order_age(age.total_seconds()), "age_seconds": int(age.total_seconds())}
            )
        if args.json:
            print_json(listed)
        else:
            headers = {
                "order_id": "Order",
                "stage": "Stage",
                "m3_order": "M3 order",
                "m3_customer": "M3 customer",
            }
            print_rows(listed, {**headers, "age": "Age", "status": "Status", "started": "Started"})
        return 0
    workflow_id = order_workflow_id(args.order_id)
    handle = client.get_workflow_handle(workflow_id)
    view: OrderView
    try:
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
    except OPERATOR_CALL_ERRORS as error:
        print_failure(error, workflow_id)
        return 1
    # A refund after the order finished cannot join its timeline: list the order's refunds here.
    refund_query = f'{sa.BNG_ORDER_ID.name} = "{args.order_id}" AND {sa.DOCUMENT_TYPE.name} = "refund"'
    columns = {"refund": sa.DOCUMENT_ID, "stage": sa.DOCUMENT_STAGE, "m3": sa.M3_DOCUMENT_NUMBER}
    refunds = await find_workflows(client, refund_query, columns) if args.action == "show" else []
    if args.json:
        print_json({**view.model_dump(mode="json"), "refunds": refunds})
    else:
        print_order(view)
        if refunds:
            print_rows(
                refunds, {"refund": "Refund", "stage": "Stage", "m3": "M3 GL batch", "started": "Started"}
            )
    return 0


def print_order(view: OrderView) -> None:
    console.print(
        f"[bold]{escape(view.bng_order_id)}[/]  stage [cyan]{view.stage.value}[/]"
        f"  M3 order {view.m3_order_number or '-'}  customer {escape(view.m3_customer_number or '-')}"
    )
    if view.attention:
        print_attention(view.attention.model_dump(mode="json"))
    print_timeline([entry.model_dump(mode="json") for entry in view.timeline])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    if args.command == "demo":
        return asyncio.run(
            run_demo(
                settings,
                orders=args.orders,
                timeout=args.timeout,
                lifecycle_seconds=args.m3_step_seconds,
                purchase_orders=args.purchase_orders,
            )
        )
    if args.command == "doctor":
        return asyncio.run(run_doctor(settings, as_json=args.json))
    if args.command == "maps":
        return run_maps(args, settings)
    if args.command == "sync":
        return asyncio.run(_sync(args))
    if args.command == "deadletter":
        return asyncio.run(_deadletter(args))
    if args.command in DOCUMENT_COMMANDS:
        return asyncio.run(_documents(args))
    return asyncio.run(_orders(args))


async def _orders(args: argparse.Namespace) -> int:
    return await run_orders(args, await cli_client())


if __name__ == "__main__":
    sys.exit(main())
