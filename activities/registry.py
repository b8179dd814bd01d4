"""Every activity the worker serves, bound to one set of connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from activities.bng_journals import BngJournalActivities
from activities.bng_orders import BngOrderActivities
from activities.bng_purchasing import BngPurchasingActivities
from activities.connections import Connections
from activities.m3_customers import M3CustomerActivities
from activities.m3_items import M3ItemActivities
from activities.m3_journals import M3JournalActivities
from activities.m3_orders import M3OrderActivities
from activities.m3_payments import M3PaymentActivities
from activities.m3_purchase_orders import M3PurchaseOrderActivities
from activities.m3_receipts import M3ReceiptActivities
from activities.m3_supplier_invoices import M3SupplierInvoiceActivities
from activities.m3_suppliers import M3SupplierActivities
from activities.master_data.reconcile import Reconciler
from activities.master_data.sync import MasterDataActivities
from activities.transform_order import transform_order
from activities.transform_purchasing import PurchasingTransforms


def all_activities(connections: Connections, client: Client) -> list[Callable[..., Any]]:
    customers = M3CustomerActivities(connections)
    items = M3ItemActivities(connections)
    orders = M3OrderActivities(connections)
    payments = M3PaymentActivities(connections)
    bng = BngOrderActivities(connections)
    master_data = MasterDataActivities(connections)
    reconciler = Reconciler(connections, client)
    journals = M3JournalActivities(connections)
    bng_journals = BngJournalActivities(connections)
    purchasing = _purchasing_activities(connections)
    return [
        transform_order,
        customers.ensure_m3_customer,
        items.check_m3_items,
        orders.add_m3_order_head,
        orders.add_m3_order_lines,
        orders.confirm_m3_order,
        orders.delete_m3_batch_order,
        payments.post_payment_to_m3,
        bng.push_order_status_to_bng,
        bng.push_invoice_to_bng,
        master_data.inspect_record,
        master_data.create_record,
        master_data.apply_plan,
        reconciler.reconcile_m3_page,
        reconciler.reconcile_bng_page,
        reconciler.record_run,
        journals.check_gl_document,
        journals.post_gl_journal,
        journals.post_payment_gl,
        bng_journals.push_journal_status_to_bng,
        *purchasing,
    ]


def _purchasing_activities(connections: Connections) -> list[Callable[..., Any]]:
    transforms = PurchasingTransforms(connections)
    suppliers = M3SupplierActivities(connections)
    purchase_orders = M3PurchaseOrderActivities(connections)
    receipts = M3ReceiptActivities(connections)
    invoices = M3SupplierInvoiceActivities(connections)
    bng = BngPurchasingActivities(connections)
    return [
        transforms.transform_purchase_order,
        transforms.transform_supplier_invoice,
        suppliers.ensure_m3_supplier,
        purchase_orders.place_m3_purchase_order,
        purchase_orders.change_m3_purchase_order,
        receipts.post_goods_receipt,
        invoices.resolve_purchase_orders,
        invoices.find_earlier_supplier_invoice,
        invoices.match_supplier_invoice,
        invoices.enter_supplier_invoice,
        invoices.validate_supplier_invoice,
        bng.push_purchase_order_status,
        bng.push_supplier_invoice_status,
    ]
