"""MI transaction handlers; importing this package registers them all in HANDLERS."""

from sandbox.m3.transactions import (
    ars,
    crs610,
    crs620,
    delivery_invoice,
    mms060,
    mms200,
    mms850,
    ois100_batch,
    ois100_orders,
)
from sandbox.m3.transactions.base import HANDLERS, Context, Handler, Record, Row

__all__ = [
    "HANDLERS",
    "Context",
    "Handler",
    "Record",
    "Row",
    "ars",
    "crs610",
    "crs620",
    "delivery_invoice",
    "mms060",
    "mms200",
    "mms850",
    "ois100_batch",
    "ois100_orders",
]
