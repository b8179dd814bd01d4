"""Seed data. The base (template customer, warehouses) is always there; the demo set matches what
the BNG sandbox seeds on its side, so keep the two in step."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import Balance, Customer, Item, Warehouse

TEMPLATE_CUSTOMER = "TEMPLATE"
# 300 is the warehouse BNG runs as its WMS (settings.m3_inventory_warehouses).
WAREHOUSES = {
    "100": ("Main warehouse", "100"),
    "200": ("Second warehouse", "200"),
    "300": ("BNG WMS warehouse", "100"),
}
DEMO_STOCK = Decimal(500)

# (CUNO, CUNM, CUA1, TOWN, PONO, CSCD, CUCD, STAT)
DEMO_CUSTOMERS = [
    ("C000000001", "Velo Shop Berlin", "Torstrasse 101", "Berlin", "10119", "DE", "EUR", "20"),
    ("C000000002", "Pedal Partners Ltd", "12 Cycle Lane", "London", "N1 7AA", "GB", "GBP", "20"),
    ("C000000003", "Blocked Bikes GmbH", "Sperrweg 9", "Hamburg", "20095", "DE", "EUR", "90"),
]

# (ITNO, ITDS, ITCL, list price SAPR)
DEMO_ITEMS = [
    ("BIKE-RED-26", "City bike red 26in", "B10", "749.00"),
    ("BIKE-BLU-28", "Touring bike blue 28in", "B10", "899.00"),
    ("HELMET-M", "Helmet size M", "A20", "59.90"),
    ("HELMET-L", "Helmet size L", "A20", "59.90"),
    ("LOCK-U", "U-lock", "A20", "34.50"),
    ("LIGHT-SET", "LED light set", "A20", "24.90"),
    ("TYRE-28", "Tyre 28x1.75", "P30", "19.90"),
    ("TUBE-28", "Inner tube 28in", "P30", "6.50"),
    ("CHAIN-9S", "Chain 9-speed", "P30", "22.00"),
    ("PUMP-FLOOR", "Floor pump", "T40", "39.00"),
    ("TOOLKIT-16", "Multi tool 16 functions", "T40", "27.50"),
    ("GLOVES-L", "Gloves size L", "C50", "19.00"),
]
# In M3 but blocked (STAT 90): ordering it is NOK. SCOOTER-X is deliberately absent altogether.
BLOCKED_ITEM = ("BIKE-OLD-24", "City bike 24in (discontinued)", "B10", "499.00")
# Active in M3 but stocked in no warehouse: GetItmBasic is fine, AddBatchLine is NOK.
UNSTOCKED_ITEM = ("TRAILER-KID", "Child trailer", "A20", "199.00")


def seed_base(session: Session, config: M3SandboxConfig, today: date | None = None) -> None:
    """What every tenant needs: the customer template CRS610MI/Add copies, and the warehouses."""
    today = today or date.today()
    for whlo, (name, faci) in WAREHOUSES.items():
        session.merge(Warehouse(WHLO=whlo, WHNM=name, FACI=faci))
    session.merge(
        Customer(
            CUNO=TEMPLATE_CUSTOMER,
            CUNM="Customer template",
            CUA1="",
            CSCD="DE",
            CUCD="EUR",
            LNCD="GB",
            STAT="20",
            ORTP="A01",
            WHLO="100",
            TEPY="30",
            MODL="STD",
            TEDL="DAP",
            RGDT=today,
            LMDT=today,
        ),
    )


def seed_demo(session: Session, config: M3SandboxConfig, today: date | None = None) -> None:
    """The demo customers, items and balances (idempotent: rows are merged, not duplicated)."""
    today = today or date.today()
    seed_base(session, config, today)
    for cuno, cunm, cua1, town, pono, cscd, cucd, stat in DEMO_CUSTOMERS:
        session.merge(
            Customer(
                CUNO=cuno,
                CUNM=cunm,
                CUA1=cua1,
                TOWN=town,
                PONO=pono,
                CSCD=cscd,
                CUCD=cucd,
                LNCD="DE" if cscd == "DE" else "GB",
                STAT=stat,
                ORTP="A01",
                WHLO="100",
                TEPY="30",
                MODL="STD",
                TEDL="DAP",
                RGDT=today,
                LMDT=today,
            ),
        )
    items = [(*i, "20") for i in DEMO_ITEMS] + [(*BLOCKED_ITEM, "90"), (*UNSTOCKED_ITEM, "20")]
    for itno, itds, itcl, price, stat in items:
        session.merge(
            Item(
                ITNO=itno,
                ITDS=itds,
                ITCL=itcl,
                STAT=stat,
                UNMS="EA",
                ITTY="FIN",
                RESP="SANDBOX",
                PRVG="STD",
                MABU=2,
                SAPR=Decimal(price),
                LMDT=today,
            ),
        )
        for whlo in WAREHOUSES if itno != UNSTOCKED_ITEM[0] else ():
            session.merge(Balance(WHLO=whlo, ITNO=itno, STQT=DEMO_STOCK, ALQT=Decimal(0), PLQT=Decimal(0)))
