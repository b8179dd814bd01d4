"""The declared shape of a mapping: what a YAML file in ``mapping/maps/`` may say.

A mapping is data, not code: each M3 field gets a ``FieldRule`` that names exactly one value
source (a path, a constant, a concatenation, a lookup, a date or a conditional). The engine in
``mapping.engine`` interprets these rules; nothing here touches a record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FieldType = Literal["A", "N", "D"]
Transform = Literal["upper", "lower", "strip"]

CONTEXT_PREFIX = "context."
# Line rules may read the head's mapped M3 values, e.g. ``head.WHLO``.
HEAD_PREFIX = "head."

VALUE_SOURCE_KINDS = ("source", "constant", "concat", "lookup", "date", "when", "sum")


class MappingSpecError(ValueError):
    """A mapping or lookup file is malformed or refers to something that does not exist."""


class SpecModel(BaseModel):
    # A typo in a YAML key must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Concat(SpecModel):
    sources: list[str] = Field(min_length=1)
    separator: str = " "


class LookupRef(SpecModel):
    table: str
    source: str
    # Used when the key is not in the table; wins over the table's own default.
    default: str | None = None


class DateSource(SpecModel):
    source: str
    # "iso" accepts ISO-8601 dates and datetimes; anything else is a strptime format.
    formats: list[str] = Field(default_factory=lambda: ["iso"], min_length=1)


class SumSource(SpecModel):
    """Numbers added and subtracted, e.g. a signed amount ``Debit - Credit``; an empty value is 0."""

    add: list[str] = Field(min_length=1)
    subtract: list[str] = Field(default_factory=list)


class Condition(SpecModel):
    field: str
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [name for name in ("equals", "in_", "exists") if name in self.model_fields_set]
        if len(tests) != 1:
            raise ValueError(f"condition on {self.field!r} needs exactly one of equals, in, exists")
        return self


class WhenBranch(SpecModel):
    if_: Condition = Field(alias="if")
    then: ValueSource


class ValueSource(SpecModel):
    """Where a value comes from. Exactly one of the kinds is set; ``else`` only goes with ``when``."""

    model_config = ConfigDict(coerce_numbers_to_str=True)

    source: str | None = None
    constant: str | None = None
    concat: Concat | None = None
    lookup: LookupRef | None = None
    date: DateSource | None = None
    when: list[WhenBranch] | None = Field(default=None, min_length=1)
    else_: ValueSource | None = Field(default=None, alias="else")
    sum: SumSource | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ValueSource:
        kinds = [kind for kind in VALUE_SOURCE_KINDS if getattr(self, kind) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(f"needs exactly one of {', '.join(VALUE_SOURCE_KINDS)} (found: {found})")
        if self.else_ is not None and self.when is None:
            raise ValueError("'else' is only allowed together with 'when'")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in VALUE_SOURCE_KINDS if getattr(self, kind) is not None)

    def paths(self) -> Iterator[str]:
        """Every record/context path this source may read."""
        if self.source is not None:
            yield self.source
        if self.concat is not None:
            yield from self.concat.sources
        if self.lookup is not None:
            yield self.lookup.source
        if self.date is not None:
            yield self.date.source
        if self.sum is not None:
            yield from self.sum.add
            yield from self.sum.subtract
        for branch in self.when or []:
            yield branch.if_.field
            yield from branch.then.paths()
        if self.else_ is not None:
            yield from self.else_.paths()

    def lookup_tables(self) -> Iterator[str]:
        if self.lookup is not None:
            yield self.lookup.table
        for branch in self.when or []:
            yield from branch.then.lookup_tables()
        if self.else_ is not None:
            yield from self.else_.lookup_tables()


class FieldRule(ValueSource):
    """One M3 field: where its value comes from and what M3 accepts."""

    target: str = Field(min_length=1)
    type: FieldType = "A"
    length: int | None = Field(default=None, gt=0)
    required: bool = False
    truncate: bool = False
    default: str | None = None
    transform: list[Transform] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent_type(self) -> FieldRule:
        if self.truncate and self.type != "A":
            raise ValueError(f"{self.target}: truncate only applies to type A fields")
        if self.truncate and self.length is None:
            raise ValueError(f"{self.target}: truncate needs a length")
        return self


class LineMapping(SpecModel):
    source: str = Field(min_length=1)
    fields: list[FieldRule] = Field(min_length=1)
    # Source lines for which this holds are left out, e.g. a line the buyer cancelled.
    skip_if: Condition | None = None


class MappingSpec(SpecModel):
    entity: str
    source_system: str
    target_system: str
    description: str = ""
    fields: list[FieldRule] = Field(min_length=1)
    lines: LineMapping | None = None

    @model_validator(mode="after")
    def _well_formed(self) -> MappingSpec:
        _reject_duplicate_targets(self.fields, where="fields")
        for rule in self.fields:
            if any(path.startswith(HEAD_PREFIX) for path in rule.paths()):
                raise ValueError(f"{rule.target}: '{HEAD_PREFIX}' paths are only allowed in line rules")
        if self.lines is not None:
            _reject_duplicate_targets(self.lines.fields, where="lines.fields")
        return self

    def all_rules(self) -> Iterator[FieldRule]:
        yield from self.fields
        if self.lines is not None:
            yield from self.lines.fields

    def check_lookups(self, lookups: LookupTables) -> None:
        """Fail if a rule names a lookup table that ``lookups`` does not have."""
        for rule in self.all_rules():
            for table in rule.lookup_tables():
                if table not in lookups.tables:
                    known = ", ".join(sorted(lookups.tables)) or "none"
                    raise MappingSpecError(
                        f"{self.entity}: field {rule.target} uses unknown lookup table {table!r} "
                        f"(known: {known})"
                    )


class LookupTable(SpecModel):
    # YAML turns unquoted 20 into an int; M3 codes are text, so numbers become strings.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    description: str = ""
    values: dict[str, str]
    # Used for any key not in ``values``; None means a missing key is an error.
    default: str | None = None


class LookupTables(SpecModel):
    tables: dict[str, LookupTable] = Field(default_factory=dict)


def _reject_duplicate_targets(rules: list[FieldRule], *, where: str) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.target in seen:
            raise ValueError(f"{where}: target {rule.target} is mapped twice")
        seen.add(rule.target)


WhenBranch.model_rebuild()
