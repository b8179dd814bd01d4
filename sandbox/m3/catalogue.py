"""The MI transactions the sandbox implements, with M3's field metadata.

Types and lengths follow m3-api.md §3.1 and the transaction sections (taken there from M3's own
generated metadata). The catalogue drives input validation, output padding and the v1 `Metadata`
block, so one table keeps the three consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FieldType(StrEnum):
    ALPHA = "A"
    NUMERIC = "N"
    DATE = "D"


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType
    length: int
    description: str


@dataclass(frozen=True)
class InputField:
    field: FieldDef
    required: bool = False


# MI naming: these read; every other transaction writes.
READ_PREFIXES = ("Get", "Lst", "List", "Search", "Sel")


@dataclass(frozen=True)
class TransactionDef:
    program: str
    name: str
    inputs: tuple[InputField, ...]
    outputs: tuple[FieldDef, ...]
    is_list: bool = False

    @property
    def writes(self) -> bool:
        """True for transactions that change M3 (Add, Chg, Upd, Del, Confirm, ControlBatch...)."""
        return not self.name.startswith(READ_PREFIXES)

    def input(self, name: str) -> InputField | None:
        return next((i for i in self.inputs if i.field.name == name), None)


A, N, D = FieldType.ALPHA, FieldType.NUMERIC, FieldType.DATE
# M3 reports dates as type D, length 10 (YYYYMMDD travels as 8 digits).
DATE_LENGTH = 10

_DEFS: list[tuple[str, FieldType, int, str]] = [
    ("CONO", N, 3, "Company"),
    ("DIVI", A, 3, "Division"),
    ("LNCD", A, 2, "Language"),
    ("CUNO", A, 10, "Customer number"),
    ("CUTM", A, 10, "Customer template"),
    ("CUNM", A, 36, "Customer name"),
    ("CUA1", A, 36, "Customer address line 1"),
    ("CUA2", A, 36, "Customer address line 2"),
    ("CUA3", A, 36, "Customer address line 3"),
    ("CUA4", A, 36, "Customer address line 4"),
    ("PONO", A, 10, "Postal code"),
    ("TOWN", A, 20, "City"),
    ("CSCD", A, 3, "Country"),
    ("PHNO", A, 16, "Telephone number 1"),
    ("MAIL", A, 60, "Email address"),
    ("YREF", A, 30, "Your reference 1"),
    ("STAT", A, 2, "Status"),
    ("CUCD", A, 3, "Currency"),
    ("CUTP", N, 1, "Customer type"),
    ("ORTP", A, 3, "Customer order type"),
    ("WHLO", A, 3, "Warehouse"),
    ("FACI", A, 3, "Facility"),
    ("TEPY", A, 3, "Payment terms"),
    ("MODL", A, 3, "Delivery method"),
    ("TEDL", A, 3, "Delivery terms"),
    ("RGDT", D, DATE_LENGTH, "Entry date"),
    ("LMDT", D, DATE_LENGTH, "Change date"),
    ("LMTS", N, 18, "Timestamp"),
    ("ITNO", A, 15, "Item number"),
    ("ITDS", A, 30, "Name"),
    ("FUDS", A, 60, "Description 2"),
    ("RESP", A, 10, "Responsible"),
    ("UNMS", A, 3, "Basic unit of measure"),
    ("ITGR", A, 8, "Item group"),
    ("ITCL", A, 5, "Product group"),
    ("ITTY", A, 3, "Item type"),
    ("MABU", N, 1, "Make/buy code"),
    ("PRVG", A, 5, "Procurement group"),
    ("STQT", N, 17, "On-hand balance approved"),
    ("QUQT", N, 17, "On-hand balance for inspection"),
    ("RJQT", N, 17, "Rejected on-hand balance"),
    ("ALQT", N, 17, "Allocated quantity"),
    ("AV01", N, 17, "Allocatable on-hand balance"),
    ("AVAL", N, 17, "Available balance"),
    ("REQT", N, 17, "Reserved quantity"),
    ("PLQT", N, 17, "Picking list quantity"),
    ("ORNO", A, 10, "Customer order number"),
    ("CUOR", A, 20, "Customer's order number"),
    ("RLDT", D, DATE_LENGTH, "Requested delivery date"),
    ("ORDT", D, DATE_LENGTH, "Order date"),
    ("PONR", N, 5, "Order line number"),
    ("POSX", N, 3, "Line suffix"),
    ("ATNR", N, 17, "Attribute number"),
    ("ORQT", N, 15, "Ordered quantity - basic U/M"),
    ("SAPR", N, 17, "Sales price"),
    ("ALUN", A, 3, "Alternate U/M"),
    ("DWDT", D, DATE_LENGTH, "Requested delivery date"),
    ("LNAM", N, 17, "Line amount - order currency"),
    ("NTAM", N, 17, "Net order value"),
    ("ORSL", A, 2, "Lowest status - customer order"),
    ("ORST", A, 2, "Highest status - customer order"),
    ("CTYP", A, 1, "Confirmation type"),
    ("DLIX", N, 11, "Delivery number"),
    ("CONN", N, 10, "Shipment"),
    ("PGRS", A, 2, "Highest status - picking list"),
    ("PIST", A, 2, "Lowest status - picking list"),
    ("IVNO", N, 9, "Invoice number"),
    ("YEA4", N, 4, "Year"),
    ("IVDT", D, DATE_LENGTH, "Invoice date"),
    ("DUDT", D, DATE_LENGTH, "Due date"),
    ("AMT1", N, 17, "Net amount"),
    ("VTAM", N, 17, "VAT amount"),
    ("IVAM", N, 17, "Invoice amount"),
    ("PBID", N, 10, "Payment batch number"),
    ("BOPE", A, 3, "Batch payment type"),
    ("ACDT", D, DATE_LENGTH, "Accounting date"),
    ("TRNO", N, 7, "Transaction number"),
    ("CINO", A, 15, "Invoice number"),
    ("INYR", N, 4, "Invoice year"),
    ("PYAM", N, 17, "Payment amount"),
    ("PYNO", A, 10, "Payer"),
    ("CUAM", N, 17, "Foreign currency amount"),
    # Not an M3 name we could verify: the sandbox's field for the remaining open amount.
    ("OPAM", N, 17, "Open amount"),
    # Customer financial data (M3H5 CRS610MI GetFinancial metadata).
    ("CRLM", N, 15, "Credit limit 1 - max overdue invoices"),
    ("CRL2", N, 15, "Credit limit 2 - max out.invoices"),
    ("CRL3", N, 15, "Credit limit 3 - max out.invoices + ord."),
    ("TXAP", N, 1, "Tax applicable"),
    ("BLCD", N, 1, "Customer stop"),
    ("TOIN", N, 17, "Outstanding invoice amount"),
    ("TBLG", N, 17, "Order value not invoiced"),
    # Customer addresses (M3H5 CRS610MI AddAddress: ADRT is numeric; the ADID length is assumed).
    ("ADRT", N, 1, "Address type"),
    ("ADID", A, 6, "Address number"),
    # Search transactions (M3H5: SQRY "Search query"; its length is assumed).
    ("SQRY", A, 256, "Search query"),
    # Suppliers (M3H5 CRS620MI GetBasicData metadata).
    ("SUNO", A, 10, "Supplier number"),
    ("SUNM", A, 36, "Supplier name"),
    ("SUTY", N, 1, "Supplier type"),
    ("ALSU", A, 10, "Search key"),
    ("ECAR", A, 2, "Area/State"),
    ("VRNO", A, 16, "VAT registration number"),
    ("PYME", A, 3, "Payment method - accounts payable"),
    ("BUYE", A, 10, "Buyer"),
    # Balance identities (MMS060MI); lengths of BANO/CAMU/STAS are assumed.
    ("WHSL", A, 10, "Location"),
    ("BANO", A, 20, "Lot number"),
    ("CAMU", A, 20, "Container"),
    ("STAS", A, 1, "Status - balance ID"),
    # Stock transactions (M3H5 MMS850MI AddAdjust); E0PA/E065/PRFL/QLQT lengths are assumed.
    ("PRFL", A, 4, "Process flag"),
    ("E0PA", A, 17, "Partner"),
    ("E065", A, 17, "Message type"),
    ("MSNR", A, 15, "Message number"),
    ("MSLN", N, 5, "Message line number"),
    ("MSGS", N, 3, "Sequence number"),
    ("QLQT", N, 15, "Quantity"),
    ("RSCD", A, 3, "Transaction reason"),
    ("STAG", N, 1, "Status - physical inv"),
    ("BREM", A, 30, "Remark"),
    # Purchase orders (M3H5 PPS370MI/PPS200MI metadata; BAOR's length is assumed).
    ("BAOR", A, 3, "Batch origin"),
    ("MSGN", A, 15, "Message number"),
    ("PUNO", A, 10, "Purchase order number"),
    ("PNLI", N, 3, "Purchase order line"),
    ("PNLS", N, 3, "Purchase order line subnumber"),
    ("ORTY", A, 3, "Order type"),
    ("PUDT", D, DATE_LENGTH, "Order date"),
    ("YRE1", A, 36, "Your reference"),
    ("OURR", A, 10, "Our reference number"),
    ("PURC", A, 10, "Requisition by"),
    ("POTC", A, 2, "Purchase order category"),
    ("ORQA", N, 17, "Ordered quantity - alternate U/M"),
    ("PUPR", N, 17, "Purchase price"),
    ("PUUN", A, 3, "Purchase order U/M"),
    ("RVQA", N, 17, "Received quantity"),
    ("IVQA", N, 17, "Invoiced quantity - alternate U/M"),
    ("RCDT", D, DATE_LENGTH, "Receipt date"),
    ("PUSL", A, 2, "Lowest status - purchase order"),
    ("PUST", A, 2, "Highest status - purchase order"),
    # Staged warehouse transactions (M3H5 MHS850MI; MSID/MSGD from a tenant-tested script,
    # MSID's length assumed).
    ("QLFR", A, 4, "Qualifier"),
    ("E0PB", A, 17, "Partner"),
    ("PMSN", A, 17, "External message number"),
    ("PACN", A, 20, "Package number"),
    ("RIDN", A, 10, "Order number"),
    ("RIDL", N, 6, "Order line"),
    ("RIDX", N, 3, "Line suffix"),
    ("REPN", N, 10, "Receiving number"),
    ("SUDO", A, 20, "Delivery note number"),
    ("MSID", A, 7, "Message ID"),
    ("MSGD", A, 78, "Message"),
    # Supplier invoices (M3H5 APS450MI; AIT1/AIT2/VTXT on AddLine are newer-release inputs).
    ("INBN", N, 10, "Invoice batch number"),
    ("SINO", A, 24, "Supplier invoice number"),
    ("SPYN", A, 10, "Payee"),
    ("IBTP", A, 2, "Invoice batch type"),
    ("IMCD", A, 1, "Invoice matching"),
    ("CORI", A, 36, "Correlation ID"),
    ("RDTP", N, 2, "Line type"),
    ("GRPR", N, 19, "Gross price"),
    ("NLAM", N, 17, "Net amount - line"),
    ("SUPA", N, 2, "Invoice status"),
    ("BIST", N, 1, "Invoice progress"),
    ("IBHE", N, 1, "Invoice batch head error"),
    ("IBLE", N, 1, "Invoice batch line error"),
    ("TLNA", N, 17, "Total line amount - net"),
    ("AIT1", A, 10, "Accounting dimension 1"),
    ("AIT2", A, 10, "Accounting dimension 2"),
    ("VTXT", A, 40, "Voucher text"),
    # GL interface and vouchers (M3H5 GLS840MI/GLS200MI; KEY1/PARM lengths from gls842, LINE's assumed).
    ("KEY1", A, 15, "Key value"),
    ("INTN", A, 15, "Interface"),
    ("DESC", A, 40, "Description"),
    ("USID", A, 10, "User"),
    ("LINE", N, 8, "Line number"),
    ("PARM", A, 900, "Parameter value"),
    ("FRDT", D, DATE_LENGTH, "From date"),
    ("TODT", D, DATE_LENGTH, "To date"),
    ("VONO", N, 8, "Voucher number"),
    ("VSER", A, 3, "Voucher number series"),
    ("JRNO", N, 7, "Journal number"),
    ("JSNO", N, 7, "Journal sequence number"),
    ("VDSC", A, 7, "Voucher name"),
    ("TDSC", A, 10, "Transaction description"),
    ("ACAM", N, 17, "Recorded amount"),
    ("DBCR", A, 1, "Debit/credit code"),
    ("DSUM", N, 17, "Debit sum"),
    ("CSUM", N, 17, "Credit sum"),
    ("CUAD", N, 17, "Currency amount sum debit"),
    ("CUAC", N, 17, "Currency amount sum credit"),
    # Settings tables m3bng doctor reads (M3H5 MNS100MI GetBasicData, OIS010MI LstOrderTypes and
    # PPS095MI LstOrderType metadata).
    ("CONM", A, 36, "Company name"),
    ("TX15", A, 15, "Name"),
    ("TX40", A, 40, "Description"),
    ("LOCD", A, 3, "Local currency"),
    ("ORTK", A, 1, "Customer order category"),
]

FIELDS: dict[str, FieldDef] = {name: FieldDef(name, t, length, desc) for name, t, length, desc in _DEFS}


def _inputs(required: str = "", optional: str = "") -> tuple[InputField, ...]:
    # Every transaction also takes CONO, as real M3 does.
    names = [(n, True) for n in required.split()] + [(n, False) for n in ["CONO", *optional.split()]]
    return tuple(InputField(FIELDS[n], req) for n, req in names)


def _outputs(names: str = "") -> tuple[FieldDef, ...]:
    return tuple(FIELDS[n] for n in names.split())


_CUSTOMER_ADDRESS = "CUA2 CUA3 CUA4 PONO TOWN CSCD PHNO MAIL YREF STAT CUCD LNCD"
_CUSTOMER_LIST = "CUNO CUNM CUA1 TOWN CSCD STAT CUCD ORTP WHLO TEPY MODL TEDL LMTS"
_ADDRESS_ROW = "CONO CUNO ADRT ADID CUNM CUA1 CUA2 CUA3 CUA4 PONO TOWN CSCD PHNO YREF LMDT"
_SUPPLIER_FIELDS = "SUNM ALSU STAT LNCD PHNO CSCD ECAR VRNO CUCD TEPY PYME BUYE MODL TEDL"
_BALANCE_ID = "WHLO ITNO WHSL BANO CAMU STAS STQT ALQT"
_PO_LINE = (
    "CONO PUNO PNLI PNLS ITNO ITDS PUUN FACI WHLO PUSL PUST SUNO PUPR LNAM DWDT ORQA RVQA RCDT IVQA BUYE"
)
_PO_SEARCH = "DIVI PUNO WHLO SUNO PUSL PUST PUDT BUYE FACI ORTY POTC PURC"
_WHS_LINE = "CONO DIVI WHLO MSGN PACN MSLN QLFR STAT ITNO WHSL REPN RVQA PUUN RIDN RIDL RIDX SUDO MSID MSGD"
_INVOICE_LINE = "TRNO RDTP IBLE NLAM CUCD PUNO PNLI PNLS IVQA PUUN GRPR ITNO REPN AIT1 AIT2 VTXT"
_INVOICE_HEAD = (
    "INBN IBTP SUPA BIST IBHE IBLE SINO SPYN SUNO IVDT CUCD CUAM VTAM VONO ACDT IMCD DUDT TLNA PUNO YEA4 CORI"
)
_VOUCHER_LINE = "CONO DIVI YEA4 JRNO JSNO VDSC ACDT VSER VONO AIT1 AIT2 CUCD ACAM DBCR CUAM VTXT"

_TRANSACTIONS = [
    # Customers.
    TransactionDef(
        "CRS610MI", "Add", _inputs("CUTM CUNM CUA1", f"CUNO DIVI {_CUSTOMER_ADDRESS}"), _outputs("CUNO")
    ),
    TransactionDef(
        "CRS610MI",
        "GetBasicData",
        _inputs("CUNO"),
        _outputs(
            "CONO DIVI LNCD CUNO CUNM CUA1 CUA2 CUA3 CUA4 PONO TOWN PHNO CUTP YREF MAIL CSCD STAT CUCD "
            "ORTP WHLO TEPY MODL TEDL RGDT LMDT"
        ),
    ),
    TransactionDef("CRS610MI", "ChgBasicData", _inputs("CUNO", f"CUNM CUA1 {_CUSTOMER_ADDRESS}"), ()),
    TransactionDef("CRS610MI", "LstByNumber", _inputs("", "CUNO"), _outputs(_CUSTOMER_LIST), is_list=True),
    TransactionDef("CRS610MI", "SearchCustomer", _inputs("SQRY"), _outputs(_CUSTOMER_LIST), is_list=True),
    TransactionDef(
        "CRS610MI",
        "GetFinancial",
        _inputs("CUNO", "DIVI"),
        _outputs("CONO DIVI LNCD CUNO CUNM CUCD CRLM CRL2 CRL3 TXAP LMDT BLCD TOIN TBLG"),
    ),
    TransactionDef("CRS610MI", "ChgFinancial", _inputs("CUNO", "DIVI CRLM CRL2 CRL3 TXAP BLCD"), ()),
    TransactionDef(
        "CRS610MI",
        "AddAddress",
        _inputs("CUNO ADRT ADID CUA1 PONO CSCD TOWN", "DIVI CUNM CUA2 CUA3 CUA4 PHNO YREF"),
        (),
    ),
    TransactionDef(
        "CRS610MI",
        "ChgAddress",
        _inputs("CUNO ADRT ADID CUA1 CSCD", "DIVI CUNM CUA2 CUA3 CUA4 PONO TOWN PHNO YREF"),
        (),
    ),
    TransactionDef("CRS610MI", "GetAddress", _inputs("CUNO ADRT ADID"), _outputs(_ADDRESS_ROW)),
    TransactionDef("CRS610MI", "LstAddresses", _inputs("CUNO", "ADRT"), _outputs(_ADDRESS_ROW), is_list=True),
    # Suppliers.
    TransactionDef(
        "CRS620MI",
        "AddSupplier",
        _inputs("SUNO SUNM SUTY CSCD LNCD CUCD", "ALSU STAT PHNO ECAR VRNO TEPY PYME BUYE MODL TEDL"),
        (),
    ),
    TransactionDef("CRS620MI", "UpdSupplier", _inputs("SUNO", f"SUTY {_SUPPLIER_FIELDS}"), ()),
    TransactionDef(
        "CRS620MI", "GetBasicData", _inputs("SUNO"), _outputs(f"CONO SUNO SUTY {_SUPPLIER_FIELDS}")
    ),
    TransactionDef(
        "CRS620MI",
        "LstByNumber",
        _inputs("", "SUNO"),
        _outputs("CONO SUNO SUTY SUNM ALSU STAT LNCD PHNO CSCD ECAR VRNO CUCD"),
        is_list=True,
    ),
    # Items and balances.
    TransactionDef(
        "MMS200MI",
        "GetItmBasic",
        _inputs("ITNO", "LNCD"),
        _outputs("STAT ITNO ITDS FUDS RESP UNMS ITGR ITCL ITTY MABU PRVG LMDT"),
    ),
    # M3H5 also marks RESP and PRVG required; here the item template supplies them.
    TransactionDef(
        "MMS200MI", "AddItmBasic", _inputs("STAT ITNO ITDS UNMS ITTY MABU", "RESP PRVG FUDS ITGR ITCL"), ()
    ),
    TransactionDef(
        "MMS200MI", "UpdItmBasic", _inputs("ITNO", "STAT ITDS FUDS RESP UNMS ITGR ITCL ITTY MABU PRVG"), ()
    ),
    TransactionDef(
        "MMS200MI",
        "LstItmByItm",
        _inputs("", "ITNO"),
        _outputs("STAT ITNO ITDS FUDS UNMS ITGR ITCL ITTY"),
        is_list=True,
    ),
    TransactionDef(
        "MMS200MI",
        "GetItmWhsBal",
        _inputs("WHLO ITNO"),
        _outputs("WHLO ITNO STQT QUQT RJQT ALQT AV01 AVAL REQT PLQT"),
    ),
    TransactionDef(
        "MMS060MI", "List", _inputs("WHLO", "ITNO WHSL BANO"), _outputs(_BALANCE_ID), is_list=True
    ),
    TransactionDef(
        "MMS060MI", "LstViaItem", _inputs("ITNO", "WHLO WHSL BANO"), _outputs(_BALANCE_ID), is_list=True
    ),
    TransactionDef(
        "MMS850MI",
        "AddAdjust",
        _inputs("E0PA E065 WHLO", "PRFL WHSL ITNO BANO QLQT RSCD STAG BREM RESP"),
        _outputs("CONO MSNR MSLN MSGS"),
    ),
    # Customer order batch entry.
    TransactionDef(
        "OIS100MI",
        "AddBatchHead",
        _inputs("CUNO", "ORTP FACI WHLO RLDT CUOR ORDT MODL TEDL CUCD TEPY YREF"),
        _outputs("ORNO"),
    ),
    TransactionDef(
        "OIS100MI",
        "AddBatchLine",
        _inputs("ORNO ITNO", "ORQT WHLO DWDT SAPR ALUN PONR POSX"),
        _outputs("PONR POSX ATNR"),
    ),
    TransactionDef(
        "OIS100MI",
        "LstBatchHead",
        _inputs("", "CUNO CUOR"),
        _outputs("ORNO CUNO CUOR ORDT STAT ORTP WHLO"),
        is_list=True,
    ),
    TransactionDef(
        "OIS100MI",
        "LstBatchLine",
        _inputs("ORNO"),
        _outputs("ORNO PONR POSX ITNO ORQT WHLO DWDT SAPR ALUN"),
        is_list=True,
    ),
    TransactionDef("OIS100MI", "DelBatchHead", _inputs("ORNO"), ()),
    TransactionDef("OIS100MI", "Confirm", _inputs("ORNO", "CTYP"), _outputs("ORNO STAT")),
    # Customer orders.
    TransactionDef(
        "OIS100MI",
        "GetHead",
        _inputs("ORNO"),
        _outputs("ORNO ORTP ORDT STAT FACI CUOR ORSL ORST CUNO WHLO DIVI RLDT NTAM CUCD MODL TEDL TEPY YREF"),
    ),
    TransactionDef(
        "OIS100MI",
        "LstHead",
        _inputs("CUNO", "ORSL ORST"),
        _outputs("ORNO CUNO CUOR ORTP ORSL ORST ORDT STAT NTAM CUCD WHLO"),
        is_list=True,
    ),
    TransactionDef(
        "OIS100MI",
        "LstLine",
        _inputs("ORNO", "ORST ITNO"),
        _outputs("ORNO PONR POSX ITNO ORQT ALUN SAPR LNAM WHLO DWDT ORST"),
        is_list=True,
    ),
    TransactionDef("OIS100MI", "DelHead", _inputs("ORNO"), ()),
    # Deliveries and invoices.
    TransactionDef("MWS410MI", "GetHead", _inputs("DLIX"), _outputs("DLIX CONN IVNO CUOR WHLO PGRS PIST")),
    TransactionDef(
        "OIS350MI",
        "LstInvHeadByCo",
        _inputs("ORNO", "DIVI"),
        _outputs("DIVI IVNO YEA4 IVDT DUDT CUNO ORNO DLIX CUCD AMT1 VTAM IVAM"),
        is_list=True,
    ),
    # Customer payments.
    TransactionDef("ARS040MI", "AddBatchHead", _inputs("PBID BOPE", "DIVI ACDT"), _outputs("PBID")),
    TransactionDef(
        "ARS040MI", "AddBatchLine", _inputs("PBID TRNO CINO INYR CUNO PYAM", "DIVI CUCD PYNO"), ()
    ),
    TransactionDef("ARS040MI", "ControlBatch", _inputs("PBID", "DIVI"), ()),
    # Purchase order batch entry. The sandbox's PPS370MI takes the interface fields the contract
    # uses; M3H5 lists many more optional ones (HREF, TEPY, MODL, ...), which are ignored here.
    TransactionDef("PPS370MI", "StartEntry", _inputs("BAOR"), _outputs("MSGN")),
    TransactionDef(
        "PPS370MI",
        "AddHead",
        _inputs("MSGN FACI WHLO SUNO DWDT", "ORTY PUDT CUCD YRE1 BUYE PURC OURR"),
        _outputs("PUNO"),
    ),
    TransactionDef(
        "PPS370MI",
        "AddLine",
        _inputs("MSGN ITNO ORQA", "PUNO PNLI WHLO DWDT PUPR PUUN"),
        _outputs("PUNO PNLI"),
    ),
    TransactionDef("PPS370MI", "FinishEntry", _inputs("MSGN"), ()),
    TransactionDef("PPS370MI", "DeleteEntry", _inputs("MSGN"), ()),
    # Purchase orders. GetHead adds PUSL/PUST to M3H5's columns (a sandbox convenience).
    TransactionDef(
        "PPS200MI",
        "GetHead",
        _inputs("PUNO"),
        _outputs("CONO PUNO PUDT DWDT SUNO BUYE CUCD YRE1 DIVI FACI WHLO ORTY OURR PURC NTAM PUSL PUST"),
    ),
    TransactionDef("PPS200MI", "GetLine", _inputs("PUNO", "PNLI PNLS"), _outputs(_PO_LINE)),
    TransactionDef("PPS200MI", "LstLine", _inputs("PUNO"), _outputs(_PO_LINE), is_list=True),
    TransactionDef("PPS200MI", "SearchHead", _inputs("SQRY"), _outputs(_PO_SEARCH), is_list=True),
    TransactionDef("PPS200MI", "UpdHead", _inputs("PUNO", "PUDT YRE1 DWDT OURR PURC BUYE"), ()),
    TransactionDef("PPS200MI", "UpdLine", _inputs("PUNO PNLI PNLS", "PUPR ORQA DWDT"), ()),
    TransactionDef("PPS200MI", "AddLine", _inputs("PUNO ITNO ORQA", "PNLI PNLS WHLO DWDT PUPR PUUN"), ()),
    TransactionDef("PPS200MI", "DltLine", _inputs("PUNO PNLI", "PNLS"), ()),
    # Goods receipt by staged warehouse transactions. M3H5 marks AddWhsLine's PACN required; the
    # sandbox has no packages, so it is optional here. LstWhsLine adds MSID/MSGD (tenant script).
    TransactionDef(
        "MHS850MI",
        "AddWhsHead",
        _inputs("WHLO QLFR E0PA E0PB E065", "DIVI PMSN SUDO"),
        _outputs("CONO MSGN"),
    ),
    TransactionDef(
        "MHS850MI",
        "AddWhsLine",
        _inputs("WHLO MSGN QLFR", "PACN DIVI ITNO WHSL RVQA PUUN RIDN RIDL RIDX SUDO"),
        _outputs("CONO MSGN PACN MSLN"),
    ),
    TransactionDef("MHS850MI", "PrcWhsTran", _inputs("MSGN", "PACN MSLN PRFL"), ()),
    TransactionDef("MHS850MI", "LstWhsLine", _inputs("MSGN", "PACN MSLN"), _outputs(_WHS_LINE), is_list=True),
    TransactionDef("MHS850MI", "GetMvxMsg", _inputs("E0PB PMSN"), _outputs("CONO MSGN")),
    TransactionDef(
        "PPS320MI",
        "LstReceivedPO",
        _inputs("PUNO"),
        _outputs("REPN PUNO PNLI PNLS ITNO ITDS RVQA PUUN"),
        is_list=True,
    ),
    # Supplier invoices. M3H5 marks LstInvBySupInv's SPYN required; here it defaults to SUNO.
    TransactionDef(
        "APS450MI",
        "AddHead",
        _inputs("SUNO IVDT", "DIVI IBTP SINO SPYN CUCD CUAM VTAM ACDT IMCD DUDT PUNO CORI"),
        _outputs("INBN"),
    ),
    TransactionDef(
        "APS450MI",
        "AddLine",
        _inputs("INBN RDTP", "DIVI NLAM PUNO PNLI PNLS IVQA PUUN GRPR ITNO REPN SUDO AIT1 AIT2 VTXT"),
        _outputs("TRNO"),
    ),
    TransactionDef("APS450MI", "GetHead", _inputs("INBN", "DIVI"), _outputs(_INVOICE_HEAD)),
    TransactionDef(
        "APS450MI", "LstLines", _inputs("INBN", "DIVI TRNO"), _outputs(_INVOICE_LINE), is_list=True
    ),
    TransactionDef(
        "APS450MI",
        "LstInvBySupInv",
        _inputs("SUNO SINO", "SPYN DIVI"),
        _outputs("INBN IBTP SUPA"),
        is_list=True,
    ),
    TransactionDef("APS455MI", "ValidByBatchNo", _inputs("INBN", "DIVI"), ()),
    # GL interface. M3H5 marks CONO required on all four; the sandbox takes it from the call.
    TransactionDef("GLS840MI", "AddBatchHead", _inputs("KEY1 INTN DESC", "DIVI USID"), _outputs("CONO")),
    TransactionDef("GLS840MI", "AddBatchLine", _inputs("KEY1 LINE PARM", "DIVI"), _outputs("CONO")),
    TransactionDef("GLS840MI", "CtrlBatch", _inputs("KEY1", "DIVI"), _outputs("CONO")),
    TransactionDef("GLS840MI", "UpdBatch", _inputs("KEY1", "DIVI"), _outputs("CONO")),
    # GL vouchers (read only).
    TransactionDef(
        "GLS200MI", "LstVouchersByDt", _inputs("FRDT TODT", "DIVI"), _outputs(_VOUCHER_LINE), is_list=True
    ),
    TransactionDef(
        "GLS200MI",
        "GetVoucherHead",
        _inputs("DIVI YEA4 VONO", "VSER JRNO"),
        _outputs("CONO DIVI YEA4 VSER VONO TDSC VDSC DSUM CSUM CUAD CUAC CUCD"),
    ),
    TransactionDef(
        "GLS200MI",
        "LstVoucherLines",
        _inputs("DIVI YEA4 VONO", "VSER JRNO"),
        _outputs(_VOUCHER_LINE),
        is_list=True,
    ),
    TransactionDef(
        "ARS200MI",
        "GetInvoice",
        _inputs("CUNO CINO INYR", "DIVI"),
        _outputs("CONO DIVI CUNO CINO INYR CUCD CUAM VTAM OPAM IVDT DUDT"),
    ),
]

_TRANSACTIONS += [
    # Settings tables, read only (m3bng doctor): the division, customer and purchase order types.
    TransactionDef("MNS100MI", "GetBasicData", _inputs("", "DIVI"), _outputs("CONO DIVI CONM TX15 LOCD")),
    TransactionDef(
        "OIS010MI",
        "LstOrderTypes",
        _inputs("", "ORTP ORTK"),
        _outputs("CONO ORTP ORTK TX40 TX15"),
        is_list=True,
    ),
    TransactionDef(
        "PPS095MI", "LstOrderType", _inputs("", "ORTY POTC"), _outputs("ORTY POTC TX15 TX40"), is_list=True
    ),
]

CATALOGUE: dict[tuple[str, str], TransactionDef] = {(t.program, t.name): t for t in _TRANSACTIONS}
PROGRAMS: frozenset[str] = frozenset(t.program for t in _TRANSACTIONS)


def lookup(program: str, transaction: str) -> TransactionDef | None:
    return CATALOGUE.get((program, transaction))
