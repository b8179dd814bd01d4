"""MI transaction handlers; importing this package registers them all in HANDLERS."""

from sandbox.m3.transactions import ars, crs610, delivery_invoice, mms200, ois100_batch, ois100_orders
from sandbox.m3.transactions.base import HANDLERS, Context, Handler, Record, Row

__all__ = [
    "HANDLERS",
    "Context",
    "Handler",
    "Record",
    "Row",
    "ars",
    "crs610",
    "delivery_invoice",
    "mms200",
    "ois100_batch",
    "ois100_orders",
]
