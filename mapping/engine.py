"""Apply a ``MappingSpec`` to one source record and get M3 field values, or every reason why not.

The engine never raises for bad data: each problem becomes a ``FieldError`` so that a dead-letter
entry can list all of them at once. Empty optional values are left out of the result, so an MI
call does not overwrite M3's own defaults with blanks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

from mapping.spec import (
    CONTEXT_PREFIX,
    HEAD_PREFIX,
    Condition,
    FieldRule,
    LookupTables,
    MappingSpec,
    SumSource,
    ValueSource,
)
from mapping.values import (
    as_text,
    count_digits,
    is_empty,
    is_m3_date,
    parse_date,
    to_m3_date,
    to_m3_number,
)

# Long values are shown shortened in error messages; the message must stay readable in a DLQ list.
_SHOWN_CHARS = 40


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    """The M3 target field, e.g. "CUOR"."""
    source: str | None
    """The source path(s) the value came from, e.g. "OrderID"; None for constants."""
    message: str
    line: int | None = None
    """1-based position in the source list for line fields; None for head fields."""

    def __str__(self) -> str:
        return self.message


class MappingResult(BaseModel):
    values: dict[str, str]
    lines: list[dict[str, str]]
    errors: list[FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


class _ValueProblem(Exception):
    def __init__(self, message: str, source: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


class _MissingLookupKey(_ValueProblem):
    """A key that is not in the table; the rule's own default may still rescue it."""


@dataclass(frozen=True)
class _Scope:
    record: Mapping[str, Any]
    context: Mapping[str, Any]
    head: Mapping[str, str] | None = None

    def read(self, path: str) -> Any:
        if path.startswith(CONTEXT_PREFIX):
            return _dig(self.context, path.removeprefix(CONTEXT_PREFIX))
        if self.head is not None and path.startswith(HEAD_PREFIX):
            return self.head.get(path.removeprefix(HEAD_PREFIX))
        return _dig(self.record, path)


def apply_mapping(
    spec: MappingSpec,
    record: Mapping[str, Any],
    *,
    context: Mapping[str, Any] | None = None,
    lookups: LookupTables,
) -> MappingResult:
    """Map ``record`` (a plain dict, e.g. ``Order.model_dump(mode="json")``) to M3 field values.

    Paths starting with "context." read ``context``; line rules may also read the head's mapped
    values as "head.<M3 field>".
    """
    mapper = _Mapper(lookups)
    scope = _Scope(record=record, context=context or {})
    values = mapper.map_fields(spec.fields, scope, line=None)
    lines: list[dict[str, str]] = []
    if spec.lines is not None:
        items = scope.read(spec.lines.source)
        if is_empty(items):
            items = []
        if not isinstance(items, list | tuple):
            mapper.errors.append(
                FieldError(
                    field=spec.lines.source,
                    source=spec.lines.source,
                    message=f"{spec.lines.source}: expected a list, got {type(items).__name__}",
                )
            )
            items = []
        for position, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                mapper.errors.append(
                    FieldError(
                        field=spec.lines.source,
                        source=spec.lines.source,
                        message=f"{spec.lines.source}[{position}]: expected an object, "
                        f"got {type(item).__name__}",
                        line=position,
                    )
                )
                continue
            line_scope = _Scope(record=item, context=scope.context, head=values)
            if spec.lines.skip_if is not None and _holds(spec.lines.skip_if, line_scope):
                continue
            lines.append(mapper.map_fields(spec.lines.fields, line_scope, line=position))
    return MappingResult(values=values, lines=lines, errors=mapper.errors)


class _Mapper:
    def __init__(self, lookups: LookupTables) -> None:
        self.lookups = lookups
        self.errors: list[FieldError] = []

    def map_fields(self, rules: list[FieldRule], scope: _Scope, *, line: int | None) -> dict[str, str]:
        values: dict[str, str] = {}
        for rule in rules:
            try:
                value = self.map_field(rule, scope)
            except _ValueProblem as problem:
                where = rule.target if line is None else f"{rule.target} (line {line})"
                suffix = f" (from {problem.source})" if problem.source else ""
                self.errors.append(
                    FieldError(
                        field=rule.target,
                        source=problem.source,
                        message=f"{where}: {problem.message}{suffix}",
                        line=line,
                    )
                )
                continue
            if value is not None:
                values[rule.target] = value
        return values

    def map_field(self, rule: FieldRule, scope: _Scope) -> str | None:
        try:
            raw, source = self.resolve(rule, scope)
        except _MissingLookupKey:
            if rule.default is None:
                raise
            raw, source = rule.default, None
        text = as_text(raw)
        for transform in rule.transform:
            text = _TRANSFORMS[transform](text)
        if is_empty(text) and rule.default is not None:
            text = rule.default
        if is_empty(text):
            if rule.required:
                raise _ValueProblem("required value is empty", source)
            return None
        return _fit(rule, text, source)

    def resolve(self, spec: ValueSource, scope: _Scope) -> tuple[Any, str | None]:
        """The raw value and the path(s) it came from."""
        if spec.source is not None:
            return scope.read(spec.source), spec.source
        if spec.constant is not None:
            return spec.constant, None
        if spec.concat is not None:
            parts = (as_text(scope.read(path)).strip() for path in spec.concat.sources)
            joined = spec.concat.separator.join(part for part in parts if part)
            return joined, "+".join(spec.concat.sources)
        if spec.lookup is not None:
            return self.look_up(spec, scope), spec.lookup.source
        if spec.date is not None:
            raw = scope.read(spec.date.source)
            if is_empty(raw):
                return None, spec.date.source
            try:
                return to_m3_date(parse_date(raw, spec.date.formats)), spec.date.source
            except ValueError as error:
                raise _ValueProblem(str(error), spec.date.source) from None
        if spec.sum is not None:
            return _add_up(spec.sum, scope)
        for branch in spec.when or []:
            if _holds(branch.if_, scope):
                return self.resolve(branch.then, scope)
        if spec.else_ is not None:
            return self.resolve(spec.else_, scope)
        return None, None

    def look_up(self, spec: ValueSource, scope: _Scope) -> str | None:
        assert spec.lookup is not None
        ref = spec.lookup
        key = scope.read(ref.source)
        if is_empty(key):
            return None
        table = self.lookups.tables.get(ref.table)
        if table is None:
            raise _ValueProblem(f"unknown lookup table {ref.table!r}", ref.source)
        text_key = as_text(key).strip()
        if text_key in table.values:
            return table.values[text_key]
        fallback = ref.default if ref.default is not None else table.default
        if fallback is not None:
            return fallback
        raise _MissingLookupKey(f"{text_key!r} is not in lookup table {ref.table}", ref.source)


def _fit(rule: FieldRule, text: str, source: str | None) -> str:
    """Convert to the M3 type and enforce the length."""
    if rule.type == "N":
        try:
            number = to_m3_number(text)
        except ValueError as error:
            raise _ValueProblem(str(error), source) from None
        if rule.length is not None and count_digits(number) > rule.length:
            raise _ValueProblem(
                f"value {number} has {count_digits(number)} digits, M3 allows {rule.length}", source
            )
        return number
    if rule.type == "D":
        if not is_m3_date(text):
            raise _ValueProblem(f"value {_shown(text)!r} is not a date in YYYYMMDD", source)
        return text
    if rule.length is not None and len(text) > rule.length:
        if rule.truncate:
            return text[: rule.length].rstrip()
        raise _ValueProblem(
            f"value {_shown(text)!r} is {len(text)} characters, M3 allows {rule.length}", source
        )
    return text


def _add_up(spec: SumSource, scope: _Scope) -> tuple[Decimal, str]:
    total = Decimal(0)
    for sign, paths in ((1, spec.add), (-1, spec.subtract)):
        for path in paths:
            raw = scope.read(path)
            if is_empty(raw):
                continue
            text = as_text(raw).strip()
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise _ValueProblem(f"{_shown(text)!r} is not a number", path) from None
            if not number.is_finite():
                raise _ValueProblem(f"{_shown(text)!r} is not a finite number", path)
            total += sign * number
    described = "+".join(spec.add) + "".join(f"-{path}" for path in spec.subtract)
    return total, described


def _holds(condition: Condition, scope: _Scope) -> bool:
    value = scope.read(condition.field)
    if condition.exists is not None:
        return (not is_empty(value)) == condition.exists
    text = as_text(value).strip()
    if condition.in_ is not None:
        return any(text == as_text(option).strip() for option in condition.in_)
    # Compare as text: YAML "equals: 20" must match a record's "20".
    return text == as_text(condition.equals).strip()


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "strip": str.strip,
}
