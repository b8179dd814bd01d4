"""Check a BNG journal against the declared journal map and build its GLS840MI batch.

Pure: no Temporal, no I/O beyond the packaged YAML. A journal is valid when each line is exactly
one of a debit or a credit, debits equal credits in every currency, the accounting date is in an
open period (``maps/gl_settings.yaml``) and every account and cost centre is mapped
(``gl_accounts``, ``gl_cost_centres`` in ``maps/lookups.yaml``). A valid journal becomes one
GLS840MI batch: KEY1 (``batch_key``), the AddBatchHead fields and one (LINE, PARM) per line, the
PARM laid out by ``maps/gl_interface.yaml``.

A refund is booked through the same check: ``refund_journal`` turns it into a two-line journal.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from activities.models import FieldIssue
from mapping.engine import apply_mapping
from mapping.finance import GlSettings, RefundPosting, load_gl_settings
from mapping.fixed_width import FixedWidthError, FixedWidthLayout, load_gl_layout
from mapping.loader import load_lookups, load_mapping
from mapping.spec import LookupTables, MappingSpec
from mapping.values import as_text, is_empty, parse_date

JOURNAL_MAP = "journal.bng_to_m3"
JOURNAL_PREFIX = "J"
REFUND_PREFIX = "R"
KEY1_LENGTH = 15
# The GLS840MI AddBatchHead inputs among the journal map's head fields.
BATCH_HEAD_FIELDS = ("DIVI", "KEY1", "INTN", "DESC")
MONEY_PLACES = 2

_KEY_CHARS = re.compile(r"[A-Za-z0-9_-]+")
# Which BNG field a line's M3 dimension comes from, and how to name it to a person.
_DIMENSIONS = {
    "AIT1": ("Account", "account", "gl_accounts"),
    "AIT2": ("CostCenter", "cost centre", "gl_cost_centres"),
}


class CurrencyTotal(BaseModel):
    currency: str
    debit: Decimal
    credit: Decimal

    @property
    def difference(self) -> Decimal:
        return self.debit - self.credit


class JournalCheck(BaseModel):
    """The outcome of ``check_journal``: issues, or the GLS840MI batch to send."""

    key: str
    """KEY1, the batch key (also when the journal has issues)."""
    head: dict[str, str] = {}
    """AddBatchHead inputs: DIVI (if given), KEY1, INTN, DESC."""
    lines: list[tuple[int, str]] = []
    """AddBatchLine inputs (LINE, PARM); empty unless the journal is valid."""
    totals: list[CurrencyTotal] = []
    issues: list[FieldIssue] = []

    @property
    def ok(self) -> bool:
        return not self.issues


def batch_key(kind_prefix: str, document_id: str) -> str:
    """KEY1 for a BNG document: deterministic, at most 15 characters of [A-Za-z0-9_-].

    ``kind_prefix`` + the id when that fits; otherwise the prefix and a base32 SHA-256 of the id
    (14 characters, 70 bits), so a long or odd id still gets a stable key of its own.
    """
    if not _KEY_CHARS.fullmatch(kind_prefix) or len(kind_prefix) >= KEY1_LENGTH:
        raise ValueError(f"batch key prefix {kind_prefix!r} must be 1-14 characters of [A-Za-z0-9_-]")
    if not document_id:
        raise ValueError("a batch key needs a document id")
    candidate = kind_prefix + document_id
    if len(candidate) <= KEY1_LENGTH and _KEY_CHARS.fullmatch(document_id):
        return candidate
    digest = base64.b32encode(hashlib.sha256(document_id.encode("utf-8")).digest()).decode("ascii")
    return kind_prefix + digest[: KEY1_LENGTH - len(kind_prefix)]


def check_journal(
    journal: Mapping[str, Any],
    *,
    key_prefix: str = JOURNAL_PREFIX,
    division: str | None = None,
    settings: GlSettings | None = None,
    spec: MappingSpec | None = None,
    lookups: LookupTables | None = None,
    layout: FixedWidthLayout | None = None,
) -> JournalCheck:
    """Validate ``journal`` (``Journal.model_dump(mode="json")``) and build its GLS840MI batch."""
    settings = settings or load_gl_settings()
    spec = spec or load_mapping(JOURNAL_MAP)
    lookups = lookups or load_lookups()
    layout = layout or load_gl_layout()

    issues: list[FieldIssue] = []
    document_id = as_text(journal.get("JournalID")).strip()
    if not document_id:
        issues.append(FieldIssue(field="JournalID", source="JournalID", message="JournalID is empty"))
        key = ""
    else:
        key = batch_key(key_prefix, document_id)

    accounting_date = _accounting_date(journal, settings, issues)
    raw_lines = journal.get("Lines")
    lines: list[Mapping[str, Any]] = (
        [item for item in raw_lines if isinstance(item, Mapping)] if isinstance(raw_lines, list) else []
    )
    if len(lines) < 2 or not isinstance(raw_lines, list) or len(lines) != len(raw_lines):
        issues.append(FieldIssue(field="Lines", source="Lines", message="a journal needs at least two lines"))

    numbers = _line_numbers(lines, issues)
    totals = _totals(lines, numbers, issues)
    for total in totals:
        if total.difference != 0:
            issues.append(
                FieldIssue(
                    field="Lines",
                    source="Lines",
                    message=f"{total.currency}: debits {total.debit:,.2f}, credits {total.credit:,.2f}, "
                    f"difference {abs(total.difference):,.2f}",
                )
            )

    context = {"KEY1": key, "INTN": layout.interface, "DIVI": division}
    mapped = apply_mapping(spec, journal, context=context, lookups=lookups)
    for error in mapped.errors:
        if error.field == "ACDT" and accounting_date is None:
            continue  # already reported by _accounting_date
        if error.line is None:
            issues.append(FieldIssue(field=error.field, source=error.source, message=error.message))
            continue
        line = lines[error.line - 1] if error.line <= len(lines) else {}
        number = numbers[error.line - 1] if error.line <= len(numbers) else error.line
        issues.append(_line_issue(error.field, error.source, error.message, line, number))

    head = {name: mapped.values[name] for name in BATCH_HEAD_FIELDS if name in mapped.values}
    if issues:
        return JournalCheck(key=key, head=head, totals=totals, issues=issues)

    batch: list[tuple[int, str]] = []
    for number, values in zip(numbers, mapped.lines, strict=True):
        try:
            batch.append((number, layout.render(values)))
        except FixedWidthError as error:
            for field, message in error.problems:
                issues.append(FieldIssue(field=field, message=f"line {number}: {message}", line=number))
    if issues:
        return JournalCheck(key=key, head=head, totals=totals, issues=issues)
    return JournalCheck(key=key, head=head, lines=batch, totals=totals)


def refund_journal(
    refund: Mapping[str, Any], accounts: RefundPosting | None = None, *, settings: GlSettings | None = None
) -> dict[str, Any]:
    """A BNG-shaped journal for a refund (``Refund.model_dump(mode="json")``): debit the refunds
    account, credit card clearing, for the amount in the refund's currency. Check it with
    ``check_journal(..., key_prefix=REFUND_PREFIX)``; its JournalID is the RefundID."""
    if accounts is None:
        accounts = (settings or load_gl_settings()).refund
    refund_id = as_text(refund.get("RefundID")).strip()
    amount = as_text(refund.get("Amount")).strip()
    currency = as_text(refund.get("Currency")).strip().upper()
    refunded_at = refund.get("RefundedAt")
    journal_date = parse_date(refunded_at, ["iso"]).isoformat() if not is_empty(refunded_at) else None
    description = f"Refund {refund_id} order {as_text(refund.get('OrderID')).strip()}"
    reason = as_text(refund.get("Reason")).strip()
    line_text = f"{description}: {reason}" if reason else description
    common = {"CostCenter": accounts.cost_center, "Currency": currency, "Description": line_text}
    return {
        "JournalID": refund_id,
        "JournalDate": journal_date,
        "Description": description,
        "Lines": [
            {"LineNumber": 1, "Account": accounts.debit_account, "Debit": amount, "Credit": "0", **common},
            {"LineNumber": 2, "Account": accounts.credit_account, "Debit": "0", "Credit": amount, **common},
        ],
    }


def _accounting_date(
    journal: Mapping[str, Any], settings: GlSettings, issues: list[FieldIssue]
) -> date | None:
    raw = journal.get("JournalDate")
    if is_empty(raw):
        issues.append(FieldIssue(field="JournalDate", source="JournalDate", message="JournalDate is empty"))
        return None
    try:
        accounting_date = parse_date(raw, ["iso"])
    except ValueError as error:
        issues.append(FieldIssue(field="JournalDate", source="JournalDate", message=f"JournalDate: {error}"))
        return None
    if not settings.is_open(accounting_date):
        issues.append(
            FieldIssue(
                field="JournalDate",
                source="JournalDate",
                message=f"JournalDate {accounting_date.isoformat()} is in a closed period: "
                f"postings are open from {settings.open_from.isoformat()}",
            )
        )
    return accounting_date


def _line_numbers(lines: list[Mapping[str, Any]], issues: list[FieldIssue]) -> list[int]:
    """Each line's LineNumber (its GLS840MI LINE); its position when the number is unusable."""
    numbers: list[int] = []
    seen: set[int] = set()
    for position, line in enumerate(lines, start=1):
        raw = line.get("LineNumber")
        number = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
        if number is None and isinstance(raw, str) and raw.strip().isdigit():
            number = int(raw.strip())
        if number is None or number < 1:
            issues.append(
                FieldIssue(
                    field="LineNumber",
                    source="LineNumber",
                    message=f"line at position {position}: LineNumber {raw!r} is not a positive whole number",
                    line=position,
                )
            )
            number = position
        elif number in seen:
            issues.append(
                FieldIssue(
                    field="LineNumber",
                    source="LineNumber",
                    message=f"line {number}: LineNumber {number} is used twice",
                    line=number,
                )
            )
        seen.add(number)
        numbers.append(number)
    return numbers


def _totals(
    lines: list[Mapping[str, Any]], numbers: list[int], issues: list[FieldIssue]
) -> list[CurrencyTotal]:
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for line, number in zip(lines, numbers, strict=True):
        debit = _amount(line, "Debit", number, issues)
        credit = _amount(line, "Credit", number, issues)
        if debit is None or credit is None:
            continue
        if (debit > 0) == (credit > 0):
            which = "both a Debit and a Credit" if debit > 0 else "neither a Debit nor a Credit"
            issues.append(
                FieldIssue(
                    field="Debit",
                    source="Debit",
                    message=f"line {number}: has {which}; a line is exactly one of them, above zero",
                    line=number,
                )
            )
            continue
        currency = as_text(line.get("Currency")).strip().upper()
        if not currency:
            continue  # the map reports the missing currency
        debits[currency] = debits.get(currency, Decimal(0)) + debit
        credits[currency] = credits.get(currency, Decimal(0)) + credit
    return [CurrencyTotal(currency=c, debit=debits[c], credit=credits[c]) for c in sorted(debits)]


def _amount(line: Mapping[str, Any], field: str, number: int, issues: list[FieldIssue]) -> Decimal | None:
    raw = line.get(field)
    if is_empty(raw):
        return Decimal(0)
    text = as_text(raw).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    problem = None
    if not amount.is_finite():
        problem = f"{field} {text!r} is not a number"
    elif amount < 0:
        problem = f"{field} {text} is negative; use the other column"
    elif amount != amount.quantize(Decimal(1).scaleb(-MONEY_PLACES)):
        problem = f"{field} {text} has more than {MONEY_PLACES} decimals"
    if problem is not None:
        issues.append(FieldIssue(field=field, source=field, message=f"line {number}: {problem}", line=number))
        return None
    return amount


def _line_issue(
    target: str, source: str | None, message: str, line: Mapping[str, Any], number: int
) -> FieldIssue:
    """A map error on a line, named by the BNG line number and, for a dimension, its value."""
    if target in _DIMENSIONS and "is not in lookup table" in message:
        field, label, table = _DIMENSIONS[target]
        value = as_text(line.get(field)).strip()
        return FieldIssue(
            field=field,
            source=field,
            message=f"line {number}: {label} {value!r} is not mapped to M3 {target} (lookup table {table})",
            line=number,
        )
    detail = message.split(": ", 1)[1] if ": " in message else message
    return FieldIssue(field=target, source=source, message=f"line {number}: {target}: {detail}", line=number)
