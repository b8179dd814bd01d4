"""Position-based records declared as data: the GLS850 PARM layout of GLS840MI AddBatchLine.

A layout (``maps/gl_interface.yaml``) lists fields with 1-based start positions and widths. It is
checked when loaded (no overlaps, no field past ``MAX_LENGTH``), and renders values into one PARM
string and parses one back. Nothing is cut silently: a value that does not fit is refused unless
its field says ``truncate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from mapping.loader import load_declared, parse_file
from mapping.spec import SpecModel
from mapping.values import as_text, is_m3_date, parse_date, to_m3_date

# GLS840MI AddBatchLine PARM is at most 900 characters.
MAX_LENGTH = 900
GL_INTERFACE_FILE = "gl_interface.yaml"

FieldKind = Literal["text", "amount", "date"]
Value = str | Decimal | int | date | None


class FixedWidthError(ValueError):
    """Values that cannot be rendered, or a record that cannot be parsed; one entry per field."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


class FixedField(SpecModel):
    name: str = Field(min_length=1)
    start: int = Field(ge=1)
    """1-based position of the first character."""
    length: int = Field(ge=1)
    type: FieldKind = "text"
    decimals: int | None = Field(default=None, ge=0)
    required: bool = False
    truncate: bool = False

    @property
    def end(self) -> int:
        """1-based position of the last character."""
        return self.start + self.length - 1

    @model_validator(mode="after")
    def _consistent(self) -> FixedField:
        if self.type == "amount" and self.decimals is None:
            raise ValueError(f"{self.name}: an amount needs decimals")
        if self.type != "amount" and self.decimals is not None:
            raise ValueError(f"{self.name}: decimals only apply to amounts")
        if self.truncate and self.type != "text":
            raise ValueError(f"{self.name}: truncate only applies to text")
        if self.type == "date" and self.length != 8:
            raise ValueError(f"{self.name}: a date is 8 characters (YYYYMMDD), not {self.length}")
        if self.type == "amount" and self.decimals is not None and self.length < self.decimals + 3:
            raise ValueError(f"{self.name}: {self.length} characters cannot hold a signed amount")
        return self


class FixedWidthLayout(SpecModel):
    interface: str = Field(min_length=1, max_length=15)
    description: str = ""
    fields: list[FixedField] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> FixedWidthLayout:
        names: set[str] = set()
        previous: FixedField | None = None
        for field in sorted(self.fields, key=lambda f: f.start):
            if field.name in names:
                raise ValueError(f"field {field.name} is declared twice")
            names.add(field.name)
            if previous is not None and field.start <= previous.end:
                raise ValueError(
                    f"{field.name} ({field.start}-{field.end}) overlaps "
                    f"{previous.name} ({previous.start}-{previous.end})"
                )
            if field.end > MAX_LENGTH:
                raise ValueError(f"{field.name} ends at {field.end}, past the {MAX_LENGTH}-character PARM")
            previous = field
        return self

    @property
    def length(self) -> int:
        return max(field.end for field in self.fields)

    def field(self, name: str) -> FixedField:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def render(self, values: Mapping[str, Any]) -> str:
        """The PARM string for ``values`` (field name -> value); raises FixedWidthError."""
        known = {field.name for field in self.fields}
        problems = [
            (name, f"{name}: not a field of interface {self.interface}")
            for name in values
            if name not in known
        ]
        record = [" "] * self.length
        for field in self.fields:
            try:
                text = _format(field, values.get(field.name))
            except ValueError as error:
                problems.append((field.name, f"{field.name}: {error}"))
                continue
            record[field.start - 1 : field.end] = text
        if problems:
            raise FixedWidthError(problems)
        return "".join(record)

    def parse(self, parm: str) -> dict[str, Any]:
        """The values in a PARM string: text as str, amounts as Decimal, dates as date; blank
        fields are left out. Trailing blanks may be missing (M3 trims them)."""
        problems: list[tuple[str, str]] = []
        if len(parm) > self.length and parm[self.length :].strip():
            problems.append(("PARM", f"PARM has text after position {self.length}"))
        record = parm.ljust(self.length)
        values: dict[str, Any] = {}
        for field in self.fields:
            raw = record[field.start - 1 : field.end]
            try:
                value = _read(field, raw)
            except ValueError as error:
                problems.append((field.name, f"{field.name}: {error}"))
                continue
            if value is not None:
                values[field.name] = value
        if problems:
            raise FixedWidthError(problems)
        return values


def _format(field: FixedField, value: Value) -> str:
    text = to_m3_date(value) if isinstance(value, date) else as_text(value).strip()
    if not text:
        if field.required:
            raise ValueError("required value is empty")
        return " " * field.length
    if field.type == "date":
        if not is_m3_date(text):
            try:
                text = to_m3_date(parse_date(text, ["iso"]))
            except ValueError:
                raise ValueError(f"{text!r} is not a date") from None
        return text
    if field.type == "amount":
        return _format_amount(field, text)
    if len(text) > field.length:
        if field.truncate:
            return text[: field.length].ljust(field.length)
        raise ValueError(f"{text!r} is {len(text)} characters, the field holds {field.length}")
    return text.ljust(field.length)


def _format_amount(field: FixedField, text: str) -> str:
    assert field.decimals is not None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    try:
        exact = number.quantize(Decimal(1).scaleb(-field.decimals))
    except InvalidOperation:
        raise ValueError(f"{text} is too large") from None
    if exact != number:
        raise ValueError(f"{text} has more than {field.decimals} decimals")
    if exact == 0:
        exact = abs(exact)  # no "-0.00"
    rendered = format(exact, "f")
    if len(rendered) > field.length:
        raise ValueError(f"{text} needs {len(rendered)} characters, the field holds {field.length}")
    return rendered.rjust(field.length)


def _read(field: FixedField, raw: str) -> Value:
    text = raw.strip()
    if not text:
        if field.required:
            raise ValueError("required value is blank")
        return None
    if field.type == "date":
        if not is_m3_date(text):
            raise ValueError(f"{text!r} is not a date in YYYYMMDD")
        return parse_date(text, ["%Y%m%d"])
    if field.type == "amount":
        if raw != raw.rstrip():
            raise ValueError(f"{raw!r} is not right-aligned")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number") from None
        if not number.is_finite() or "e" in text.lower() or "," in text:
            raise ValueError(f"{text!r} is not a plain decimal number")
        return number
    if raw != raw.lstrip():
        raise ValueError(f"{raw!r} is not left-aligned")
    return raw.rstrip()


@cache
def load_gl_layout() -> FixedWidthLayout:
    """The packaged GLS850 layout (interface BNGJOURNAL), checked."""
    return load_declared(GL_INTERFACE_FILE, FixedWidthLayout)


def load_layout_file(path: str | Path) -> FixedWidthLayout:
    return parse_file(Path(path), FixedWidthLayout)


def render(values: Mapping[str, Any], layout: FixedWidthLayout | None = None) -> str:
    """A GLS840MI AddBatchLine PARM from GLS850 field values (default layout: gl_interface.yaml)."""
    return (layout or load_gl_layout()).render(values)


def parse(parm: str, layout: FixedWidthLayout | None = None) -> dict[str, Any]:
    """The GLS850 field values in a PARM (default layout: gl_interface.yaml)."""
    return (layout or load_gl_layout()).parse(parm)
