"""The chaos run's reconciliation: what really happened, read from each system's own tables.

m3bng's own view is not trusted here. Orders come from the BNG sandbox's database, M3 orders, batch
orders, invoices and payment batches from the M3 sandbox's database (its OOHEAD, OXHEAD, OINVOH,
FSLEDG and ARS040 tables), the calls from M3's call log, failed and parked workflows from Temporal,
dead letters from the store. Every anomaly keeps its evidence (M3 rows and call-log entries).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from storage import deadletter
from storage.db import make_engine, make_session_factory
from workflows.models import OrderView, Stage, order_workflow_id
from workflows.order_to_cash import OrderToCashWorkflow

FINAL = {Stage.PAID, Stage.CANCELLED, Stage.NEEDS_ATTENTION}
FINAL_VALUES = {stage.value for stage in FINAL}
FAILED_QUERY = 'ExecutionStatus="Failed" OR ExecutionStatus="Terminated" OR ExecutionStatus="TimedOut"'
QUERY_TIMEOUT = timedelta(seconds=20)
# Call-log entries kept as evidence per anomaly: enough to read, not the whole log.
EVIDENCE_CALLS = 40


@dataclass
class Anomaly:
    key: str  # the BNG order id, or the workflow / dead-letter id
    what: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Parked:
    order_id: str
    kind: str | None
    step: str | None
    summary: str | None


@dataclass
class ChaosFigures:
    """Everything the table shows; ``failures`` are the counts that must be zero."""

    orders_placed: int = 0
    orders_in_bng: int = 0
    orders_in_m3: int = 0
    paid_in_m3: int = 0  # invoices of our orders with open amount 0 in FSLEDG
    paid_stage: int = 0
    duplicated: list[Anomaly] = field(default_factory=list)
    lost: list[Anomaly] = field(default_factory=list)
    orphan_batch_orders: list[Anomaly] = field(default_factory=list)
    double_payments: list[Anomaly] = field(default_factory=list)
    failed_workflows: list[Anomaly] = field(default_factory=list)
    parked: list[Parked] = field(default_factory=list)
    unsettled: list[Anomaly] = field(default_factory=list)
    dead_letters: list[Anomaly] = field(default_factory=list)
    parked_sync_records: list[Anomaly] = field(default_factory=list)
    webhooks_given_up: list[Anomaly] = field(default_factory=list)
    weather: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def dead_letter_kinds(self) -> Counter[str]:
        """Dead letters by kind: event type, reason without the order's own id, late or not."""
        kinds: Counter[str] = Counter()
        for letter in self.dead_letters:
            event = letter.what.split(" BNG-")[0].split(":")[0]
            reason = letter.what.split(": ", 1)[-1].split(";")[0]
            for word in reason.split():
                if "BNG-" in word:
                    reason = reason.replace(word, "<order>")
            late = " (late for a finished order)" if letter.evidence.get("late_for_final_order") else ""
            kinds[f"{event}: {reason}{late}"] += 1
        return kinds

    @property
    def parked_without_reason(self) -> list[Parked]:
        return [p for p in self.parked if not p.kind or not p.summary]

    def failures(self) -> dict[str, int]:
        return {
            "duplicated": len(self.duplicated),
            "lost": len(self.lost),
            "orphan_batch_orders": len(self.orphan_batch_orders),
            "double_payments": len(self.double_payments),
            "failed_workflows": len(self.failed_workflows),
            "parked_without_reason": len(self.parked_without_reason),
            "unsettled": len(self.unsettled),
        }

    @property
    def ok(self) -> bool:
        return not any(self.failures().values())


# --- the systems' own tables ----------------------------------------------------------------------


def read_rows(db: Path, sql: str) -> list[dict[str, Any]]:
    # Read-only: the sandboxes may still be running and own their files.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql)]


@dataclass
class M3Tables:
    orders: list[dict[str, Any]]  # OOHEAD
    batch_orders: list[dict[str, Any]]  # OXHEAD
    invoices: list[dict[str, Any]]  # OINVOH
    ledger: list[dict[str, Any]]  # FSLEDG
    payment_batches: list[dict[str, Any]]  # ARS040 heads joined with their lines

    @classmethod
    def read(cls, db: Path) -> M3Tables:
        return cls(
            orders=read_rows(db, "SELECT ORNO, CUOR, CUNO, ORSL, ORST FROM OOHEAD"),
            batch_orders=read_rows(db, "SELECT ORNO, CUOR, CUNO FROM OXHEAD"),
            invoices=read_rows(db, "SELECT IVNO, YEA4, ORNO, CUNO, IVAM FROM OINVOH"),
            ledger=read_rows(db, "SELECT CUNO, CINO, INYR, CUAM, OPAM FROM FSLEDG"),
            payment_batches=read_rows(
                db,
                'SELECT h.PBID, h.posted, l.TRNO, l.CINO, l.INYR, l.CUNO, l.PYAM FROM "ARS040_BATCH_HEAD" h '
                'LEFT JOIN "ARS040_BATCH_LINE" l ON l.PBID = h.PBID',
            ),
        )


@dataclass
class BngTables:
    orders: dict[str, dict[str, Any]]
    payments: dict[str, list[dict[str, Any]]]  # by order id
    webhooks_failed: list[dict[str, Any]]
    deliveries: dict[str, int]

    @classmethod
    def read(cls, db: Path) -> BngTables:
        orders = {
            row["key"]: json.loads(row["body"])
            for row in read_rows(db, "SELECT key, body FROM documents WHERE kind = 'order'")
        }
        payments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in read_rows(db, "SELECT parent, body FROM documents WHERE kind = 'payment'"):
            payments[row["parent"]].append(json.loads(row["body"]))
        failed = read_rows(
            db,
            "SELECT msg_id, event_type, ordering_key, attempts, last_status, last_error "
            "FROM webhook_outbox WHERE failed = 1",
        )
        totals = read_rows(
            db,
            "SELECT COUNT(*) AS messages, COALESCE(SUM(deliveries), 0) AS deliveries, "
            "COALESCE(SUM(attempts), 0) AS attempts FROM webhook_outbox",
        )[0]
        return cls(orders, dict(payments), failed, {k: int(v) for k, v in totals.items()})


# --- reconciliation -------------------------------------------------------------------------------


def _calls_about(calls: Iterable[dict[str, Any]], *values: str) -> list[dict[str, Any]]:
    """Call-log entries whose input record or answer mentions one of ``values`` (CUOR, ORNO, PBID)."""
    wanted = {v for v in values if v}
    found = []
    for call in calls:
        seen = {str(v) for v in (call.get("record") or {}).values()}
        seen |= {str(v) for v in (call.get("response") or {}).values()}
        if seen & wanted:
            found.append(
                {
                    k: call.get(k)
                    for k in ("seq", "at", "api", "transaction", "program", "outcome", "status", "code")
                }
                | {
                    "record": call.get("record"),
                    "response": call.get("response"),
                    "message": call.get("message"),
                }
            )
    return found[:EVIDENCE_CALLS]


async def _view(client: Client, order_id: str) -> tuple[OrderView | None, str | None]:
    """The order workflow's own view and its execution status; (None, None) when there is none."""
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    try:
        description = await handle.describe()
    except RPCError:
        return None, None
    status = description.status.name if description.status else None
    try:
        view = await handle.query(OrderToCashWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
    except Exception:  # a closed workflow whose query cannot run counts as no view
        return None, status
    return view, status


async def _failed_workflows(client: Client) -> list[Anomaly]:
    found = []
    async for execution in client.list_workflows(FAILED_QUERY):
        status = execution.status.name if execution.status else "?"
        message = ""
        try:
            history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
            last = history.events[-1]
            if last.HasField("workflow_execution_failed_event_attributes"):
                message = last.workflow_execution_failed_event_attributes.failure.message
            elif last.HasField("workflow_execution_terminated_event_attributes"):
                message = last.workflow_execution_terminated_event_attributes.reason
            else:
                message = str(last.event_type)
        except RPCError as error:
            message = f"(history unavailable: {error})"
        found.append(
            Anomaly(
                execution.id,
                f"{execution.workflow_type} {status}",
                {"run_id": execution.run_id, "message": message},
            )
        )
    return found


async def _parked_sync_records(client: Client) -> list[Anomaly]:
    from workflows.master_data import EntitySyncWorkflow

    found = []
    async for execution in client.list_workflows('SyncState="NeedsAttention"'):
        if execution.status != WorkflowExecutionStatus.RUNNING:
            continue
        try:
            view = await client.get_workflow_handle(execution.id).query(
                EntitySyncWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
            attention = view.attention
            what = f"{attention.kind}: {attention.summary}" if attention else "parked, no attention recorded"
            evidence = attention.model_dump(mode="json", exclude_none=True) if attention else {}
        except Exception as error:
            what, evidence = f"(status query failed: {error})", {}
        found.append(Anomaly(execution.id, what, evidence))
    return found


def _dead_letters(database_url: str, stages: dict[str, str]) -> tuple[list[Anomaly], str | None]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = deadletter.list_dead_letters(session, limit=10_000)
            letters = []
            for row in rows:
                order_id = (row.business_key or "").removeprefix("order-")
                now = stages.get(order_id)
                explained = f"{row.event_type} ({row.source}) {row.business_key or ''}: {row.reason}"
                late = now in FINAL_VALUES
                if late:
                    # e.g. a status BOD held up in M3's outbox that arrives after the order was paid
                    explained += f"; late for an order that is {now} already: nothing lost"
                elif now:
                    explained += f"; the order is {now}"
                evidence = {"status": row.status, "event_id": row.event_id, "workflow_id": row.workflow_id}
                letters.append(Anomaly(str(row.id), explained, evidence | {"late_for_final_order": late}))
            return letters, None
    except Exception as error:  # an older store without the table: say so, do not fail the run
        return [], f"dead letters unreadable: {error}"
    finally:
        engine.dispose()


async def reconcile(
    *,
    client: Client,
    var: Path,
    database_url: str,
    placed: list[str],
    m3_calls: list[dict[str, Any]],
) -> ChaosFigures:
    m3 = M3Tables.read(var / "m3-sandbox.db")
    bng = BngTables.read(var / "bng-sandbox.db")
    figures = ChaosFigures(orders_placed=len(placed), orders_in_bng=len(bng.orders))
    bng_ids = sorted(set(bng.orders) | set(placed))

    by_cuor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in m3.orders:
        by_cuor[row["CUOR"]].append(row)
    figures.orders_in_m3 = sum(1 for order_id in bng_ids if by_cuor.get(order_id))

    views: dict[str, OrderView | None] = {}
    statuses: dict[str, str | None] = {}
    for order_id in bng_ids:
        views[order_id], statuses[order_id] = await _view(client, order_id)
    stages = {oid: view.stage.value for oid, view in views.items() if view is not None}
    figures.paid_stage = sum(1 for stage in stages.values() if stage == Stage.PAID.value)

    for order_id in bng_ids:
        mine = by_cuor.get(order_id, [])
        view = views[order_id]
        if len(mine) > 1:
            ornos = [row["ORNO"] for row in mine]
            figures.duplicated.append(
                Anomaly(
                    order_id,
                    f"{len(mine)} M3 orders for CUOR {order_id}: {', '.join(ornos)}",
                    {"m3_orders": mine, "calls": _calls_about(m3_calls, order_id, *ornos)},
                )
            )
        if view is not None and view.stage == Stage.NEEDS_ATTENTION:
            attention = view.attention
            figures.parked.append(
                Parked(
                    order_id,
                    attention.kind if attention else None,
                    attention.step if attention else None,
                    attention.summary if attention else None,
                )
            )
        elif view is not None and view.stage not in FINAL:
            figures.unsettled.append(
                Anomaly(
                    order_id,
                    f"still {view.stage.value} ({statuses[order_id]})",
                    {"last_steps": [e.model_dump(mode="json") for e in view.timeline[-5:]]},
                )
            )
        if not mine:
            explained = view is not None and (
                view.stage in (Stage.NEEDS_ATTENTION, Stage.CANCELLED) or statuses[order_id] == "RUNNING"
            )
            if not explained:
                figures.lost.append(
                    Anomaly(
                        order_id,
                        "no M3 order and no workflow"
                        if view is None
                        else f"no M3 order, workflow {statuses[order_id]} at {view.stage.value}",
                        {"bng_status": bng.orders.get(order_id, {}).get("OrderStatus")},
                    )
                )

    ours = set(bng_ids)
    for row in m3.batch_orders:
        if row["CUOR"] in ours or not row["CUOR"]:
            figures.orphan_batch_orders.append(
                Anomaly(
                    row["CUOR"] or "(no CUOR)",
                    f"batch order {row['ORNO']} left in OXHEAD",
                    {"batch_head": row, "calls": _calls_about(m3_calls, row["ORNO"], row["CUOR"])},
                )
            )

    _payments(figures, m3, bng, by_cuor, m3_calls)
    figures.failed_workflows = await _failed_workflows(client)
    figures.parked_sync_records = await _parked_sync_records(client)
    figures.dead_letters, note = _dead_letters(database_url, stages)
    if note:
        figures.notes.append(note)
    figures.webhooks_given_up = [
        Anomaly(row["ordering_key"] or row["msg_id"], f"{row['event_type']} given up", row)
        for row in bng.webhooks_failed
    ]
    figures.weather = _weather(m3_calls, bng)
    return figures


def _payments(
    figures: ChaosFigures,
    m3: M3Tables,
    bng: BngTables,
    by_cuor: dict[str, list[dict[str, Any]]],
    m3_calls: list[dict[str, Any]],
) -> None:
    order_of_orno = {row["ORNO"]: cuor for cuor, rows in by_cuor.items() for row in rows}
    invoice_order = {(str(i["IVNO"]), int(i["YEA4"])): order_of_orno.get(i["ORNO"]) for i in m3.invoices}
    posted: dict[tuple[str, int], set[int]] = defaultdict(set)
    for row in m3.payment_batches:
        if row["posted"] and row["CINO"] is not None:
            posted[(str(row["CINO"]), int(row["INYR"]))].add(int(row["PBID"]))
    for entry in m3.ledger:
        key = (str(entry["CINO"]), int(entry["INYR"]))
        order_id = invoice_order.get(key) or f"invoice {key[0]}"
        opam = Decimal(str(entry["OPAM"]))
        if opam == 0:
            figures.paid_in_m3 += 1
        batches = posted.get(key, set())
        # One BNG payment per order in this run: two posted batches for one invoice pay it twice.
        if opam < 0 or len(batches) > 1:
            figures.double_payments.append(
                Anomaly(
                    order_id,
                    f"invoice {key[0]}/{key[1]}: OPAM {opam} of {entry['CUAM']}, "
                    f"{len(batches)} posted ARS040 batches {sorted(batches)}",
                    {
                        "ledger": entry,
                        "bng_payments": bng.payments.get(order_id, []),
                        "calls": _calls_about(m3_calls, key[0], *(str(b) for b in batches)),
                    },
                )
            )
    for order_id, payments in bng.payments.items():
        if len(payments) > 1:
            figures.notes.append(f"{order_id} has {len(payments)} payments in BNG (the run pays once)")


def _weather(m3_calls: list[dict[str, Any]], bng: BngTables) -> dict[str, int]:
    outcomes = Counter(call["outcome"] for call in m3_calls)
    statuses = Counter(call.get("status") for call in m3_calls if call["outcome"] == "fault")
    return {
        "m3_calls": len(m3_calls),
        "m3_lost_answers": outcomes["lost_answer"],
        "m3_5xx_before_m3": sum(n for status, n in statuses.items() if status and status >= 500),
        "m3_429": statuses[429],
        "m3_nok": outcomes["nok"],
        "bng_webhook_messages": bng.deliveries.get("messages", 0),
        "bng_webhook_deliveries": bng.deliveries.get("deliveries", 0),
        "bng_webhook_attempts": bng.deliveries.get("attempts", 0),
    }


# --- output ---------------------------------------------------------------------------------------


def to_json(figures: ChaosFigures, run: dict[str, Any]) -> str:
    body = {
        **run,
        "ok": figures.ok,
        "failures": figures.failures(),
        "figures": asdict(figures),
        "parked_without_reason": [asdict(p) for p in figures.parked_without_reason],
    }
    return json.dumps(body, indent=2, default=str)


def print_report(console: Console, figures: ChaosFigures, run: dict[str, Any]) -> None:
    table = Table(title="m3bng chaos run: reconciled from BNG, M3, Temporal and the store", expand=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("must be")
    failures = figures.failures()

    def row(name: str, value: object, zero: bool = False) -> None:
        bad = zero and value not in (0, "0")
        shown = f"[bold red]{value}[/]" if bad else (f"[green]{value}[/]" if zero else str(value))
        table.add_row(name, shown, "0" if zero else "")

    row("orders placed in BNG (API calls)", figures.orders_placed)
    row("orders in BNG (its table)", figures.orders_in_bng)
    row("orders in M3 (OOHEAD, by CUOR)", figures.orders_in_m3)
    row("paid: stage Paid / invoice OPAM 0 in M3", f"{figures.paid_stage} / {figures.paid_in_m3}")
    row("duplicated (>1 M3 order per CUOR)", failures["duplicated"], zero=True)
    row("lost (no M3 order, nothing explains it)", failures["lost"], zero=True)
    row("orphan batch orders (OXHEAD)", failures["orphan_batch_orders"], zero=True)
    row("double payments (OPAM<0 or >1 posted batch)", failures["double_payments"], zero=True)
    row("failed / terminated / timed-out workflows", failures["failed_workflows"], zero=True)
    row("parked orders (NeedsAttention)", len(figures.parked))
    row("parked without kind or reason", failures["parked_without_reason"], zero=True)
    row("unsettled at the timeout", failures["unsettled"], zero=True)
    row("dead letters", len(figures.dead_letters))
    row("parked master-data records", len(figures.parked_sync_records))
    row("BNG webhooks given up", len(figures.webhooks_given_up))
    for name, value in figures.weather.items():
        row(f"weather: {name.replace('_', ' ')}", value)
    for name, value in run.get("restarts", {}).items():
        row(f"restarted by the supervisor: {name}", value)
    row("duration (s): stack / load / settle / total", run.get("durations", ""))
    console.print(table)

    violence = Table(title="Violence", expand=False)
    for column in ("t (s)", "killed", "pid", "back after (s)"):
        violence.add_column(column)
    for kill in run.get("kills", []):
        back = kill.get("back_after")
        violence.add_row(
            f"{kill['killed_at']:.1f}" if kill.get("killed_at") is not None else "-",
            kill["target"],
            str(kill.get("pid")),
            f"{back:.1f}" if back is not None else "not back",
        )
    console.print(violence)

    for title, items in (
        ("Duplicated", figures.duplicated),
        ("Lost", figures.lost),
        ("Orphan batch orders", figures.orphan_batch_orders),
        ("Double payments", figures.double_payments),
        ("Failed workflows", figures.failed_workflows),
        ("Unsettled", figures.unsettled),
        ("Parked master-data records", figures.parked_sync_records),
        ("BNG webhooks given up", figures.webhooks_given_up),
    ):
        for item in items[:20]:
            console.print(f"[red]{title}[/] {item.key}: {item.what}")
        if len(items) > 20:
            console.print(f"[red]{title}[/] … and {len(items) - 20} more (see report.json)")
    for kind, count in figures.dead_letter_kinds().most_common():
        console.print(f"[yellow]Dead letters[/] {count} x {kind}")
    for parked in figures.parked:
        console.print(
            f"[yellow]Parked[/] {parked.order_id}: {parked.kind} at {parked.step}: {parked.summary}"
        )
    for note in figures.notes:
        console.print(f"[dim]note:[/] {note}")
