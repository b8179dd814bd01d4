"""``m3bng deadletter``: see, replay and discard the events the receiver could not route.

m3bng deadletter list [--open]
m3bng deadletter show 42
m3bng deadletter replay 42        route it again, exactly as the receiver would
m3bng deadletter discard 42 --reason "test order, never placed"

A replay skips the signature and IMS checks: the event was authenticated when it was received.
If it is dead-lettered again, it stays open with its replay count incremented.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from settings import Settings
from starter.routing import Routed, Router, route_bod_xml, route_webhook
from storage import deadletter
from storage.db import make_engine, make_session_factory, upgrade_schema
from storage.models import DeadLetter, DeadLetterStatus, EventSource

console = Console()


def add_deadletter_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("deadletter", help="events the receiver could not route: list, replay")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="newest first")
    listing.add_argument("--open", action="store_true", help="only those still waiting for an operator")
    listing.add_argument("--limit", type=int, default=200)
    for name in ("show", "replay", "discard"):
        sub = actions.add_parser(name)
        sub.add_argument("id", type=int)
        if name == "discard":
            sub.add_argument("--reason", required=True)


def open_store(settings: Settings) -> sessionmaker[Session]:
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return make_session_factory(engine)


async def run_deadletter(
    args: argparse.Namespace, settings: Settings, sessions: sessionmaker[Session], client: Client | None
) -> int:
    """``client`` is needed for ``replay`` only; the other actions just read or write the store."""
    if args.action == "list":
        status = DeadLetterStatus.OPEN if args.open else None
        with sessions() as session:
            rows = deadletter.list_dead_letters(session, status=status, limit=args.limit)
        table = Table("Id", "Received", "Source", "Type", "Key", "Status", "Replays", "Reason")
        for row in rows:
            table.add_row(
                str(row.id),
                row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                row.source,
                row.event_type,
                row.business_key or "",
                row.status,
                str(row.replay_count),
                row.reason,
            )
        console.print(table)
        return 0
    try:
        if args.action == "show":
            with sessions() as session:
                _print(deadletter.get(session, args.id))
            return 0
        if args.action == "discard":
            with sessions.begin() as session:
                row = deadletter.discard(session, args.id, reason=args.reason)
            console.print(f"dead letter {row.id} discarded")
            return 0
        assert client is not None
        row, routed = await replay(Router(client, settings, sessions), args.id)
    except (deadletter.DeadLetterNotFoundError, deadletter.DeadLetterClosedError) as error:
        console.print(f"[red]{error}[/]")
        return 1
    if routed.dead:
        console.print(f"[yellow]dead-lettered again[/] ({row.replay_count} replays): {routed.detail}")
        return 2
    console.print(f"dead letter {row.id} replayed: {describe(routed)}")
    return 0


async def replay(router: Router, dead_letter_id: int) -> tuple[DeadLetter, Routed]:
    """Route a stored event through the receiver's routing again and record how it went."""
    with router.sessions() as session:
        row = deadletter.get(session, dead_letter_id)
    if row.status != DeadLetterStatus.OPEN.value:
        raise deadletter.DeadLetterClosedError(f"dead letter {dead_letter_id} is {row.status}")
    body = deadletter.body_bytes(row)
    if row.source == EventSource.BNG_WEBHOOK.value:
        # The webhook id it came with, so that its workflow sees the same event id as on arrival.
        routed = await route_webhook(router, body, row.headers.get("webhook-id") or row.event_id or "")
    else:
        routed = await route_bod_xml(router, body)

    def record() -> DeadLetter:
        with router.sessions.begin() as session:
            return deadletter.record_replay(
                session, dead_letter_id, outcome=describe(routed), routed=not routed.dead
            )

    return await asyncio.to_thread(record), routed


def describe(routed: Routed) -> str:
    text: str = routed.outcome
    if routed.workflow_id:
        text += f" {routed.workflow_id}"
    return f"{text}: {routed.detail}" if routed.detail else text


def _print(row: DeadLetter) -> None:
    console.print(f"[bold]dead letter {row.id}[/]  [cyan]{row.status}[/]  {row.source} {row.event_type}")
    fields = {
        "business key": row.business_key,
        "event id": row.event_id,
        "workflow": row.workflow_id,
        "received": row.received_at.isoformat(),
        "reason": row.reason,
        "replays": str(row.replay_count),
        "last replay": row.last_replay_at.isoformat() if row.last_replay_at else None,
        "last outcome": row.last_replay_outcome,
        "discarded because": row.discard_reason,
    }
    for name, value in fields.items():
        if value:
            console.print(f"  {name}: {value}")
    console.print("  headers: " + json.dumps(row.headers))
    console.print(f"  body ({row.body_encoding}):")
    console.print(row.body, markup=False, highlight=False)
