"""Input values for MI transactions: M3 wants strings, dates as YYYYMMDD and "." as decimal point."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

M3Value = str | int | Decimal | date | None

_FIELD_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def format_value(value: str | int | Decimal | date) -> str:
    """One input value as M3 expects it, independent of the M3 user's locale settings."""
    # bool is an int subclass: True would silently become "1". Say what M3 should get instead.
    if isinstance(value, bool):
        raise TypeError("bool is not an M3 value: pass the code M3 expects, e.g. 1/0 or '1'/'0'")
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"M3 cannot take a non-finite decimal: {value}")
        return format(value, "f")
    if isinstance(value, datetime):
        raise TypeError("datetime is ambiguous for M3 dates: pass a date (value.date())")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    raise TypeError(f"unsupported M3 value type {type(value).__name__}; use str, int, Decimal or date")


def format_record(record: Mapping[str, M3Value] | None) -> dict[str, str]:
    """The record as M3 strings, in the caller's order; ``None`` values are left out."""
    formatted: dict[str, str] = {}
    for name, value in (record or {}).items():
        if not _FIELD_NAME.match(name):
            raise ValueError(f"not an M3 field name: {name!r}")
        if value is not None:
            formatted[name] = format_value(value)
    return formatted


def with_company(record: dict[str, str], *, cono: int | None, divi: str | None) -> dict[str, str]:
    """Add CONO/DIVI from the client's configuration unless the caller set them."""
    defaults: dict[str, str] = {}
    if cono is not None and "CONO" not in record:
        defaults["CONO"] = str(cono)
    if divi and "DIVI" not in record:
        defaults["DIVI"] = divi
    return {**defaults, **record}
