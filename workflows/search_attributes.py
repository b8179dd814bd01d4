"""Custom search attributes that let operators find any order in the Temporal UI and CLI.

``temporal workflow list --query 'BngOrderId="BNG-10001"'`` or ``'OrderStage="NeedsAttention"'``.
"""

from temporalio.common import SearchAttributeKey

BNG_ORDER_ID = SearchAttributeKey.for_keyword("BngOrderId")
M3_ORDER_NUMBER = SearchAttributeKey.for_keyword("M3OrderNumber")
M3_CUSTOMER_NUMBER = SearchAttributeKey.for_keyword("M3CustomerNumber")
ORDER_STAGE = SearchAttributeKey.for_keyword("OrderStage")

# Master data: ``'SyncEntity="customer" AND SyncState="NeedsAttention"'`` lists parked records.
SYNC_ENTITY = SearchAttributeKey.for_keyword("SyncEntity")
SYNC_KEY = SearchAttributeKey.for_keyword("SyncKey")
SYNC_STATE = SearchAttributeKey.for_keyword("SyncState")

ALL = (BNG_ORDER_ID, M3_ORDER_NUMBER, M3_CUSTOMER_NUMBER, ORDER_STAGE, SYNC_ENTITY, SYNC_KEY, SYNC_STATE)


def dev_server_flags() -> list[str]:
    """The ``--search-attribute`` flags that register ALL on ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
