"""MI REST wire format: control parameters in, v1/v2 JSON bodies out (m3-api.md §1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.m3.catalogue import FieldDef, FieldType, TransactionDef
from sandbox.m3.messages import MINok

# M3 pads NOK message texts with blanks to a fixed width.
MESSAGE_WIDTH = 130
DEFAULT_MAXRECS = 100

Row = Mapping[str, Any]


@dataclass
class CallOptions:
    """Control parameters of one MI call, from matrix params, query params or the bulk body."""

    maxrecs: int = DEFAULT_MAXRECS
    returncols: list[str] | None = None
    excludeempty: bool = False
    righttrim: bool = False
    metadata: bool = True
    extendedresult: bool = False
    cono: str | None = None
    divi: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def split_matrix(segment: str) -> tuple[str, dict[str, str]]:
    """`LstByNumber;maxrecs=20;returncols=CUNO,CUNM` -> ("LstByNumber", {...})."""
    name, *params = segment.split(";")
    matrix: dict[str, str] = {}
    for param in params:
        key, _, value = param.partition("=")
        if key:
            matrix[key.strip().lower()] = value
    return name, matrix


def options_from(params: Mapping[str, str]) -> CallOptions:
    """Lower-case control params (matrix and query merged); upper-case names are record fields."""
    opts = CallOptions()
    if (maxrecs := params.get("maxrecs")) not in (None, ""):
        try:
            opts.maxrecs = max(0, int(str(maxrecs)))
        except ValueError:
            opts.maxrecs = DEFAULT_MAXRECS
    if cols := params.get("returncols"):
        opts.returncols = [c.strip().upper() for c in cols.split(",") if c.strip()]
    # ODIN spells the matrix flag "excludempty"; v2 callers send "excludeempty". Accept both.
    opts.excludeempty = _flag(params.get("excludempty", params.get("excludeempty")), False)
    opts.righttrim = _flag(params.get("righttrim"), False)
    opts.metadata = _flag(params.get("metadata"), True)
    opts.extendedresult = _flag(params.get("extendedresult"), False)
    opts.cono = params.get("cono") or None
    opts.divi = params.get("divi") or None
    return opts


def record_from(params: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k.isupper()}


def format_number(value: Decimal | int) -> str:
    """Plain notation, keeping the value's own scale: amounts stay "1498.00", counts stay "2"."""
    return str(value) if isinstance(value, int) else format(value, "f")


def format_value(fdef: FieldDef, value: Any, righttrim: bool) -> str:
    """Every MI value is a string; A-fields are blank-padded to their length unless trimmed."""
    if fdef.type is FieldType.NUMERIC:
        if value is None or value == "":
            return "0"
        return format_number(value if isinstance(value, int) else Decimal(value))
    if fdef.type is FieldType.DATE:
        if isinstance(value, date):
            return value.strftime("%Y%m%d")
        return "" if value is None else str(value)
    text = "" if value is None else str(value)
    return text.rstrip() if righttrim else text.ljust(fdef.length)


def output_fields(trx: TransactionDef, opts: CallOptions) -> list[FieldDef]:
    if opts.returncols is None:
        return list(trx.outputs)
    by_name = {f.name: f for f in trx.outputs}
    return [by_name[name] for name in opts.returncols if name in by_name]


def render_rows(trx: TransactionDef, rows: Sequence[Row], opts: CallOptions) -> list[list[tuple[str, str]]]:
    fields = output_fields(trx, opts)
    rendered = []
    for row in rows:
        pairs = [(f.name, format_value(f, row.get(f.name), opts.righttrim)) for f in fields]
        if opts.excludeempty:
            pairs = [(name, value) for name, value in pairs if value.strip() != ""]
        rendered.append(pairs)
    return rendered


def metadata_block(trx: TransactionDef, opts: CallOptions) -> dict[str, Any]:
    return {
        "Field": [
            {"@name": f.name, "@type": f.type.value, "@length": f.length, "@description": f.description}
            for f in output_fields(trx, opts)
        ]
    }


def v1_error(err: MINok) -> dict[str, Any]:
    return {
        "@type": err.type,
        "@code": err.code,
        "@field": err.field,
        "@cfg": None,
        "Message": err.message.ljust(MESSAGE_WIDTH),
    }


def v1_body(
    program: str,
    transaction: str,
    trx: TransactionDef | None,
    rows: Sequence[Row],
    opts: CallOptions,
    error: MINok | None = None,
) -> dict[str, Any]:
    """v1 OK body; with `error` and rows already emitted, the KB 2159861 partial-failure body."""
    if trx is None or (error is not None and not rows):
        assert error is not None
        return v1_error(error)
    body: dict[str, Any] = {"Program": program, "Transaction": transaction}
    if opts.metadata:
        body["Metadata"] = metadata_block(trx, opts)
    body["MIRecord"] = [
        {"RowIndex": index, "NameValue": [{"Name": name, "Value": value} for name, value in pairs]}
        for index, pairs in enumerate(render_rows(trx, rows, opts))
    ]
    if error is not None:
        body["ErrorMessage"] = v1_error(error)
    return body


def v2_result(
    transaction: str,
    trx: TransactionDef | None,
    rows: Sequence[Row],
    opts: CallOptions,
    error: MINok | None = None,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"transaction": transaction}
    if error is not None:
        result.update(
            {
                "errorMessage": error.message,
                "errorType": error.type,
                "errorCode": error.code,
                "errorField": error.field,
                "errorCfg": None,
                "notProcessed": False,
            }
        )
    else:
        assert trx is not None
        result["records"] = [dict(pairs) for pairs in render_rows(trx, rows, opts)]
    if opts.extendedresult and parameters is not None:
        result["parameters"] = dict(parameters)
    return result


def v2_body(results: list[dict[str, Any]]) -> dict[str, Any]:
    failed = sum(1 for r in results if "errorMessage" in r)
    return {
        "results": results,
        "wasTerminated": False,
        "nrOfSuccessfullTransactions": len(results) - failed,
        "nrOfFailedTransactions": failed,
        "nrOfNotProcessedTransactions": 0,
    }


def v2_error_body(result: dict[str, Any]) -> dict[str, Any]:
    """A failed single v2 call: HTTP 400 with the error keys at the top level."""
    body = v2_body([result])
    for key in ("errorMessage", "errorType", "errorCode", "errorField", "errorCfg"):
        body[key] = result[key]
    return body
