"""Turn m3api-rest response bodies (v1, v2, bulk) into trimmed records or the matching exception.

Shapes and status codes follow the reference, sections 1.3 to 1.7 (ODIN runtime.ts and KB 2159861).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clients.m3.bulk import M3TransactionResult
from clients.m3.errors import M3BusinessError, M3PartialListError, M3ProtocolError

Records = list[dict[str, str]]

_TRANSACTION_NOT_FOUND = "TransactionNotFound"
_V2_ERROR_KEYS = ("errorMessage", "errorCode", "errorField", "errorType")


def parse_v1(body: Any, *, program: str, transaction: str) -> Records:
    """v1 body at any status: records, or a NOK (HTTP 200 with ``@type``), or a partial list."""
    body = _require_object(body, program, transaction)
    if "@type" in body:
        raise _v1_error(body, program, transaction)
    records = [_v1_record(row, program, transaction) for row in _as_list(body.get("MIRecord"))]
    error = body.get("ErrorMessage")
    if isinstance(error, Mapping):
        if records:
            raise _v1_error(error, program, transaction, partial_records=records)
        raise _v1_error(error, program, transaction)
    if "MIRecord" not in body and "Program" not in body:
        raise M3ProtocolError(f"{program}/{transaction}: not a v1 MI response (keys {sorted(body)[:5]})")
    return records


def parse_v2(body: Any, *, program: str, transaction: str) -> Records:
    """v2 single-transaction body: HTTP 400 puts the error at the top, HTTP 200 in ``results[0]``."""
    body = _require_object(body, program, transaction)
    if any(key in body for key in _V2_ERROR_KEYS) or body.get("terminationReason"):
        raise _v2_error(body, program, transaction)
    results = body.get("results")
    if not isinstance(results, list):
        raise M3ProtocolError(f"{program}/{transaction}: v2 response without a results list")
    if _count(body.get("nrOfFailedTransactions")) or _flag(body.get("wasTerminated")):
        first = results[0] if results and isinstance(results[0], Mapping) else {}
        raise _v2_error({**_termination(body), **first}, program, transaction)
    if not results:
        return []
    first = _require_object(results[0], program, transaction)
    return [_v2_record(row, program, transaction) for row in _as_list(first.get("records"))]


def parse_bulk(body: Any, *, program: str, transactions: Sequence[str]) -> list[M3TransactionResult]:
    """Bulk body: one result per requested transaction, matched by position (all known clients do)."""
    label = ",".join(dict.fromkeys(transactions))
    body = _require_object(body, program, label)
    if any(key in body for key in _V2_ERROR_KEYS):
        # The whole request was refused (HTTP 400), e.g. a malformed body.
        raise _v2_error(body, program, label)
    results = body.get("results")
    if not isinstance(results, list):
        raise M3ProtocolError(f"{program}/{label}: bulk response without a results list")
    too_few = len(results) < len(transactions) and not _flag(body.get("wasTerminated"))
    if len(results) > len(transactions) or too_few:
        raise M3ProtocolError(
            f"{program}: bulk returned {len(results)} results for {len(transactions)} transactions"
        )
    termination = _termination(body)
    parsed: list[M3TransactionResult] = []
    for position, name in enumerate(transactions):
        if position >= len(results):
            # Cut short by wasTerminated: the server never got to this one.
            parsed.append(_not_processed(program, name, termination))
            continue
        result = _require_object(results[position], program, name)
        echoed = result.get("transaction")
        if echoed and echoed != name:
            raise M3ProtocolError(f"{program}: bulk result {position} is {echoed}, expected {name}")
        records = [_v2_record(row, program, name) for row in _as_list(result.get("records"))]
        if any(result.get(key) for key in _V2_ERROR_KEYS):
            parsed.append(M3TransactionResult(name, records, _business_error(result, program, name)))
        elif result.get("notProcessed"):
            parsed.append(_not_processed(program, name, termination))
        else:
            parsed.append(M3TransactionResult(name, records))
    return parsed


def _v1_error(
    error: Mapping[str, Any],
    program: str,
    transaction: str,
    *,
    partial_records: Records | None = None,
) -> M3BusinessError | M3ProtocolError:
    error_type = _text(error.get("@type"))
    if error_type == _TRANSACTION_NOT_FOUND:
        return M3ProtocolError(f"{program}/{transaction}: transaction not found")
    message = _text(error.get("Message")) or error_type or "M3 returned NOK without a message"
    code, field = _text(error.get("@code")), _text(error.get("@field"))
    if partial_records is not None:
        return M3PartialListError(
            program=program,
            transaction=transaction,
            message=message,
            records=partial_records,
            code=code,
            field=field,
            error_type=error_type,
        )
    return M3BusinessError(
        program=program,
        transaction=transaction,
        message=message,
        code=code,
        field=field,
        error_type=error_type,
    )


def _v2_error(error: Mapping[str, Any], program: str, transaction: str) -> M3BusinessError | M3ProtocolError:
    error_type = _text(error.get("errorType")) or _text(error.get("terminationErrorType"))
    if error_type == _TRANSACTION_NOT_FOUND:
        return M3ProtocolError(f"{program}/{transaction}: transaction not found")
    return _business_error(error, program, transaction)


def _business_error(error: Mapping[str, Any], program: str, transaction: str) -> M3BusinessError:
    error_type = _text(error.get("errorType")) or _text(error.get("terminationErrorType"))
    message = _text(error.get("errorMessage")) or _text(error.get("terminationReason"))
    return M3BusinessError(
        program=program,
        transaction=transaction,
        message=message or error_type or "M3 reported a failed transaction without a message",
        code=_text(error.get("errorCode")),
        field=_text(error.get("errorField")),
        error_type=error_type,
    )


def _not_processed(program: str, transaction: str, termination: Mapping[str, Any]) -> M3TransactionResult:
    reason = _text(termination.get("terminationReason"))
    error = M3BusinessError(
        program=program,
        transaction=transaction,
        message=f"not processed: {reason}" if reason else "not processed: the bulk call was terminated",
        error_type="NotProcessed",
    )
    return M3TransactionResult(transaction, [], error)


def _termination(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: body[key] for key in ("terminationReason", "terminationErrorType") if body.get(key)}


def _flag(value: Any) -> bool:
    # Public samples send "wasTerminated": "false" as a string, and a non-empty string is truthy.
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _count(value: Any) -> int:
    # Counts may come as strings ("0") too; anything unreadable counts as none.
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _v1_record(row: Any, program: str, transaction: str) -> dict[str, str]:
    row = _require_object(row, program, transaction)
    record: dict[str, str] = {}
    for pair in _as_list(row.get("NameValue")):
        pair = _require_object(pair, program, transaction)
        name = pair.get("Name")
        if not isinstance(name, str):
            raise M3ProtocolError(f"{program}/{transaction}: NameValue without a Name")
        record[name] = _trim(pair.get("Value"))
    return record


def _v2_record(row: Any, program: str, transaction: str) -> dict[str, str]:
    row = _require_object(row, program, transaction)
    return {str(name): _trim(value) for name, value in row.items()}


def _trim(value: Any) -> str:
    # M3 pads A-fields to their length; ODIN and M3H5 both trim the end of every value.
    return "" if value is None else str(value).rstrip()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_list(value: Any) -> list[Any]:
    # Some serializers send a lone element as an object instead of a one-element array (M3H5).
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _require_object(value: Any, program: str, transaction: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise M3ProtocolError(f"{program}/{transaction}: expected a JSON object, got {type(value).__name__}")
    return value
