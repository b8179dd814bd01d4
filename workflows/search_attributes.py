"""Custom search attributes that let operators find any order or document in the Temporal UI and CLI.

``temporal workflow list --query 'BngOrderId="BNG-10001"'`` or ``'OrderStage="NeedsAttention"'``.
"""

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

BNG_ORDER_ID = SearchAttributeKey.for_keyword("BngOrderId")
M3_ORDER_NUMBER = SearchAttributeKey.for_keyword("M3OrderNumber")
M3_CUSTOMER_NUMBER = SearchAttributeKey.for_keyword("M3CustomerNumber")
ORDER_STAGE = SearchAttributeKey.for_keyword("OrderStage")

# Master data: ``'SyncEntity="customer" AND SyncState="NeedsAttention"'`` lists parked records.
SYNC_ENTITY = SearchAttributeKey.for_keyword("SyncEntity")
SYNC_KEY = SearchAttributeKey.for_keyword("SyncKey")
SYNC_STATE = SearchAttributeKey.for_keyword("SyncState")

# Procure-to-pay and finance documents (purchase orders, supplier invoices, journals, refunds):
# ``'DocumentType="supplier_invoice" AND DocumentStage="NeedsAttention"'``. M3DocumentNumber is the
# PUNO, INBN or GLS840MI KEY1. DocumentId (the BNG id) is Text, not Keyword: SQL visibility (the
# dev server, PostgreSQL/MySQL clusters) has room for ten Keyword attributes per namespace, and
# the exact look-up of a document is by its workflow id anyway (po-<PurchaseOrderID>...).
DOCUMENT_TYPE = SearchAttributeKey.for_keyword("DocumentType")
DOCUMENT_ID = SearchAttributeKey.for_text("DocumentId")
DOCUMENT_STAGE = SearchAttributeKey.for_keyword("DocumentStage")
M3_DOCUMENT_NUMBER = SearchAttributeKey.for_keyword("M3DocumentNumber")

ALL = (
    BNG_ORDER_ID,
    M3_ORDER_NUMBER,
    M3_CUSTOMER_NUMBER,
    ORDER_STAGE,
    SYNC_ENTITY,
    SYNC_KEY,
    SYNC_STATE,
    DOCUMENT_TYPE,
    DOCUMENT_ID,
    DOCUMENT_STAGE,
    M3_DOCUMENT_NUMBER,
)


# The type names of ``temporal ... --search-attribute Name=Type``.
_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
}


def dev_server_flags() -> list[str]:
    """The ``--search-attribute`` flags that register ALL on ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags
