"""What the operator commands share: the console, connecting, listing workflows, printing a view.

Views are printed from their JSON form (plain dicts), so the order commands (typed OrderView)
and the document commands (the ``status`` query answered as a dict) print alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from clients.temporal_connection import connect
from settings import Settings, get_settings
from starter.secrets import with_demo_payload_keys

console = Console()
# A person at a terminal: say that Temporal is down after a while instead of waiting for ever.
CLI_WAIT_SECONDS = 10.0

# What Temporal can answer an operator's query or update with, instead of a view.
OPERATOR_CALL_ERRORS = (WorkflowUpdateFailedError, WorkflowQueryFailedError, RPCError)

Row = dict[str, str | None]


async def cli_client(settings: Settings | None = None) -> Client:
    """A Temporal client for a command; gives up after CLI_WAIT_SECONDS if Temporal is down."""
    return await connect(settings or with_demo_payload_keys(get_settings()), wait_seconds=CLI_WAIT_SECONDS)


async def find_workflows(
    client: Client, query: str, columns: Mapping[str, SearchAttributeKey[str]]
) -> list[Row]:
    """The workflows a visibility query finds, newest first: the search attributes named in
    ``columns`` (row key -> attribute), then workflow_id, status and started (ISO)."""
    rows: list[Row] = []
    async for wf in client.list_workflows(query):
        attributes = wf.typed_search_attributes
        row: Row = {name: attributes.get(key) for name, key in columns.items()}
        row["workflow_id"] = wf.id
        row["status"] = wf.status.name if wf.status else None
        row["started"] = wf.start_time.isoformat()
        rows.append(row)
    return rows


def print_rows(rows: Sequence[Row], headers: Mapping[str, str]) -> None:
    """A table of rows; ``headers`` maps each row key to show to its column title."""
    table = Table(*headers.values())
    for row in rows:
        table.add_row(*(escape(row.get(key) or "") for key in headers))
    console.print(table)


def print_json(value: Any) -> None:
    """Plain JSON on stdout for scripts: no colours, no line wrapping."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_failure(error: BaseException, workflow_id: str) -> None:
    """Why an operator call was not done: a validator's refusal, an unknown or closed workflow..."""
    if isinstance(error, WorkflowUpdateFailedError):
        cause = error.cause
        reason = getattr(cause, "message", None) or str(cause or error)
        console.print(f"[red]{escape(workflow_id)}: refused:[/] {escape(reason)}")
    elif isinstance(error, RPCError):
        console.print(f"[red]{escape(workflow_id)}:[/] {escape(error.message)} ({error.status.name})")
    else:
        console.print(f"[red]{escape(workflow_id)}:[/] {escape(str(error))}")


def print_attention(attention: Mapping[str, Any]) -> None:
    """Why a workflow is parked and what an operator can do (an Attention in its JSON form)."""
    console.print(
        f"[red]Needs attention ({escape(str(attention.get('kind')))}, "
        f"at {escape(str(attention.get('step') or '-'))}):[/] {escape(str(attention.get('summary', '')))}"
    )
    m3_call = "/".join(str(attention[k]) for k in ("m3_program", "m3_transaction") if attention.get(k))
    if m3_call or attention.get("m3_code"):
        console.print(f"  M3 {escape(m3_call or '-')} code {escape(str(attention.get('m3_code') or '-'))}")
    for issue in attention.get("issues") or []:
        line = f" (line {issue['line']})" if issue.get("line") is not None else ""
        console.print(f"  - {escape(str(issue.get('field')))}{line}: {escape(str(issue.get('message')))}")
    suggestions = attention.get("suggestions") or []
    if suggestions:
        console.print("  suggestions:")
    for suggestion in suggestions:
        action = f" ({suggestion['action']})" if suggestion.get("action") else ""
        console.print(
            f"    [green]{escape(str(suggestion.get('id')))}[/]{escape(action)}: "
            f"{escape(str(suggestion.get('summary', '')))}"
        )
    if attention.get("data"):
        console.print(f"  data: {escape(json.dumps(attention['data'], default=str))}")
    console.print(f"  operator actions: {', '.join(attention.get('actions') or [])}")


def print_timeline(entries: Sequence[Mapping[str, Any]]) -> None:
    """A timeline (TimelineEntry JSON forms: at, step, detail, outcome), oldest first."""
    table = Table("When", "Step", "Detail")
    for entry in entries:
        style = {"error": "red", "info": "dim"}.get(str(entry.get("outcome")), "")
        step = escape(str(entry.get("step", "")))
        table.add_row(
            _when(entry.get("at")),
            f"[{style}]{step}[/]" if style else step,
            escape(str(entry.get("detail", ""))),
        )
    console.print(table)


def _when(at: Any) -> str:
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return at
    if isinstance(at, datetime):
        return at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(at or "")
