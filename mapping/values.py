"""Turning Python values into the text M3 MI transactions accept.

M3's REST API takes every field as a string: A fields as text, N fields as plain decimals with a
"." separator, D fields as YYYYMMDD.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

ISO = "iso"


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def as_text(value: Any) -> str:
    """The plain text of a record value; None is ""."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return as_text(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def to_m3_number(text: str) -> str:
    """A plain decimal string: no exponent, no grouping, "." separator, no trailing zeros.

    Raises ValueError for anything that is not a finite number.
    """
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    if number == 0:
        return "0"  # also turns "-0" and "0E-3" into "0"
    return format(number.normalize(), "f")


def count_digits(m3_number: str) -> int:
    return sum(char.isdigit() for char in m3_number)


def parse_date(value: Any, formats: Sequence[str]) -> date:
    """Read a date in the first of ``formats`` that fits; raises ValueError if none does.

    An ISO datetime keeps the calendar date as written, offset and all: the order date is the
    business day the sender saw, not the day in UTC.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = as_text(value).strip()
    for fmt in formats:
        try:
            if fmt == ISO:
                return datetime.fromisoformat(text).date()
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"cannot read date {text!r} (expected {', '.join(formats)})")


def to_m3_date(value: date) -> str:
    # Not strftime: "%Y" does not zero-pad years below 1000 on every platform.
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def is_m3_date(text: str) -> bool:
    if len(text) != 8 or not text.isdigit():
        return False
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True
