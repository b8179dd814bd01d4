"""``m3bng po|invoices|journals|refunds``: find and operate procure-to-pay and finance documents.

One verb set for every document, the same as ``m3bng orders``:

m3bng po list [--stage NeedsAttention] [--json]
m3bng po show PO-1001 [--json]            stage, M3 number, why it is parked, timeline
m3bng po fix PO-1001 --payload fixed.json [--reason "..."]   corrected data for the parked step
m3bng po resume PO-1001 [--reason "..."]  retry the parked step
m3bng po skip PO-1001 --reason "..."      leave the parked step undone
m3bng po cancel PO-1001 --reason "..."
m3bng invoices accept SI-77 --suggestion accept-price-variance [--reason "..."]

(``invoices``, ``journals`` and ``refunds`` alike; ``accept`` is for supplier invoices only.)

The workflows are called by name (query ``status``; updates ``fix_payload``, ``resume``, ``skip``,
``cancel``, ``accept_suggestion``) and their view is read as plain JSON, so this module needs
nothing of the workflows but their ids and search attributes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from starter.cli_common import (
    OPERATOR_CALL_ERRORS,
    console,
    find_workflows,
    print_attention,
    print_failure,
    print_json,
    print_rows,
    print_timeline,
)
from workflows import search_attributes as sa


@dataclass(frozen=True)
class DocumentCommand:
    """One document type as the command line knows it."""

    command: str  # the word after m3bng
    document_type: str  # the DocumentType search attribute's value
    noun: str
    workflow_prefix: str  # the workflow id is prefix + the BNG id
    m3_label: str  # what the M3DocumentNumber is for this type
    stages: tuple[str, ...]  # for --help only: the workflow decides
    accepts_suggestions: bool = False
    # Further search attributes worth a column: row key -> (title, attribute).
    extra_columns: Mapping[str, tuple[str, SearchAttributeKey[str]]] = field(default_factory=dict)

    def workflow_id(self, document_id: str) -> str:
        return f"{self.workflow_prefix}{document_id}"

    def document_id(self, workflow_id: str) -> str:
        return workflow_id.removeprefix(self.workflow_prefix)


DOCUMENT_COMMANDS: dict[str, DocumentCommand] = {
    spec.command: spec
    for spec in (
        DocumentCommand(
            "po",
            "purchase_order",
            "purchase order",
            "po-",
            "PUNO",
            (
                "Received",
                "Validated",
                "SupplierReady",
                "Placed",
                "Confirmed",
                "PartlyReceived",
                "FullyReceived",
                "Closed",
                "NeedsAttention",
                "Cancelled",
            ),
        ),
        DocumentCommand(
            "invoices",
            "supplier_invoice",
            "supplier invoice",
            "supplier-invoice-",
            "INBN",
            (
                "Received",
                "Validated",
                "Matched",
                "Entered",
                "Posted",
                "WaitingForReceipt",
                "NeedsAttention",
                "Rejected",
                "Cancelled",
            ),
            accepts_suggestions=True,
        ),
        DocumentCommand(
            "journals",
            "journal",
            "journal",
            "journal-",
            "KEY1",
            ("Received", "Validated", "Posted", "NeedsAttention", "Rejected", "Cancelled"),
        ),
        DocumentCommand(
            "refunds",
            "refund",
            "refund",
            "refund-",
            "number",
            ("Received", "Posted", "NeedsAttention", "Cancelled"),
            extra_columns={"order_id": ("Order", sa.BNG_ORDER_ID)},
        ),
    )
}


def add_documents_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for spec in DOCUMENT_COMMANDS.values():
        parser = commands.add_parser(spec.command, help=f"find and operate {spec.noun}s")
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help=f"{spec.noun}s, newest first")
        listing.add_argument("--stage", help=f"only those in this stage: {', '.join(spec.stages)}")
        listing.add_argument("--json", action="store_true", help="JSON instead of a table")
        verbs = ["show", "fix", "resume", "skip", "cancel"] + (["accept"] if spec.accepts_suggestions else [])
        for verb in verbs:
            sub = actions.add_parser(verb, help=VERB_HELP[verb])
            sub.add_argument("document_id", metavar="ID", help=f"the BNG {spec.noun} id")
            sub.add_argument("--json", action="store_true", help="print the view as JSON")
            if verb == "fix":
                sub.add_argument(
                    "--payload",
                    type=Path,
                    required=True,
                    help="JSON file: the corrected fields of the parked step's data",
                )
            if verb == "accept":
                sub.add_argument("--suggestion", required=True, help="the id of an offered suggestion")
            if verb != "show":
                sub.add_argument("--reason", default="", required=verb in ("skip", "cancel"))


VERB_HELP = {
    "show": "stage, M3 number, why it is parked, timeline",
    "fix": "send corrected data for the parked step",
    "resume": "retry the parked step",
    "skip": "leave the parked step undone (needs a reason)",
    "cancel": "cancel the document (needs a reason)",
    "accept": "take one of the suggested fixes",
}


def list_query(spec: DocumentCommand, stage: str | None = None) -> str:
    query = f'{sa.DOCUMENT_TYPE.name} = "{spec.document_type}"'
    if stage:
        query += f' AND {sa.DOCUMENT_STAGE.name} = "{stage}"'
    return query


def operator_update(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The workflow update an action sends, by name, with its argument as JSON."""
    if args.action == "fix":
        payload = json.loads(args.payload.read_text())
        if not isinstance(payload, dict):
            raise ValueError(f"{args.payload}: the corrected data must be a JSON object")
        return "fix_payload", {"payload": payload, "reason": args.reason}
    if args.action == "accept":
        return "accept_suggestion", {"suggestion": args.suggestion, "reason": args.reason}
    name = {"resume": "resume", "skip": "skip", "cancel": "cancel"}[args.action]
    return name, {"reason": args.reason}


async def run_documents(args: argparse.Namespace, client: Client) -> int:
    spec = DOCUMENT_COMMANDS[args.command]
    if args.action == "list":
        columns = {
            "stage": sa.DOCUMENT_STAGE,
            "m3_number": sa.M3_DOCUMENT_NUMBER,
            **{key: attribute for key, (_, attribute) in spec.extra_columns.items()},
        }
        rows = [
            {"document_id": spec.document_id(row["workflow_id"] or ""), **row}
            for row in await find_workflows(client, list_query(spec, args.stage), columns)
        ]
        if args.json:
            print_json(rows)
            return 0
        headers = {
            "document_id": spec.noun.capitalize(),
            "stage": "Stage",
            "m3_number": f"M3 {spec.m3_label}",
            **{key: title for key, (title, _) in spec.extra_columns.items()},
            "status": "Status",
            "started": "Started",
        }
        print_rows(rows, headers)
        return 0

    workflow_id = spec.workflow_id(args.document_id)
    handle = client.get_workflow_handle(workflow_id)
    try:
        update = operator_update(args) if args.action != "show" else None
    except (OSError, ValueError) as error:  # the --payload file: missing, not JSON, not an object
        console.print(f"[red]{escape(str(error))}[/]")
        return 2
    try:
        if update is not None:
            await handle.execute_update(*update)
        # After an update, the workflow has taken the decision: show where that got it.
        view = await handle.query("status")
    except OPERATOR_CALL_ERRORS as error:
        print_failure(error, workflow_id)
        return 1
    if not isinstance(view, dict):
        console.print(f"[red]{escape(workflow_id)}:[/] unexpected status answer {view!r}")
        return 1
    if args.json:
        print_json(view)
    else:
        print_document(spec, view)
    return 0


def print_document(spec: DocumentCommand, view: Mapping[str, Any]) -> None:
    """A document's view (the ``status`` query's JSON): heading, details, attention, timeline."""
    console.print(
        f"[bold]{spec.noun} {escape(str(view.get('document_id')))}[/]"
        f"  stage [cyan]{escape(str(view.get('stage')))}[/]"
        f"  M3 {spec.m3_label} {escape(str(view.get('m3_number') or '-'))}"
    )
    for name, value in (view.get("details") or {}).items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        console.print(f"  {escape(str(name))}: {escape(shown)}")
    if view.get("attention"):
        print_attention(view["attention"])
    print_timeline(view.get("timeline") or [])
