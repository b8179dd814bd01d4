"""The cross-reference store: which BNG record is which M3 record, and which events were seen."""

from storage.db import create_schema, make_engine, make_session_factory
from storage.models import CustomerXref, EventSource, OrderXref, ReceivedEvent
from storage.xref import (
    XrefConflictError,
    find_customer,
    find_customer_by_cuno,
    find_order_by_bng,
    find_order_by_m3,
    link_customer,
    link_order,
    record_event,
)

__all__ = [
    "CustomerXref",
    "EventSource",
    "OrderXref",
    "ReceivedEvent",
    "XrefConflictError",
    "create_schema",
    "find_customer",
    "find_customer_by_cuno",
    "find_order_by_bng",
    "find_order_by_m3",
    "link_customer",
    "link_order",
    "make_engine",
    "make_session_factory",
    "record_event",
]
