"""What the Temporal UI shows: one line per activity, and a summary per workflow at its start.

An activity's summary names the M3 transaction or the BNG call and the business key, the way the
CLI and the timeline say it: ``OIS100MI/AddBatchHead CUOR BNG-10001``,
``BNG PUT /purchase-orders/PO-1/status Placed``. Every function here is pure: made only from the
step's data, so a workflow calling it stays deterministic (and a summary never changes what replay
compares: it travels as user metadata beside the command).

A workflow's static summary and details are made by the starters from the BNG payload (document id,
customer or vendor, amounts), never from personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from activities.bng_journals import PushJournalStatusInput
    from activities.bng_orders import PushInvoiceInput, PushOrderStatusInput
    from activities.bng_purchasing import PushPurchaseOrderStatusInput, PushSupplierInvoiceStatusInput
    from activities.m3_customers import EnsureCustomerInput
    from activities.m3_items import CheckItemsInput
    from activities.m3_journals import CheckJournalInput, PaymentGlInput, PostJournalInput
    from activities.m3_orders import (
        AddOrderHeadInput,
        AddOrderLinesInput,
        ConfirmOrderInput,
        DeleteBatchOrderInput,
    )
    from activities.m3_payments import PostPaymentInput
    from activities.m3_purchase_orders import ChangePurchaseOrderInput, PlacePurchaseOrderInput
    from activities.m3_receipts import PostReceiptInput
    from activities.m3_supplier_invoices import (
        EnterInvoiceInput,
        FindEarlierInvoiceInput,
        MatchInvoiceInput,
        ResolvePurchaseOrdersInput,
        ValidateInvoiceInput,
    )
    from activities.m3_suppliers import EnsureSupplierInput
    from activities.master_data.reconcile import ReconcilePageInput, RunRecord
    from activities.master_data.sync import ApplyInput, InspectInput
    from activities.transform_order import TransformOrderInput
    from activities.transform_purchasing import TransformInput
    from workflows.documents import DocumentView
    from workflows.models import OrderView

# The UI shows a summary on one line: long lists are cut, the key always comes first.
MAX_SUMMARY = 160
MAX_KEYS = 3


def _short(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _some(keys: Iterable[object]) -> str:
    values = [str(key) for key in keys]
    more = f" +{len(values) - MAX_KEYS}" if len(values) > MAX_KEYS else ""
    return ",".join(values[:MAX_KEYS]) + more


def _amount(value: object, currency: object) -> str:
    return f"{value} {currency or ''}".strip()


# ---------------------------------------------------------------- order to cash


def transform_order(data: TransformOrderInput) -> str:
    return _short(f"map BNG order {data.payload.get('OrderID', '?')} (order.bng_to_m3)")


def ensure_m3_customer(data: EnsureCustomerInput) -> str:
    return _short(f"CRS610MI/GetBasicData|Add BNG customer {data.bng_customer_id}")


def check_m3_items(data: CheckItemsInput) -> str:
    return _short(f"MMS200MI/GetItmBasic ITNO {_some(data.item_numbers)}")


def add_m3_order_head(data: AddOrderHeadInput) -> str:
    return _short(f"OIS100MI/AddBatchHead CUOR {data.bng_order_id} CUNO {data.cuno}")


def add_m3_order_lines(data: AddOrderLinesInput) -> str:
    return _short(f"OIS100MI/AddBatchLine ORNO {data.temporary_order_number} {len(data.lines)} line(s)")


def confirm_m3_order(data: ConfirmOrderInput) -> str:
    return _short(f"OIS100MI/Confirm ORNO {data.temporary_order_number} CUOR {data.bng_order_id}")


def delete_m3_batch_order(data: DeleteBatchOrderInput) -> str:
    return _short(f"OIS100MI/DelBatchHead ORNO {data.temporary_order_number} CUOR {data.cuor}")


def post_payment_to_m3(data: PostPaymentInput) -> str:
    return _short(
        f"ARS040MI payment {data.payment_id} {_amount(data.amount, data.currency)} "
        f"CINO {data.invoice_number} CUNO {data.cuno}"
    )


def post_payment_gl(data: PaymentGlInput) -> str:
    return _short(
        f"GLS840MI clearing journal payment {data.payment_id} {_amount(data.amount, data.currency)} "
        f"order {data.order_id}"
    )


def push_order_status_to_bng(data: PushOrderStatusInput) -> str:
    return _short(f"BNG PATCH /orders/{data.bng_order_id} status {data.status.value}")


def push_invoice_to_bng(data: PushInvoiceInput) -> str:
    invoice = data.invoice
    return _short(
        f"BNG PUT /orders/{data.bng_order_id}/invoice {invoice.InvoiceNumber} "
        f"{_amount(invoice.TotalAmount, invoice.Currency)}"
    )


# ---------------------------------------------------------------- procure to pay


def transform_purchase_order(data: TransformInput) -> str:
    return _short(f"map BNG PO {data.payload.get('PurchaseOrderID', '?')} (purchase_order.bng_to_m3)")


def transform_supplier_invoice(data: TransformInput) -> str:
    return _short(
        f"map BNG supplier invoice {data.payload.get('SupplierInvoiceID', '?')} (supplier_invoice.bng_to_m3)"
    )


def ensure_m3_supplier(data: EnsureSupplierInput) -> str:
    transactions = "GetBasicData|AddSupplier" if data.create else "GetBasicData"
    return _short(f"CRS620MI/{transactions} BNG vendor {data.bng_vendor_id}")


def place_m3_purchase_order(data: PlacePurchaseOrderInput) -> str:
    return _short(
        f"PPS370MI/StartEntry..FinishEntry YRE1 {data.bng_id} SUNO {data.suno} {len(data.lines)} line(s)"
    )


def change_m3_purchase_order(data: ChangePurchaseOrderInput) -> str:
    transactions = [
        name
        for name, wanted in (
            ("UpdHead", data.head),
            ("UpdLine|AddLine", data.lines),
            ("DltLine", data.delete),
        )
        if wanted
    ]
    deleted = f" delete line(s) {_some(data.delete)}" if data.delete else ""
    return _short(f"PPS200MI/{'|'.join(transactions) or 'GetHead'} PUNO {data.puno} ({data.bng_id}){deleted}")


def post_goods_receipt(data: PostReceiptInput) -> str:
    return _short(
        f"MHS850MI/AddWhsHead..PrcWhsTran receipt {data.receipt_id} PUNO {data.puno} "
        f"WHLO {data.whlo} {len(data.lines)} line(s)"
    )


def push_purchase_order_status(data: PushPurchaseOrderStatusInput) -> str:
    return _short(f"BNG PUT /purchase-orders/{data.bng_id}/status {data.status.value}")


def resolve_purchase_orders(data: ResolvePurchaseOrdersInput) -> str:
    return _short(f"store: PUNO of BNG PO {_some(data.bng_po_ids)}")


def find_earlier_supplier_invoice(data: FindEarlierInvoiceInput) -> str:
    return _short(f"APS450MI/LstInvBySupInv SUNO {data.suno} SINO {data.sino} ({data.bng_id})")


def match_supplier_invoice(data: MatchInvoiceInput) -> str:
    punos = sorted({line.PUNO for line in data.invoice.lines if line.PUNO})
    return _short(
        f"PPS200MI/GetLine three-way match SUNO {data.invoice.SUNO or '?'} PUNO {_some(punos)} "
        f"{len(data.invoice.lines)} line(s)"
    )


def enter_supplier_invoice(data: EnterInvoiceInput) -> str:
    return _short(
        f"APS450MI/AddHead+AddLine SUNO {data.suno} SINO {data.sino} ({data.bng_id}) "
        f"{len(data.lines)} line(s)"
    )


def validate_supplier_invoice(data: ValidateInvoiceInput) -> str:
    return _short(f"APS455MI/ValidByBatchNo INBN {data.inbn}")


def push_supplier_invoice_status(data: PushSupplierInvoiceStatusInput) -> str:
    return _short(f"BNG PUT /supplier-invoices/{data.bng_id}/status {data.status.value}")


# ---------------------------------------------------------------- journals and refunds


def check_gl_document(data: CheckJournalInput) -> str:
    key = "RefundID" if data.kind == "refund" else "JournalID"
    revision = f" revision {data.revision}" if data.revision else ""
    return _short(f"check {data.kind} {data.payload.get(key, '?')}{revision} (declared maps)")


def post_gl_journal(data: PostJournalInput) -> str:
    return _short(
        f"GLS840MI/AddBatchHead..UpdBatch KEY1 {data.key1} {data.kind} {data.bng_id} "
        f"{len(data.lines)} line(s)"
    )


def push_journal_status_to_bng(data: PushJournalStatusInput) -> str:
    return _short(f"BNG PUT /journals/{data.bng_id}/status {data.status.value}")


# ---------------------------------------------------------------- master data

# Per entity: M3 read, create, change, list; BNG collection.
_M3_SIDE: dict[str, tuple[str, str, str, str]] = {
    "customer": ("CRS610MI/GetBasicData", "CRS610MI/Add", "CRS610MI/ChgBasicData", "CRS610MI/LstByNumber"),
    "product": (
        "MMS200MI/GetItmBasic",
        "MMS200MI/AddItmBasic",
        "MMS200MI/UpdItmBasic",
        "MMS200MI/LstItmByItm",
    ),
    "supplier": (
        "CRS620MI/GetBasicData",
        "CRS620MI/AddSupplier",
        "CRS620MI/UpdSupplier",
        "CRS620MI/LstByNumber",
    ),
    "inventory": ("MMS200MI/GetItmWhsBal", "-", "MMS850MI/AddAdjust", "MMS060MI/List"),
}
_BNG_COLLECTION = {
    "customer": "customers",
    "product": "products",
    "supplier": "vendors",
    "inventory": "inventory",
}


def _m3(entity: str, which: int) -> str:
    return _M3_SIDE.get(entity, ("M3 read", "M3 add", "M3 change", "M3 list"))[which]


def _bng(entity: str) -> str:
    return _BNG_COLLECTION.get(entity, entity)


def inspect_record(data: InspectInput) -> str:
    m3_key = f" {data.m3_key}" if data.m3_key else ""
    return _short(f"{_m3(data.entity, 0)}{m3_key} + BNG GET /{_bng(data.entity)}/{data.bng_key}")


def create_record(data: ApplyInput) -> str:
    if data.plan.action.value == "create-in-bng":
        return _short(f"BNG POST /{_bng(data.entity)} {data.bng_key} (from M3 {data.m3_key})")
    return _short(f"{_m3(data.entity, 1)} {data.m3_key} (BNG {data.entity} {data.bng_key})")


def apply_plan(data: ApplyInput) -> str:
    calls = []
    if data.plan.to_m3:
        calls.append(f"{_m3(data.entity, 2)} {data.m3_key} {_some(sorted(data.plan.to_m3))}")
    if data.plan.to_bng:
        calls.append(f"BNG PATCH /{_bng(data.entity)}/{data.bng_key} {_some(sorted(data.plan.to_bng))}")
    return _short(" + ".join(calls) or f"record sync state {data.entity} {data.bng_key}")


def reconcile_m3_page(data: ReconcilePageInput) -> str:
    after = f" after {data.after}" if data.after else ""
    return _short(f"{_m3(data.entity, 3)} {data.page_size} {data.entity}(s){after}")


def reconcile_bng_page(data: ReconcilePageInput) -> str:
    cursor = " next page" if data.cursor else ""
    return _short(f"BNG GET /{_bng(data.entity)} {data.page_size} unlinked {data.entity}(s){cursor}")


def record_run(data: RunRecord) -> str:
    if data.run_id is None:
        return _short(f"store: open reconciliation run {data.entity} ({data.trigger})")
    return _short(f"store: close reconciliation run {data.run_id} {data.entity} {data.status}")


# ---------------------------------------------------------------- workflows, at their start


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _lines(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    lines = payload.get("Lines")
    return [line for line in lines if isinstance(line, Mapping)] if isinstance(lines, list) else []


def _line_total(lines: list[Mapping[str, Any]]) -> Decimal | None:
    total = Decimal(0)
    for line in lines:
        quantity, price = _decimal(line.get("Quantity")), _decimal(line.get("UnitPrice"))
        if quantity is None or price is None:
            return None
        total += quantity * price
    return total


def _details(rows: Iterable[tuple[str, object]]) -> str:
    """Markdown the UI renders under the summary: one ``- **name**: value`` item per known value."""
    return "\n".join(f"- **{name}**: {value}" for name, value in rows if value not in (None, "", []))


def order_start(order_id: str, payload: Mapping[str, Any], webhook_id: str | None = None) -> tuple[str, str]:
    """Static summary and details of an order's workflow."""
    lines = _lines(payload)
    currency = payload.get("Currency") or "EUR"
    total = payload.get("TotalAmount")
    if total is None:
        total = _line_total(lines)
    amount = _amount(total, currency) if total is not None else None
    customer = payload.get("CustomerID") or "?"
    summary = f"Order {order_id} · customer {customer} · {len(lines)} line(s)"
    if amount:
        summary += f" · {amount}"
    details = _details(
        [
            ("BNG order", order_id),
            ("Customer", customer),
            ("Store", payload.get("StoreID")),
            ("Order date", payload.get("OrderDate")),
            ("Customer PO", payload.get("CustomerPO")),
            ("Lines", ", ".join(f"{line.get('SKU', '?')} x {line.get('Quantity', '?')}" for line in lines)),
            ("Total", amount),
            ("Webhook", webhook_id),
        ]
    )
    return _short(summary), details


def document_start(
    document_type: str, bng_id: str, payload: Mapping[str, Any], webhook_id: str | None = None
) -> tuple[str, str]:
    """Static summary and details of a PO, supplier invoice, journal or refund workflow."""
    lines = _lines(payload)
    currency = payload.get("Currency")
    rows: list[tuple[str, object]]
    if document_type == "purchase_order":
        total = _line_total(lines)
        amount = _amount(total, currency or "EUR") if total is not None else None
        summary = f"PO {bng_id} · vendor {payload.get('VendorID', '?')} · {len(lines)} line(s)"
        summary += f" · {amount}" if amount else ""
        rows = [
            ("BNG purchase order", bng_id),
            ("Vendor", payload.get("VendorID")),
            ("Warehouse", payload.get("Warehouse")),
            ("Requested delivery", payload.get("RequestedDeliveryDate")),
            ("Lines", ", ".join(f"{line.get('SKU', '?')} x {line.get('Quantity', '?')}" for line in lines)),
            ("Total", amount),
        ]
    elif document_type == "supplier_invoice":
        amount = _amount(payload.get("TotalAmount", "?"), currency)
        pos = sorted({str(line.get("PurchaseOrderID")) for line in lines if line.get("PurchaseOrderID")})
        summary = (
            f"Supplier invoice {bng_id} · vendor {payload.get('VendorID', '?')} · "
            f"no. {payload.get('InvoiceNumber', '?')} · {amount}"
        )
        rows = [
            ("BNG supplier invoice", bng_id),
            ("Vendor", payload.get("VendorID")),
            ("Invoice number (SINO)", payload.get("InvoiceNumber")),
            ("Invoice date", payload.get("InvoiceDate")),
            ("Net / tax / total", f"{payload.get('NetAmount')} / {payload.get('TaxAmount', 0)} / {amount}"),
            ("Purchase orders", ", ".join(pos)),
        ]
    elif document_type == "journal":
        debits: dict[str, Decimal] = {}
        for line in lines:
            debit = _decimal(line.get("Debit", 0)) or Decimal(0)
            line_currency = str(line.get("Currency") or "?")
            debits[line_currency] = debits.get(line_currency, Decimal(0)) + debit
        totals = ", ".join(f"{debit} {cur}" for cur, debit in sorted(debits.items()))
        summary = f"Journal {bng_id} · {payload.get('JournalDate', '?')} · {len(lines)} line(s)"
        summary += f" · debit {totals}" if totals else ""
        rows = [
            ("BNG journal", bng_id),
            ("Date", payload.get("JournalDate")),
            ("Description", payload.get("Description")),
            ("Debit", totals),
        ]
    else:
        amount = _amount(payload.get("Amount", "?"), currency)
        summary = f"Refund {bng_id} · {amount} · order {payload.get('OrderID', '?')}"
        rows = [
            ("BNG refund", bng_id),
            ("Order", payload.get("OrderID")),
            ("Payment", payload.get("PaymentID")),
            ("Amount", amount),
            ("Reason", payload.get("Reason")),
        ]
    rows.append(("Webhook", webhook_id))
    return _short(summary), _details(rows)


def record_start(entity: str, bng_key: str, m3_key: str | None, source: str | None = None) -> tuple[str, str]:
    """Static summary and details of a master-data record's workflow."""
    summary = f"Sync {entity} {bng_key}" + (f" ⇄ M3 {m3_key}" if m3_key else "")
    details = _details(
        [
            ("Entity", entity),
            ("BNG key", bng_key),
            ("M3 key", m3_key),
            ("M3 side", _m3(entity, 0).split("/")[0]),
            ("BNG side", f"/{_bng(entity)}"),
            ("First change from", source),
        ]
    )
    return _short(summary), details


def write_record(data: ApplyInput) -> str:
    """The summary of ``create_record`` or ``apply_plan``, whichever the plan calls for."""
    if data.plan.action.value in ("create-in-m3", "create-in-bng"):
        return create_record(data)
    return apply_plan(data)


# ---------------------------------------------------------------- workflows, while they run


def order_progress(view: OrderView) -> str:
    """The order's current details in the UI: stage, M3 numbers, the last timeline step."""
    rows: list[tuple[str, object]] = [("Stage", view.stage.value)]
    if view.attention is not None:
        rows.append(("Parked", f"{view.attention.kind} at '{view.attention.step}': {view.attention.summary}"))
    rows += [
        ("M3 customer", view.m3_customer_number),
        ("M3 order", view.m3_order_number or view.m3_temporary_order_number),
        ("M3 status", view.m3_status),
        ("Delivery", view.delivery_number),
        (
            "Invoice",
            view.invoice
            and f"{view.invoice.invoice_number} {view.invoice.total_amount} {view.invoice.currency}",
        ),
        ("Payment", view.payment_id),
    ]
    if view.timeline:
        last = view.timeline[-1]
        rows.append(("Last step", _short(f"{last.step}: {last.detail}" if last.detail else last.step)))
    return _details(rows)


def document_progress(view: DocumentView) -> str:
    """A document's current details in the UI: stage, M3 number, the last timeline step."""
    rows: list[tuple[str, object]] = [("Stage", view.stage.value), ("M3 number", view.m3_number)]
    if view.attention is not None:
        rows.append(("Parked", f"{view.attention.kind} at '{view.attention.step}': {view.attention.summary}"))
    if view.timeline:
        last = view.timeline[-1]
        rows.append(("Last step", _short(f"{last.step}: {last.detail}" if last.detail else last.step)))
    return _details(rows)


def record_progress(state: str, m3_key: str | None, last: str | None, attention: str | None) -> str:
    """A master-data record's current details in the UI."""
    return _details([("State", state), ("M3 key", m3_key), ("Parked", attention), ("Last sync", last)])
