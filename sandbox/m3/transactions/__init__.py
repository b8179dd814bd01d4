"""MI transaction handlers; importing this package registers them all in HANDLERS."""

from sandbox.m3.transactions import (
    aps450,
    ars,
    crs610,
    crs620,
    delivery_invoice,
    gls840,
    mhs850,
    mms060,
    mms200,
    mms850,
    ois100_batch,
    ois100_orders,
    pps200,
    pps370,
    settings_tables,
)
from sandbox.m3.transactions.base import HANDLERS, Context, Handler, Record, Row

__all__ = [
    "HANDLERS",
    "Context",
    "Handler",
    "Record",
    "Row",
    "aps450",
    "ars",
    "crs610",
    "crs620",
    "delivery_invoice",
    "gls840",
    "mhs850",
    "mms060",
    "mms200",
    "mms850",
    "ois100_batch",
    "ois100_orders",
    "pps200",
    "pps370",
    "settings_tables",
]
