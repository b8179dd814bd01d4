"""``m3bng po|invoices|journals|refunds``: the parser, the printing, and list/show/updates against
a real Temporal dev server, with a stand-in workflow that answers the document workflows' query
and updates by name (the real ones are tested with their processes)."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from starter.cli import _parser, orders_list_query, run_orders
from starter.cli_common import console
from starter.documents_cli import (
    DOCUMENT_COMMANDS,
    list_query,
    operator_update,
    print_document,
    run_documents,
)
from workflows import search_attributes as sa

PARKED_VIEW: dict[str, Any] = {
    "document_type": "supplier_invoice",
    "document_id": "SI-1",
    "stage": "NeedsAttention",
    "m3_number": "5000123",
    "attention": {
        "kind": "m3_business_error",
        "summary": "price differs from the PO by 4.2% [tolerance 2%]",
        "issues": [{"field": "UnitPrice", "message": "12.50 on the PO", "line": 2}],
        "m3_program": "APS455MI",
        "m3_transaction": "ValidByBatchNo",
        "m3_code": "IBLE",
        "suggestions": [
            {"id": "accept-variance", "action": "accept", "summary": "post the difference to 4090"}
        ],
        "actions": ["retry", "fix", "cancel", "accept"],
        "step": "match",
        "data": {"inbn": "5000123"},
    },
    "timeline": [
        {"at": "2026-11-27T10:00:00.123000Z", "step": "Received", "detail": "webhook", "outcome": "ok"},
        {"at": "2026-11-27T10:00:01Z", "step": "NeedsAttention", "detail": "price", "outcome": "error"},
    ],
    "details": {"VendorID": "V-1", "TotalAmount": "125.00", "Lines": [1, 2]},
}


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Tables and long lines unwrapped, whatever the terminal running the tests."""
    width = console.width
    console.width = 200
    yield
    console.width = width


def parse(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(list(argv))


# --- parser and printing ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["po", "invoices", "journals", "refunds"])
def test_every_document_has_the_same_verbs(command: str) -> None:
    assert parse(command, "list").stage is None
    assert parse(command, "list", "--stage", "NeedsAttention", "--json").json is True
    assert parse(command, "show", "X-1").document_id == "X-1"
    assert parse(command, "fix", "X-1", "--payload", "f.json").payload == Path("f.json")
    assert parse(command, "resume", "X-1").reason == ""
    assert parse(command, "skip", "X-1", "--reason", "done in BNG").reason == "done in BNG"
    assert parse(command, "cancel", "X-1", "--reason", "duplicate", "--json").json is True


@pytest.mark.parametrize(
    "argv",
    [
        ["po", "skip", "X-1"],  # skip and cancel need a reason
        ["journals", "cancel", "X-1"],
        ["refunds", "fix", "X-1"],  # fix needs the payload
        ["po", "accept", "X-1", "--suggestion", "s"],  # accept is for supplier invoices only
        ["invoices", "accept", "X-1"],  # with a suggestion id
    ],
)
def test_incomplete_commands_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


def test_the_updates_are_sent_by_name_with_their_json(tmp_path: Path) -> None:
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"VendorID": "V-2"}))
    assert operator_update(parse("po", "fix", "PO-1", "--payload", str(fixed), "--reason", "typo")) == (
        "fix_payload",
        {"payload": {"VendorID": "V-2"}, "reason": "typo"},
    )
    assert operator_update(parse("invoices", "accept", "SI-1", "--suggestion", "accept-variance")) == (
        "accept_suggestion",
        {"suggestion": "accept-variance", "reason": ""},
    )
    for verb in ("resume", "skip", "cancel"):
        assert operator_update(parse("journals", verb, "JE-1", "--reason", "r")) == (verb, {"reason": "r"})
    fixed.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        operator_update(parse("po", "fix", "PO-1", "--payload", str(fixed)))


def test_list_queries_use_the_document_search_attributes() -> None:
    assert list_query(DOCUMENT_COMMANDS["po"]) == 'DocumentType = "purchase_order"'
    assert (
        list_query(DOCUMENT_COMMANDS["invoices"], "NeedsAttention")
        == 'DocumentType = "supplier_invoice" AND DocumentStage = "NeedsAttention"'
    )
    assert DOCUMENT_COMMANDS["journals"].workflow_id("JE-1") == "journal-JE-1"
    assert DOCUMENT_COMMANDS["refunds"].workflow_id("RF-1") == "refund-RF-1"
    assert DOCUMENT_COMMANDS["invoices"].workflow_id("SI-1") == "supplier-invoice-SI-1"
    assert DOCUMENT_COMMANDS["po"].workflow_id("PO-1") == "po-PO-1"


def test_a_parked_document_prints_everything_an_operator_needs() -> None:
    with console.capture() as capture:
        print_document(DOCUMENT_COMMANDS["invoices"], PARKED_VIEW)
    text = capture.get()
    for expected in (
        "supplier invoice SI-1",
        "stage NeedsAttention",
        "M3 INBN 5000123",
        "VendorID: V-1",
        "Lines: [1, 2]",
        "Needs attention (m3_business_error, at match): price differs from the PO by 4.2% [tolerance 2%]",
        "M3 APS455MI/ValidByBatchNo code IBLE",
        "UnitPrice (line 2): 12.50 on the PO",
        "accept-variance (accept): post the difference to 4090",
        "operator actions: retry, fix, cancel, accept",
        "2026-11-27 10:00:00.123",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"


def test_a_document_without_attention_prints_its_stage_and_timeline() -> None:
    view: dict[str, Any] = {"document_id": "JE-1", "stage": "Posted", "m3_number": None, "timeline": []}
    with console.capture() as capture:
        print_document(DOCUMENT_COMMANDS["journals"], view)
    text = capture.get()
    assert "journal JE-1  stage Posted  M3 KEY1 -" in text
    assert "Needs attention" not in text


def test_the_search_attributes_fit_sql_visibility() -> None:
    # The dev server (SQLite) and SQL clusters have ten Keyword columns and three of each other
    # type per namespace; the dev server refuses to start with more.
    limits = {SearchAttributeIndexedValueType.KEYWORD: 10}
    by_type: dict[SearchAttributeIndexedValueType, int] = {}
    for key in sa.ALL:
        by_type[key.indexed_value_type] = by_type.get(key.indexed_value_type, 0) + 1
    assert all(count <= limits.get(kind, 3) for kind, count in by_type.items()), by_type
    assert len({key.name for key in sa.ALL}) == len(sa.ALL)
    assert "DocumentId=Text" in sa.dev_server_flags()


# --- against Temporal ---------------------------------------------------------------------------


@workflow.defn(name="DocumentCliStandIn")
class DocumentStandIn:
    """Answers ``status`` with the view it was started with; the updates move it on."""

    def __init__(self) -> None:
        self.view: dict[str, Any] = {}

    @workflow.run
    async def run(self, view: dict[str, Any]) -> None:
        self.view = view
        await workflow.wait_condition(lambda: self.view["stage"] == "Cancelled")

    @workflow.query
    def status(self) -> dict[str, Any]:
        return self.view

    def _decide(self, stage: str, detail: str) -> dict[str, Any]:
        self.view["stage"] = stage
        self.view["attention"] = None
        self.view["timeline"].append(
            {"at": workflow.now().isoformat(), "step": stage, "detail": detail, "outcome": "info"}
        )
        workflow.upsert_search_attributes([sa.DOCUMENT_STAGE.value_set(stage)])
        return self.view

    def _require_parked(self) -> None:
        if self.view["stage"] != "NeedsAttention":
            raise ValueError(f"{self.view['document_id']} is {self.view['stage']}; that needs NeedsAttention")

    @workflow.update
    def fix_payload(self, fix: dict[str, Any]) -> dict[str, Any]:
        self.view["details"] = {**self.view.get("details", {}), **fix["payload"]}
        return self._decide("Validated", f"fixed: {fix['reason']}")

    @fix_payload.validator
    def _fix_ok(self, fix: dict[str, Any]) -> None:
        self._require_parked()

    @workflow.update
    def resume(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._decide("Validated", f"resumed: {request['reason']}")

    @resume.validator
    def _resume_ok(self, request: dict[str, Any]) -> None:
        self._require_parked()

    @workflow.update
    def skip(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._decide("Posted", f"skipped: {request['reason']}")

    @skip.validator
    def _skip_ok(self, request: dict[str, Any]) -> None:
        self._require_parked()

    @workflow.update
    def cancel(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._decide("Cancelled", f"cancelled: {request['reason']}")

    @workflow.update
    def accept_suggestion(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._decide("Matched", f"accepted {request['suggestion']}")

    @accept_suggestion.validator
    def _accept_ok(self, request: dict[str, Any]) -> None:
        self._require_parked()
        offered = [s["id"] for s in self.view["attention"]["suggestions"]]
        if request["suggestion"] not in offered:
            raise ValueError(f"no suggestion {request['suggestion']!r} (offered: {', '.join(offered)})")


TASK_QUEUE = f"documents-cli-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def client(temporal_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    async with Worker(
        temporal_env.client,
        task_queue=TASK_QUEUE,
        workflows=[DocumentStandIn],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield temporal_env.client


async def start(
    client: Client, command: str, document_id: str, view: dict[str, Any], *extra: SearchAttributePair[str]
) -> None:
    spec = DOCUMENT_COMMANDS[command]
    attributes = [
        SearchAttributePair(sa.DOCUMENT_TYPE, spec.document_type),
        SearchAttributePair(sa.DOCUMENT_ID, document_id),
        SearchAttributePair(sa.DOCUMENT_STAGE, view["stage"]),
        *extra,
    ]
    if view.get("m3_number"):
        attributes.append(SearchAttributePair(sa.M3_DOCUMENT_NUMBER, view["m3_number"]))
    await client.start_workflow(
        "DocumentCliStandIn",
        {**view, "document_type": spec.document_type, "document_id": document_id},
        id=spec.workflow_id(document_id),
        task_queue=TASK_QUEUE,
        search_attributes=TypedSearchAttributes(attributes),
    )


async def run(client: Client, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    args = parse(*argv)
    code = await (run_orders(args, client) if args.command == "orders" else run_documents(args, client))
    return code, capsys.readouterr().out


async def listed(
    client: Client, capsys: pytest.CaptureFixture[str], prefix: str, *argv: str, count: int
) -> list[dict[str, Any]]:
    """The rows of a --json list whose id starts with ``prefix``, once visibility shows ``count``."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        code, out = await run(client, capsys, *argv, "--json")
        assert code == 0
        key = "order_id" if argv[0] == "orders" else "document_id"
        rows = [row for row in json.loads(out) if (row[key] or "").startswith(prefix)]
        if len(rows) == count or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.2)


async def test_list_finds_each_document_type_by_its_search_attributes(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = uuid.uuid4().hex[:8]
    parked = {**PARKED_VIEW, "document_type": "purchase_order"}
    await start(client, "po", f"PO-{run_id}-1", parked)
    await start(client, "po", f"PO-{run_id}-2", {"stage": "Placed", "m3_number": "1000042", "timeline": []})
    await start(client, "invoices", f"PO-{run_id}-3", {"stage": "Received", "timeline": []})
    await start(
        client,
        "refunds",
        f"RF-{run_id}",
        {"stage": "Received", "timeline": []},
        SearchAttributePair(sa.BNG_ORDER_ID, f"ORD-{run_id}"),
    )

    rows = await listed(client, capsys, f"PO-{run_id}", "po", "list", count=2)
    assert sorted((r["document_id"], r["stage"], r["m3_number"]) for r in rows) == [
        (f"PO-{run_id}-1", "NeedsAttention", "5000123"),
        (f"PO-{run_id}-2", "Placed", "1000042"),
    ]
    assert {r["workflow_id"] for r in rows} == {f"po-PO-{run_id}-1", f"po-PO-{run_id}-2"}
    assert {r["status"] for r in rows} == {"RUNNING"}

    parked_rows = await listed(
        client, capsys, f"PO-{run_id}", "po", "list", "--stage", "NeedsAttention", count=1
    )
    assert [r["document_id"] for r in parked_rows] == [f"PO-{run_id}-1"]

    refunds = await listed(client, capsys, f"RF-{run_id}", "refunds", "list", count=1)
    assert refunds[0]["order_id"] == f"ORD-{run_id}"
    # A refund carries its order's BngOrderId, but it is not an order.
    await client.start_workflow(
        "DocumentCliStandIn",
        {"document_id": f"ORD-{run_id}", "stage": "Received", "timeline": []},
        id=f"order-ORD-{run_id}",
        task_queue=TASK_QUEUE,
        search_attributes=TypedSearchAttributes([SearchAttributePair(sa.BNG_ORDER_ID, f"ORD-{run_id}")]),
    )
    assert orders_list_query(None) == "BngOrderId IS NOT NULL AND DocumentType IS NULL"
    orders = await listed(client, capsys, f"ORD-{run_id}", "orders", "list", count=1)
    assert [row["workflow_id"] for row in orders] == [f"order-ORD-{run_id}"]

    code, table = await run(client, capsys, "po", "list", "--stage", "NeedsAttention")
    assert code == 0 and "Purchase order" in table and "M3 PUNO" in table


async def test_show_and_the_operator_updates(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    invoice = f"SI-{uuid.uuid4().hex[:8]}"
    await start(client, "invoices", invoice, PARKED_VIEW)

    code, out = await run(client, capsys, "invoices", "show", invoice, "--json")
    assert code == 0
    view = json.loads(out)
    assert (view["document_id"], view["stage"], view["m3_number"]) == (invoice, "NeedsAttention", "5000123")
    assert view["attention"]["suggestions"][0]["id"] == "accept-variance"

    code, out = await run(client, capsys, "invoices", "show", invoice)
    assert code == 0 and f"supplier invoice {invoice}" in out and "accept-variance" in out

    code, out = await run(client, capsys, "invoices", "accept", invoice, "--suggestion", "nope")
    assert code == 1 and "refused" in out and "no suggestion 'nope'" in out

    code, out = await run(
        client, capsys, "invoices", "accept", invoice, "--suggestion", "accept-variance", "--json"
    )
    assert code == 0
    view = json.loads(out)
    assert view["stage"] == "Matched" and view["attention"] is None
    assert view["timeline"][-1]["detail"] == "accepted accept-variance"

    code, out = await run(client, capsys, "invoices", "resume", invoice)
    assert code == 1 and "that needs NeedsAttention" in out

    code, out = await run(client, capsys, "invoices", "cancel", invoice, "--reason", "duplicate")
    assert code == 0 and "stage Cancelled" in out


async def test_fix_sends_the_payload_file(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    po = f"PO-{uuid.uuid4().hex[:8]}"
    await start(client, "po", po, {**PARKED_VIEW, "document_type": "purchase_order"})
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({"VendorID": "V-9"}))
    code, out = await run(
        client, capsys, "po", "fix", po, "--payload", str(fixed), "--reason", "typo", "--json"
    )
    assert code == 0
    view = json.loads(out)
    assert (view["stage"], view["details"]["VendorID"]) == ("Validated", "V-9")

    code, out = await run(client, capsys, "po", "fix", po, "--payload", str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json" in out


async def test_an_unknown_document_is_reported_not_raised(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await run(client, capsys, "journals", "show", f"JE-none-{uuid.uuid4().hex[:8]}")
    assert code == 1 and "journal-JE-none-" in out
