"""Every activity the worker serves, bound to one set of connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.client import Client

from activities.bng_orders import BngOrderActivities
from activities.connections import Connections
from activities.m3_customers import M3CustomerActivities
from activities.m3_items import M3ItemActivities
from activities.m3_orders import M3OrderActivities
from activities.m3_payments import M3PaymentActivities
from activities.master_data.reconcile import Reconciler
from activities.master_data.sync import MasterDataActivities
from activities.transform_order import transform_order


def all_activities(connections: Connections, client: Client) -> list[Callable[..., Any]]:
    customers = M3CustomerActivities(connections)
    items = M3ItemActivities(connections)
    orders = M3OrderActivities(connections)
    payments = M3PaymentActivities(connections)
    bng = BngOrderActivities(connections)
    master_data = MasterDataActivities(connections)
    reconciler = Reconciler(connections, client)
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
    ]
