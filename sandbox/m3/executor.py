"""Run one MI transaction: look it up, validate its input against the catalogue, call the handler
inside a database transaction, and log the outcome."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.m3 import messages
from sandbox.m3.calllog import CallLog
from sandbox.m3.catalogue import PROGRAMS, FieldType, TransactionDef, lookup
from sandbox.m3.chaos import Chaos
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import Store
from sandbox.m3.messages import MINok
from sandbox.m3.outbox import BodPublisher
from sandbox.m3.protocol import CallOptions, render_rows
from sandbox.m3.transactions import HANDLERS, Context, Record, Row

_NUMBER = re.compile(r"^-?\d*(\.\d*)?$")


@dataclass
class Result:
    program: str
    transaction: str
    definition: TransactionDef | None
    rows: list[Row] = field(default_factory=list)
    error: MINok | None = None


def _check_company(config: M3SandboxConfig, record: Mapping[str, str], opts: CallOptions) -> None:
    cono = (record.get("CONO") or "").strip() or (opts.cono or "").strip()
    if cono and (not cono.isdigit() or int(cono) != config.cono):
        raise messages.not_authorized_company(cono)
    divi = (record.get("DIVI") or "").strip() or (opts.divi or "").strip()
    if divi and divi != config.divi:
        raise messages.not_authorized_division(divi)


def _convert(name: str, kind: FieldType, length: int, text: str) -> Any:
    if kind is FieldType.NUMERIC:
        if not _NUMBER.match(text) or text in ("-", ".", "-."):
            raise messages.not_numeric(name, text)
        digits = text.lstrip("-").split(".")[0].lstrip("0")
        if len(digits) > length:
            raise messages.field_too_long(name, length)
        try:
            return Decimal(text)
        except InvalidOperation as exc:
            raise messages.not_numeric(name, text) from exc
    if kind is FieldType.DATE:
        try:
            if len(text) != 8 or not text.isdigit():
                raise ValueError(text)
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError as exc:
            raise messages.invalid_date(name, text) from exc
    if len(text) > length:
        raise messages.field_too_long(name, length)
    return text


def validate(
    definition: TransactionDef, record: Mapping[str, str], opts: CallOptions, config: M3SandboxConfig
) -> dict[str, Any]:
    """Input record -> typed values; unknown fields are ignored, as M3 does."""
    _check_company(config, record, opts)
    values: dict[str, Any] = {}
    for inp in definition.inputs:
        name = inp.field.name
        text = (record.get(name) or "").strip()
        if not text:
            if inp.required:
                raise messages.mandatory_field(name, inp.field.description)
            continue
        values[name] = _convert(name, inp.field.type, inp.field.length, text)
    return values


class Executor:
    def __init__(
        self, store: Store, config: M3SandboxConfig, bods: BodPublisher, calls: CallLog, chaos: Chaos
    ) -> None:
        self.store, self.config, self.bods, self.calls, self.chaos = store, config, bods, calls, chaos

    def run(
        self, api: str, program: str, transaction: str, record: dict[str, str], opts: CallOptions
    ) -> Result:
        result = self._run(api, program, transaction, record, opts)
        error = result.error
        response = None
        if error is None and result.definition is not None and result.rows:
            trimmed = CallOptions(righttrim=True)
            response = dict(render_rows(result.definition, result.rows[:1], trimmed)[0])
        self.calls.add(
            api=api,
            program=program,
            transaction=transaction,
            record=record,
            outcome="ok" if error is None else "nok",
            code=error.code if error else "",
            field=error.field if error else "",
            message=error.message if error else "",
            response=response,
        )
        return result

    def _run(
        self, api: str, program: str, transaction: str, record: dict[str, str], opts: CallOptions
    ) -> Result:
        definition = lookup(program, transaction)
        result = Result(program, transaction, definition)
        if definition is None:
            result.error = (
                messages.transaction_not_found(program, transaction)
                if program in PROGRAMS
                else messages.program_not_found(program)
            )
            return result
        handler = HANDLERS[(program, transaction)]
        try:
            values = validate(definition, record, opts, self.config)
            with self.store.transaction() as session:
                maxrecs = opts.maxrecs if definition.is_list else 0
                ctx = Context(session, self.config, self.bods, datetime.now(UTC), maxrecs)
                rows = handler(ctx, Record(values))
        except MINok as error:
            result.error = error
            return result
        self.bods.wake()
        if definition.is_list:
            if opts.maxrecs > 0:
                rows = rows[: opts.maxrecs]
            fail_after = self.chaos.knobs.partial_list_error_after
            if api == "v1" and fail_after is not None and len(rows) > fail_after:
                rows = rows[:fail_after]
                result.error = messages.list_interrupted(fail_after)
        result.rows = rows
        return result
