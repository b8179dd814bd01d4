"""The demo's procure-to-pay segment: purchase orders, goods receipts, supplier invoices, a journal.

The demo plays BNG's buyer, warehouse and accounts-payable clerk, through BNG's API only: it
raises demo POs, receives every line in full in BNG's WMS once M3 has the PO, posts one supplier
invoice per received PO (one of them 3 % over the PO price on one line, so that it parks for the
three-way match) and one GL journal. Everything in between is m3bng reacting to BNG webhooks and
M3 BODs. The one thing the demo does in Temporal is the operator's: it accepts the price
difference m3bng suggests for the parked invoice, with the workflow's ``accept_suggestion`` update
(what ``m3bng invoices accept ID --suggestion accept_price_difference`` does).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from clients.bng.client import BngClient
from clients.bng.errors import BngError
from clients.bng.models import (
    GoodsReceipt,
    GoodsReceiptLine,
    Journal,
    JournalLine,
    PurchaseOrder,
    SupplierInvoice,
    SupplierInvoiceLine,
)
from mapping.finance import load_match_tolerances
from sandbox.bng.demo_data import make_demo_purchase_orders
from starter.stack import TEMPORAL_UI_PORT
from workflows.document_workflow import DocumentWorkflow
from workflows.documents import DocumentStage, DocumentType, DocumentView, document_workflow_id
from workflows.models import AcceptSuggestion

PO = DocumentType.PURCHASE_ORDER
INVOICE = DocumentType.SUPPLIER_INVOICE
JOURNAL = DocumentType.JOURNAL

# Where each document of the demo is done.
DONE = {PO: DocumentStage.CLOSED, INVOICE: DocumentStage.POSTED, JOURNAL: DocumentStage.POSTED}
# Stages nothing more happens in without an operator (or at all).
STOPPED = {DocumentStage.CANCELLED, DocumentStage.REJECTED}
STAGE_STYLE = {
    DocumentStage.CLOSED: "bold green",
    DocumentStage.POSTED: "bold green",
    DocumentStage.NEEDS_ATTENTION: "bold red",
    DocumentStage.REJECTED: "bold red",
    DocumentStage.CANCELLED: "dim",
}
TYPE_LABEL = {PO: "purchase order", INVOICE: "supplier invoice", JOURNAL: "GL journal"}
CLI_NOUN = {PO: "po", INVOICE: "invoices", JOURNAL: "journals"}
M3_LABEL = {PO: "M3 PO", INVOICE: "M3 invoice batch", JOURNAL: "GLS840MI KEY1"}

FIRST_PO_NUMBER = 40001
FIRST_JOURNAL_NUMBER = 50001
# The one invoice line the supplier prices above the PO: beyond the price tolerance of
# mapping/maps/match_tolerances.yaml (2 %), within what an operator may accept (10 %, 100.00).
PRICE_RISE = Decimal("0.03")
ACCEPTED = "accept_price_difference"
VAT = {"EUR": Decimal("0.19")}  # the German vendor charges VAT; the Taiwanese one does not
CENT = Decimal("0.01")
UPDATE_ATTEMPTS = 3


@dataclass
class Document:
    """One BNG document of the demo and what m3bng's workflow last said about it."""

    kind: DocumentType
    bng_id: str
    sent: bool = False  # created in BNG (an invoice is sent once its PO is received)
    failed: str | None = None  # BNG refused it: why
    view: DocumentView | None = None

    @property
    def workflow_id(self) -> str:
        return document_workflow_id(self.kind, self.bng_id)

    @property
    def done(self) -> bool:
        return self.view is not None and self.view.stage == DONE[self.kind]

    @property
    def finished(self) -> bool:
        """Done, refused or stopped for good: its view need not be read again."""
        return self.done or self.failed is not None or (self.view is not None and self.view.stage in STOPPED)


@dataclass
class P2PPlan:
    """What the demo's buyer, warehouse and AP clerk will send to BNG."""

    purchase_orders: list[PurchaseOrder]
    invoice_ids: dict[str, str]  # PurchaseOrderID -> SupplierInvoiceID
    price_rise: tuple[str, int]  # the PO and line the supplier invoices above the PO price
    journal: Journal
    invoice_tag: str  # makes the suppliers' invoice numbers unique per run


@dataclass
class P2POutcome:
    documents: dict[str, Document]  # by workflow id
    seconds: float
    accepted: dict[str, str] = field(default_factory=dict)  # invoice id -> the suggestion's summary
    plan: P2PPlan | None = None

    @property
    def complete(self) -> bool:
        return bool(self.documents) and all(document.done for document in self.documents.values())

    def of(self, kind: DocumentType) -> list[Document]:
        return [document for document in self.documents.values() if document.kind == kind]


# ------------------------------------------------------------------------------------------ plan


def _next_number(ids: list[str], prefix: str, first: int) -> int:
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)$")
    numbers = [int(match.group(1)) for match in map(pattern.match, ids) if match]
    return max([first - 1, *numbers]) + 1


def _price_rise_line(orders: list[PurchaseOrder]) -> tuple[str, int] | None:
    """The cheapest PO line whose 3 % rise is beyond the price tolerance and within what an
    operator may accept in one action (percent and amount, after rounding), if any."""
    tolerances = load_match_tolerances()
    tolerance, limit = tolerances.default.price, tolerances.accept_limit
    fitting = []
    for po in orders:
        for line in po.Lines:
            difference = _risen(line.UnitPrice) - line.UnitPrice
            percent = 100 * difference / line.UnitPrice if line.UnitPrice else Decimal(0)
            amount = difference * line.Quantity
            if tolerance.percent < percent <= limit.percent and amount <= limit.amount * Decimal("0.9"):
                fitting.append((line.Quantity * line.UnitPrice, po.PurchaseOrderID, line.LineNumber))
    return min(fitting)[1:] if fitting else None


def _risen(price: Decimal) -> Decimal:
    return (price * (1 + PRICE_RISE)).quantize(CENT)


async def plan_p2p(bng: BngClient, count: int, *, today: datetime | None = None) -> P2PPlan:
    """``count`` demo POs numbered past BNG's, their invoice ids, and today's accrual journal."""
    today = today or datetime.now(UTC)
    po_ids = [po.PurchaseOrderID async for po in bng.iter_purchase_orders()]
    first_po = _next_number(po_ids, "PO-", FIRST_PO_NUMBER)
    # Some seed gives a line cheap enough for the price rise to be acceptable in one action.
    seed = int(today.timestamp())
    while True:
        orders = make_demo_purchase_orders(count, seed=seed, start_number=first_po)
        rise = _price_rise_line(orders)
        if rise is not None:
            break
        seed += 1
    journal_ids = [journal.JournalID async for journal in bng.iter_journals()]
    journal_number = _next_number(journal_ids, "JE-", FIRST_JOURNAL_NUMBER)
    return P2PPlan(
        purchase_orders=orders,
        invoice_ids={po.PurchaseOrderID: f"SI-{po.PurchaseOrderID.removeprefix('PO-')}" for po in orders},
        price_rise=rise,
        journal=accrual_journal(f"JE-{journal_number}", today),
        invoice_tag=f"{seed % 100000:05d}",
    )


def accrual_journal(journal_id: str, today: datetime) -> Journal:
    """Office costs of the month not yet invoiced: debit OFFICE (6110) cost centre 100, credit AP (2440)."""
    amount = Decimal("450.00")
    return Journal(
        JournalID=journal_id,
        JournalDate=today.date(),
        Description=f"Accrual office services {today:%B %Y}",
        Lines=[
            JournalLine(
                LineNumber=1,
                Account="OFFICE",
                CostCenter="100",
                Debit=amount,
                Currency="EUR",
                Description="Cleaning and facility services",
            ),
            JournalLine(
                LineNumber=2, Account="AP", Credit=amount, Currency="EUR", Description="Accrued payables"
            ),
        ],
    )


def receipt_in_full(po: PurchaseOrder, today: datetime) -> GoodsReceipt:
    number = po.PurchaseOrderID.removeprefix("PO-")
    return GoodsReceipt(
        ReceiptID=f"GR-{number}",
        PurchaseOrderID=po.PurchaseOrderID,
        Warehouse=po.Warehouse,
        ReceivedAt=today,
        DeliveryNote=f"DN-{number}",
        Lines=[
            GoodsReceiptLine(LineNumber=line.LineNumber, SKU=line.SKU, Quantity=line.Quantity)
            for line in po.Lines
            if not line.Cancelled
        ],
    )


def supplier_invoice(plan: P2PPlan, po: PurchaseOrder, today: datetime) -> SupplierInvoice:
    """The vendor's invoice for everything received, at the PO price except the planned rise."""
    lines = []
    for number, line in enumerate((line for line in po.Lines if not line.Cancelled), start=1):
        risen = plan.price_rise == (po.PurchaseOrderID, line.LineNumber)
        lines.append(
            SupplierInvoiceLine(
                LineNumber=number,
                PurchaseOrderID=po.PurchaseOrderID,
                PurchaseOrderLine=line.LineNumber,
                SKU=line.SKU,
                Quantity=line.Quantity,
                UnitPrice=_risen(line.UnitPrice) if risen else line.UnitPrice,
            )
        )
    net = sum((line.Quantity * line.UnitPrice for line in lines), Decimal(0)).quantize(CENT)
    tax = (net * VAT.get(po.Currency, Decimal(0))).quantize(CENT)
    invoice_id = plan.invoice_ids[po.PurchaseOrderID]
    return SupplierInvoice(
        SupplierInvoiceID=invoice_id,
        VendorID=po.VendorID,
        InvoiceNumber=f"INV-{po.PurchaseOrderID.removeprefix('PO-')}-{plan.invoice_tag}",
        InvoiceDate=today.date(),
        DueDate=(today + timedelta(days=30)).date(),
        Currency=po.Currency,
        NetAmount=net,
        TaxAmount=tax,
        TotalAmount=net + tax,
        Lines=lines,
    )


# ------------------------------------------------------------------------------------------ run


class P2PDemo:
    """Sends the plan to BNG as the documents get there, and plays the operator once."""

    def __init__(self, client: Client, bng: BngClient, plan: P2PPlan, console: Console) -> None:
        self.client, self.bng, self.plan, self.console = client, bng, plan, console
        self.today = datetime.now(UTC)
        self.pos = {po.PurchaseOrderID: po for po in plan.purchase_orders}
        docs = [Document(PO, po_id) for po_id in self.pos]
        docs += [Document(INVOICE, invoice_id) for invoice_id in plan.invoice_ids.values()]
        docs.append(Document(JOURNAL, plan.journal.JournalID))
        self.documents = {doc.workflow_id: doc for doc in docs}
        self.received: set[str] = set()
        self.accepted: dict[str, str] = {}
        self.accept_attempts = 0
        self.accepted_park: datetime | None = None  # when the park the operator decided began

    def doc(self, kind: DocumentType, bng_id: str) -> Document:
        return self.documents[document_workflow_id(kind, bng_id)]

    async def start(self) -> None:
        for po in self.plan.purchase_orders:
            await self._send(
                self.doc(PO, po.PurchaseOrderID),
                self.bng.create_purchase_order(po, idempotency_key=f"demo-{po.PurchaseOrderID}"),
            )
        journal = self.plan.journal
        await self._send(
            self.doc(JOURNAL, journal.JournalID),
            self.bng.create_journal(journal, idempotency_key=f"demo-{journal.JournalID}"),
        )

    async def step(self) -> None:
        """One pass: read every unfinished document's view, and act where the demo's people would."""
        for doc in self.documents.values():
            if doc.sent and not doc.finished:
                doc.view = await self._view(doc) or doc.view
        for po_id, po in self.pos.items():
            view = self.doc(PO, po_id).view
            if view is None:
                continue
            if view.stage in (DocumentStage.PLACED, DocumentStage.CONFIRMED) and po_id not in self.received:
                # BNG's WMS: the goods arrive, every line in full.
                receipt = receipt_in_full(po, self.today)
                if await self._send(
                    None,
                    self.bng.create_goods_receipt(
                        po_id, receipt, idempotency_key=f"demo-{receipt.ReceiptID}"
                    ),
                ):
                    self.received.add(po_id)
            invoice = self.doc(INVOICE, self.plan.invoice_ids[po_id])
            if view.stage == DocumentStage.FULLY_RECEIVED and not invoice.sent and invoice.failed is None:
                # Accounts payable: the vendor's invoice for what was received.
                body = supplier_invoice(self.plan, po, self.today)
                await self._send(
                    invoice, self.bng.create_supplier_invoice(body, idempotency_key=f"demo-{invoice.bng_id}")
                )
        await self._accept_price_difference()

    async def _accept_price_difference(self) -> None:
        """The operator: accept m3bng's suggestion for the invoice with the planned price rise."""
        po_id, _ = self.plan.price_rise
        invoice = self.doc(INVOICE, self.plan.invoice_ids[po_id])
        view = invoice.view
        if (
            invoice.bng_id in self.accepted
            or self.accept_attempts >= UPDATE_ATTEMPTS
            or view is None
            or view.stage != DocumentStage.NEEDS_ATTENTION
            or view.attention is None
            or view.attention.kind != "match_mismatch"
        ):
            return
        offered = {suggestion.id: suggestion for suggestion in view.attention.suggestions}
        suggestion = offered.get(ACCEPTED)
        if suggestion is None:
            self.console.print(
                f"[red]{invoice.bng_id}[/] parked without the {ACCEPTED} suggestion "
                f"(offered: {', '.join(offered) or 'none'}): {escape(view.attention.summary)}"
            )
            self.accept_attempts = UPDATE_ATTEMPTS
            return
        self.accept_attempts += 1
        self.console.print(
            f"[bold yellow]Operator[/]: {invoice.bng_id} parked for the three-way match "
            f"({escape(view.attention.summary)})\n"
            f"          accepting [bold]{ACCEPTED}[/]: {escape(suggestion.summary)}"
        )
        handle = self.client.get_workflow_handle(invoice.workflow_id)
        try:
            invoice.view = await handle.execute_update(
                DocumentWorkflow.accept_suggestion,
                AcceptSuggestion(suggestion=ACCEPTED, reason="demo operator: the buyer agreed the price"),
            )
        except (WorkflowUpdateFailedError, RPCError) as error:
            self.console.print(
                f"[red]accepting the suggestion for {invoice.bng_id} failed[/]: {escape(str(error))}"
            )
            return
        self.accepted[invoice.bng_id] = suggestion.summary
        self.accepted_park = view.attention.since

    async def _send(self, doc: Document | None, call: Awaitable[Any]) -> bool:
        try:
            await call
        except BngError as error:
            what = doc.bng_id if doc else "a goods receipt"
            self.console.print(f"[red]BNG refused {what}[/]: {escape(str(error))}")
            if doc is not None:
                doc.failed = str(error)
            return False
        if doc is not None:
            doc.sent = True
        return True

    async def _view(self, doc: Document) -> DocumentView | None:
        try:
            return await self.client.get_workflow_handle(doc.workflow_id).query(DocumentWorkflow.status)
        except RPCError:
            return None  # the webhook has not reached m3bng yet

    def settled(self, doc: Document) -> bool:
        """Nothing more will happen to the document without someone else acting."""
        if doc.finished:
            return True
        if not doc.sent:  # an invoice whose PO never got (fully) received
            return doc.kind == INVOICE and self.settled(self.doc(PO, self._po_of(doc.bng_id)))
        view = doc.view
        if view is None or view.stage != DocumentStage.NEEDS_ATTENTION:
            return False
        if doc.kind != INVOICE or self._po_of(doc.bng_id) != self.plan.price_rise[0]:
            return True
        # The planned park: settled only when the operator could not decide it, or parked again.
        if doc.bng_id in self.accepted:
            return view.attention is not None and view.attention.since != self.accepted_park
        return self.accept_attempts >= UPDATE_ATTEMPTS

    def _po_of(self, invoice_id: str) -> str:
        return next(po_id for po_id, bng_id in self.plan.invoice_ids.items() if bng_id == invoice_id)

    def all_settled(self) -> bool:
        return all(self.settled(doc) for doc in self.documents.values())


async def run_p2p(client: Client, bng: BngClient, count: int, timeout: float, console: Console) -> P2POutcome:
    """The segment: plan, send the POs and the journal, then follow and act until done or timeout."""
    plan = await plan_p2p(bng, count)
    demo = P2PDemo(client, bng, plan, console)
    started = time.monotonic()
    await demo.start()
    po_ids = ", ".join(po.PurchaseOrderID for po in plan.purchase_orders)
    console.print()
    console.print(
        f"Raised {len(plan.purchase_orders)} purchase orders in BNG ({po_ids}) and journal "
        f"{plan.journal.JournalID}; following them through M3…"
    )
    with Live(_table(demo.documents, 0), console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < timeout:
            await demo.step()
            live.update(_table(demo.documents, time.monotonic() - started))
            if demo.all_settled():
                break
            await asyncio.sleep(0.5)
    return P2POutcome(
        documents=demo.documents, seconds=time.monotonic() - started, accepted=demo.accepted, plan=plan
    )


# ------------------------------------------------------------------------------------------ show


def _table(documents: dict[str, Document], elapsed: float) -> Table:
    table = Table(title=f"m3bng procure-to-pay and finance — live ({elapsed:4.0f}s)", expand=False)
    for column in ("BNG document", "Type", "Stage", "M3 number", "Last step"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for doc in documents.values():
        label = TYPE_LABEL[doc.kind]
        if doc.failed is not None:
            table.add_row(doc.bng_id, label, "[bold red]refused by BNG[/]", "", escape(doc.failed)[:60])
            continue
        if doc.view is None:
            table.add_row(
                doc.bng_id, label, "waiting for webhook" if doc.sent else "[dim]not sent yet[/]", "", ""
            )
            continue
        last = doc.view.timeline[-1] if doc.view.timeline else None
        style = STAGE_STYLE.get(doc.view.stage, "cyan")
        table.add_row(
            doc.bng_id,
            label,
            f"[{style}]{doc.view.stage.value}[/]",
            doc.view.m3_number or "",
            escape(f"{last.step}: {last.detail}")[:60] if last else "",
        )
    return table


def temporal_ui_link(document_type: DocumentType = PO) -> str:
    query = quote(f'DocumentType="{document_type.value}"')
    return f"http://localhost:{TEMPORAL_UI_PORT}/namespaces/default/workflows?query={query}"


def print_p2p_summary(console: Console, outcome: P2POutcome) -> None:
    console.print()
    done = sum(doc.done for doc in outcome.documents.values())
    state = "[bold green]complete[/]" if outcome.complete else "[bold red]not complete[/]"
    console.print(
        f"[bold]Procure-to-pay and finance in {outcome.seconds:.1f}s:[/] {state}, "
        f"{done} of {len(outcome.documents)} documents done"
    )
    for doc in outcome.documents.values():
        view = doc.view
        stage = "refused by BNG" if doc.failed else (view.stage.value if view else "not started")
        m3 = f"{M3_LABEL[doc.kind]} {view.m3_number}" if view and view.m3_number else ""
        style = "green" if doc.done else "red"
        console.print(f"  {TYPE_LABEL[doc.kind]:<16} {doc.bng_id:<10} [{style}]{stage:<16}[/] {m3}")
        notes = []
        if doc.kind == JOURNAL and view and view.stage == DocumentStage.POSTED:
            notes += [entry.detail for entry in view.timeline if entry.step == DocumentStage.POSTED.value][
                -1:
            ]
        if doc.bng_id in outcome.accepted:
            notes.append(f"price difference accepted by the operator: {outcome.accepted[doc.bng_id]}")
        if view and view.attention:
            notes.append(f"parked: {view.attention.summary}")
        if doc.failed:
            notes.append(doc.failed)
        for note in notes:
            console.print(f"    {escape(note)}")
    examples = {kind: next((doc.bng_id for doc in outcome.of(kind)), None) for kind in (PO, INVOICE, JOURNAL)}
    if outcome.plan is not None:  # the PO and invoice with a story
        po_id = outcome.plan.price_rise[0]
        examples[PO], examples[INVOICE] = po_id, outcome.plan.invoice_ids[po_id]
    for kind, bng_id in examples.items():
        if bng_id:
            console.print(f"Look closer: m3bng {CLI_NOUN[kind]} show {bng_id}")
    console.print(f"Temporal UI: {temporal_ui_link(PO)}")
    console.print(
        '             (or DocumentType="supplier_invoice", "journal"; DocumentStage="NeedsAttention")'
    )
