"""Validate BNG purchase orders and supplier invoices and map them to M3 input (declared maps)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import activity

from activities.connections import Connections
from activities.heartbeat import auto_heartbeat
from activities.models import FieldIssue
from activities.transform_order import LOOKUPS, mapping_issues, schema_issues
from clients.bng.models import PurchaseOrder, SupplierInvoice
from mapping.engine import apply_mapping
from mapping.loader import load_lookups, load_mapping, map_version

PURCHASE_ORDER_MAP = "purchase_order.bng_to_m3"
SUPPLIER_INVOICE_MAP = "supplier_invoice.bng_to_m3"


class TransformInput(BaseModel):
    payload: dict[str, Any]


class TransformedPurchaseOrder(BaseModel):
    purchase_order: PurchaseOrder | None = None
    head: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    issues: list[FieldIssue] = []
    # "purchase_order.bng_to_m3@1.0.0 lookups@1.0.0", for the PO's timeline.
    map_version: str = ""


class TransformedSupplierInvoice(BaseModel):
    invoice: SupplierInvoice | None = None
    head: dict[str, str] = {}
    lines: list[dict[str, str]] = []
    issues: list[FieldIssue] = []
    # "supplier_invoice.bng_to_m3@1.0.0 lookups@1.0.0", for the invoice's timeline.
    map_version: str = ""


class PurchasingTransforms:
    def __init__(self, connections: Connections) -> None:
        self._settings = connections.settings

    @activity.defn
    @auto_heartbeat
    async def transform_purchase_order(self, data: TransformInput) -> TransformedPurchaseOrder:
        try:
            purchase_order = PurchaseOrder.model_validate(data.payload)
        except ValidationError as error:
            return TransformedPurchaseOrder(
                issues=schema_issues(error), map_version=map_version(PURCHASE_ORDER_MAP, LOOKUPS)
            )
        result = apply_mapping(
            load_mapping(PURCHASE_ORDER_MAP),
            purchase_order.model_dump(mode="json"),
            context={"ORTY": self._settings.m3_po_order_type},
            lookups=load_lookups(),
        )
        return TransformedPurchaseOrder(
            purchase_order=purchase_order,
            head=result.values,
            lines=result.lines,
            issues=mapping_issues(result.errors),
            map_version=map_version(PURCHASE_ORDER_MAP, LOOKUPS),
        )

    @activity.defn
    @auto_heartbeat
    async def transform_supplier_invoice(self, data: TransformInput) -> TransformedSupplierInvoice:
        try:
            invoice = SupplierInvoice.model_validate(data.payload)
        except ValidationError as error:
            return TransformedSupplierInvoice(
                issues=schema_issues(error), map_version=map_version(SUPPLIER_INVOICE_MAP, LOOKUPS)
            )
        result = apply_mapping(
            load_mapping(SUPPLIER_INVOICE_MAP),
            invoice.model_dump(mode="json"),
            context={"DIVI": self._settings.m3_divi},
            lookups=load_lookups(),
        )
        return TransformedSupplierInvoice(
            invoice=invoice,
            head=result.values,
            lines=result.lines,
            issues=mapping_issues(result.errors),
            map_version=map_version(SUPPLIER_INVOICE_MAP, LOOKUPS),
        )
