"""The cross-reference store: which BNG record is which M3 record, and what was last synced."""

from storage.db import make_engine, make_session_factory, upgrade_schema
from storage.models import EntityLink, EventSource, OrderXref, ReceivedEvent, RunStatus, SyncRun
from storage.xref import (
    StaleSyncStateError,
    XrefConflictError,
    find_link,
    find_order_by_bng,
    find_order_by_m3,
    finish_run,
    latest_runs,
    link,
    link_order,
    links_by_bng_keys,
    links_by_m3_keys,
    record_synced,
    start_run,
)

__all__ = [
    "EntityLink",
    "EventSource",
    "OrderXref",
    "ReceivedEvent",
    "RunStatus",
    "StaleSyncStateError",
    "SyncRun",
    "XrefConflictError",
    "find_link",
    "find_order_by_bng",
    "find_order_by_m3",
    "finish_run",
    "latest_runs",
    "link",
    "link_order",
    "links_by_bng_keys",
    "links_by_m3_keys",
    "make_engine",
    "make_session_factory",
    "record_synced",
    "start_run",
    "upgrade_schema",
]
