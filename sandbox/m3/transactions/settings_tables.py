"""Read-only settings tables: the division (MNS100MI), customer and purchase order types
(OIS010MI, PPS095MI). ``m3bng doctor`` reads them to check its configuration before go-live.

Real transactions (M3H5 catalogue): MNS100MI/GetBasicData (optional CONO, DIVI) returns the
division's basic data; OIS010MI/LstOrderTypes (optional CONO, ORTP, ORTK, WODP) and
PPS095MI/LstOrderType (optional ORTY, POTC) list the types. The order type inputs are read as
start keys (inclusive), the way MI list transactions position on their key fields [assumed].

The sandbox's tables are fixed: its one company/division (config ``cono``/``divi``, which the
executor already enforces) and the types below, which match m3bng's default settings.
"""

from __future__ import annotations

from sandbox.m3.transactions.base import Context, Record, Row, mi

COMPANY_NAME = "M3BNG sandbox company"
DIVISION_NAME = "Sandbox division"
LOCAL_CURRENCY = "EUR"
# ORTP -> (ORTK, TX40, TX15).
CUSTOMER_ORDER_TYPES = {
    "A01": ("1", "Webshop orders from BNG", "Webshop"),
    "A02": ("1", "Manual orders", "Manual"),
}
# ORTY -> (POTC, TX40, TX15).
PURCHASE_ORDER_TYPES = {
    "100": ("10", "Purchase orders from BNG", "BNG purchase"),
    "200": ("10", "Manual purchase orders", "Manual purchase"),
}


@mi("MNS100MI", "GetBasicData")
def get_division(ctx: Context, record: Record) -> list[Row]:
    return [
        {
            "CONO": ctx.config.cono,
            "DIVI": ctx.config.divi,
            "CONM": COMPANY_NAME,
            "TX15": DIVISION_NAME,
            "LOCD": LOCAL_CURRENCY,
        }
    ]


@mi("OIS010MI", "LstOrderTypes")
def list_order_types(ctx: Context, record: Record) -> list[Row]:
    start, category = record.text("ORTP"), record.text("ORTK")
    rows = [
        {"CONO": ctx.config.cono, "ORTP": ortp, "ORTK": ortk, "TX40": tx40, "TX15": tx15}
        for ortp, (ortk, tx40, tx15) in sorted(CUSTOMER_ORDER_TYPES.items())
        if ortp >= start and (not category or ortk == category)
    ]
    return rows[: ctx.limit]


@mi("PPS095MI", "LstOrderType")
def list_purchase_order_types(ctx: Context, record: Record) -> list[Row]:
    start, category = record.text("ORTY"), record.text("POTC")
    rows = [
        {"ORTY": orty, "POTC": potc, "TX15": tx15, "TX40": tx40}
        for orty, (potc, tx40, tx15) in sorted(PURCHASE_ORDER_TYPES.items())
        if orty >= start and (not category or potc == category)
    ]
    return rows[: ctx.limit]
