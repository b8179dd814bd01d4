"""Three-way match of a supplier invoice against its PO lines and goods receipts, in m3bng.

Pure: no Temporal, no I/O beyond the packaged YAML. The rules are M3's APS900 rules as declared in
``maps/match_tolerances.yaml``, with the semantics the M3 sandbox's APS455MI/ValidByBatchNo uses:

- A variance is within tolerance only when it is within BOTH its percent and its amount (units).
- Price (rule 1): per invoice line, percent = (invoice price - PO price) / PO price x 100, amount =
  (invoice price - PO price) x invoiced quantity. Both directions count.
- Quantity (rule 2): per invoice line, the invoiced quantity against what is received and not yet
  invoiced (RVQA - IVQA), less what earlier lines of this invoice took from the same PO line;
  percent of that open quantity. Both directions count (as in the sandbox: invoicing fewer than
  received is a variance too).
- Invoice amount (rule 3): TotalAmount against the sum of the line amounts (quantity x price,
  each rounded to cents: the NLAM sent) plus TaxAmount; percent of TotalAmount.
- A percent against a zero base (PO price 0, nothing open) is out of tolerance unless the
  difference is zero. Variances are compared unrounded; amounts shown and booked are rounded
  half-up to cents. A deleted PO line (status 99) is not matched.

The result names every problem in plain English and suggests what an operator can do:
``accept_price_difference`` (with the adjusted APS450MI line plan), ``wait_for_receipt`` and
``reject``. A matched invoice comes with its APS450MI AddLine plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mapping.finance import MatchTolerances, PercentAndAmount, ToleranceSet, load_match_tolerances
from mapping.values import as_text, to_m3_number

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
RECEIPT_LINE = 1  # APS450MI RDTP 1: item / goods-receipt line
ACCOUNTING_LINE = 8  # APS450MI RDTP 8: accounting line
DELETED = "99"  # PO line status

SuggestionKind = Literal["accept_price_difference", "wait_for_receipt", "reject"]


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- inputs ----------------------------------------------------------------------------------


class InvoiceLineToMatch(BaseModel):
    line: int
    """The BNG invoice LineNumber."""
    PUNO: str | None
    """The M3 PO (from the cross-reference); None when the BNG PO is not in M3."""
    PNLI: int
    quantity: Decimal
    unit_price: Decimal
    ITNO: str | None = None
    purchase_order_id: str | None = None
    """The BNG PurchaseOrderID, for messages."""


class PoLine(BaseModel):
    """A PO line as PPS200MI GetLine/LstLine returns it (extra columns are ignored)."""

    model_config = ConfigDict(extra="ignore")

    PUNO: str
    PNLI: int
    PNLS: int = 0
    ITNO: str
    PUSL: str | None = None
    """Lowest line status; "99" = deleted."""
    ORQA: Decimal
    PUPR: Decimal
    RVQA: Decimal = Decimal(0)
    IVQA: Decimal = Decimal(0)

    @field_validator("PNLS", "RVQA", "IVQA", mode="before")
    @classmethod
    def _blank_is_zero(cls, value: Any) -> Any:
        # M3 may send an untouched numeric column as "" (or blanks).
        return 0 if isinstance(value, str) and not value.strip() else value


class InvoiceToMatch(BaseModel):
    SUNO: str | None = None
    total_amount: Decimal
    tax_amount: Decimal = Decimal(0)
    lines: list[InvoiceLineToMatch]


# --- outputs ---------------------------------------------------------------------------------


class InvoiceLinePlan(BaseModel):
    """One APS450MI AddLine (without INBN)."""

    RDTP: int
    PUNO: str | None = None
    PNLI: int | None = None
    PNLS: str | None = None
    IVQA: Decimal | None = None
    GRPR: Decimal | None = None
    NLAM: Decimal
    ITNO: str | None = None
    AIT1: str | None = None
    VTXT: str | None = None

    def mi_fields(self) -> dict[str, str]:
        """The AddLine input fields as M3 text; empty ones left out."""
        fields: dict[str, str] = {"RDTP": str(self.RDTP)}
        if self.PUNO is not None:
            fields["PUNO"] = self.PUNO
        if self.PNLI is not None:
            fields["PNLI"] = str(self.PNLI)
        if self.PNLS is not None:
            fields["PNLS"] = self.PNLS
        if self.IVQA is not None:
            fields["IVQA"] = to_m3_number(as_text(self.IVQA))
        if self.GRPR is not None:
            fields["GRPR"] = to_m3_number(as_text(self.GRPR))
        fields["NLAM"] = format(money(self.NLAM), "f")
        for name in ("ITNO", "AIT1", "VTXT"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        return fields


class LineMatch(BaseModel):
    line: int
    PUNO: str | None
    PNLI: int
    ITNO: str | None = None
    quantity: Decimal
    unit_price: Decimal
    found: bool
    """The PO line exists in M3."""
    po_price: Decimal | None = None
    open_quantity: Decimal | None = None
    """Received and not yet invoiced, before this line (RVQA - IVQA - earlier lines)."""
    still_expected: Decimal | None = None
    """Ordered and not yet received (ORQA - RVQA)."""
    price_difference: Decimal | None = None
    """Invoice price - PO price, per unit."""
    price_percent: Decimal | None = None
    """Of the PO price, rounded to 2 places; None when the PO price is 0 (and the prices differ)."""
    price_amount: Decimal | None = None
    """(Invoice price - PO price) x invoiced quantity, rounded to cents."""
    price_within: bool = False
    quantity_difference: Decimal | None = None
    """Invoiced - open: positive when more is invoiced than received, negative when fewer."""
    quantity_excess: Decimal | None = None
    """Invoiced beyond what is open (0 when not more)."""
    quantity_percent: Decimal | None = None
    quantity_within: bool = False
    problems: list[str] = []

    @property
    def ok(self) -> bool:
        return self.found and self.price_within and self.quantity_within


class InvoiceAmountMatch(BaseModel):
    lines_amount: Decimal
    tax_amount: Decimal
    expected: Decimal
    """Lines + tax."""
    total_amount: Decimal
    difference: Decimal
    """TotalAmount - expected."""
    percent: Decimal | None
    """Of the invoice total (as M3 computes it)."""
    within: bool
    problem: str | None = None


class MatchSuggestion(BaseModel):
    kind: SuggestionKind
    summary: str
    """Plain English, for the operator."""
    lines: list[int] = []
    """The invoice lines it concerns."""
    difference: Decimal | None = None
    """accept_price_difference: the amount booked to the price-variance account."""
    plan: list[InvoiceLinePlan] = []
    """accept_price_difference: the APS450MI lines to post instead."""


class MatchResult(BaseModel):
    supplier: str | None
    tolerances: ToleranceSet
    lines: list[LineMatch]
    invoice_amount: InvoiceAmountMatch
    ok: bool
    problems: list[str] = []
    plan: list[InvoiceLinePlan] = []
    """The APS450MI lines for a matched invoice (empty unless ok)."""
    suggestions: list[MatchSuggestion] = []

    def suggestion(self, kind: SuggestionKind) -> MatchSuggestion | None:
        return next((s for s in self.suggestions if s.kind == kind), None)


# --- matching --------------------------------------------------------------------------------


def invoice_to_match(
    invoice: Mapping[str, Any], puno_by_purchase_order: Mapping[str, str], suno: str | None
) -> InvoiceToMatch:
    """The match input for a BNG SupplierInvoice (``model_dump(mode="json")``); the PUNO of each
    line comes from ``puno_by_purchase_order`` (BNG PurchaseOrderID -> M3 PUNO)."""
    lines = [
        InvoiceLineToMatch(
            line=item["LineNumber"],
            PUNO=puno_by_purchase_order.get(item["PurchaseOrderID"]),
            PNLI=item["PurchaseOrderLine"],
            quantity=item["Quantity"],
            unit_price=item["UnitPrice"],
            ITNO=item.get("SKU"),
            purchase_order_id=item["PurchaseOrderID"],
        )
        for item in invoice["Lines"]
    ]
    return InvoiceToMatch(
        SUNO=suno,
        total_amount=invoice["TotalAmount"],
        tax_amount=invoice.get("TaxAmount") or 0,
        lines=lines,
    )


def match_invoice(
    invoice: InvoiceToMatch, po_lines: Sequence[PoLine], settings: MatchTolerances | None = None
) -> MatchResult:
    settings = settings or load_match_tolerances()
    tolerances = settings.for_supplier(invoice.SUNO)
    by_key = {(po.PUNO, po.PNLI): po for po in po_lines}
    taken: dict[tuple[str, int], Decimal] = {}
    results = [_match_line(item, by_key, taken, tolerances) for item in invoice.lines]
    amount = _match_amount(invoice, tolerances.invoice_amount)

    problems = [problem for result in results for problem in result.problems]
    if not invoice.lines:
        problems.append("the invoice has no lines")
    if amount.problem:
        problems.append(amount.problem)
    ok = not problems
    result = MatchResult(
        supplier=invoice.SUNO,
        tolerances=tolerances,
        lines=results,
        invoice_amount=amount,
        ok=ok,
        problems=problems,
    )
    if ok:
        result.plan = line_plan(results)
        return result
    result.suggestions = _suggestions(results, amount, settings, by_key)
    return result


def line_plan(
    lines: Sequence[LineMatch], at_po_price: set[int] | frozenset[int] = frozenset()
) -> list[InvoiceLinePlan]:
    """RDTP 1 lines for the matched invoice lines; those in ``at_po_price`` at the PO price."""
    plan = []
    for line in lines:
        price = line.po_price if line.line in at_po_price and line.po_price is not None else line.unit_price
        plan.append(
            InvoiceLinePlan(
                RDTP=RECEIPT_LINE,
                PUNO=line.PUNO,
                PNLI=line.PNLI,
                PNLS="0",
                IVQA=line.quantity,
                GRPR=price,
                NLAM=money(line.quantity * price),
                ITNO=line.ITNO,
            )
        )
    return plan


def _match_line(
    item: InvoiceLineToMatch,
    by_key: Mapping[tuple[str, int], PoLine],
    taken: dict[tuple[str, int], Decimal],
    tolerances: ToleranceSet,
) -> LineMatch:
    where = f"line {item.line}"
    po = by_key.get((item.PUNO, item.PNLI)) if item.PUNO is not None else None
    if po is None or po.PUSL == DELETED:
        if item.PUNO is None:
            problem = f"{where}: purchase order {item.purchase_order_id or '?'} is not in M3"
        elif po is None:
            problem = f"{where}: PO {item.PUNO} has no line {item.PNLI}"
        else:
            problem = f"{where}: PO {item.PUNO} line {item.PNLI} is deleted"
        return LineMatch(
            line=item.line,
            PUNO=item.PUNO,
            PNLI=item.PNLI,
            ITNO=item.ITNO,
            quantity=item.quantity,
            unit_price=item.unit_price,
            found=False,
            problems=[problem],
        )
    where = f"line {item.line} (PO {po.PUNO} line {po.PNLI})"
    problems: list[str] = []

    # Rule 1: price.
    unit_difference = item.unit_price - po.PUPR
    price_percent = _percent(unit_difference, po.PUPR)
    price_variance = unit_difference * item.quantity
    price_amount = money(price_variance)
    price_within = _within(price_percent, price_variance, tolerances.price.percent, tolerances.price.amount)
    if not price_within:
        problems.append(
            f"{where}: invoiced at {item.unit_price:,.2f}, the PO price is {po.PUPR:,.2f} "
            f"({_signed(unit_difference)} a unit, {_shown_percent(price_percent)}, {_signed(price_amount)} "
            f"on {_qty(item.quantity)} units); tolerance {_qty(tolerances.price.percent)}% and "
            f"{tolerances.price.amount:,.2f}"
        )

    # Rule 2: quantity.
    key = (po.PUNO, po.PNLI)
    open_quantity = max(po.RVQA - po.IVQA - taken.get(key, Decimal(0)), Decimal(0))
    taken[key] = taken.get(key, Decimal(0)) + item.quantity
    quantity_difference = item.quantity - open_quantity
    quantity_percent = _percent(quantity_difference, open_quantity)
    quantity_within = _within(
        quantity_percent, quantity_difference, tolerances.quantity.percent, tolerances.quantity.units
    )
    if not quantity_within:
        if quantity_difference > 0:
            gap = f"{_qty(quantity_difference)} too many"
        else:
            gap = f"{_qty(-quantity_difference)} fewer"
        problems.append(
            f"{where}: invoices {_qty(item.quantity)}, but {_qty(open_quantity)} received and not yet "
            f"invoiced ({gap}, {_shown_percent(quantity_percent)}); tolerance "
            f"{_qty(tolerances.quantity.percent)}% and {_qty(tolerances.quantity.units)} units"
        )
    return LineMatch(
        line=item.line,
        PUNO=po.PUNO,
        PNLI=po.PNLI,
        ITNO=item.ITNO or po.ITNO,
        quantity=item.quantity,
        unit_price=item.unit_price,
        found=True,
        po_price=po.PUPR,
        open_quantity=open_quantity,
        still_expected=po.ORQA - po.RVQA,
        price_difference=unit_difference,
        price_percent=_rounded(price_percent),
        price_amount=price_amount,
        price_within=price_within,
        quantity_difference=quantity_difference,
        quantity_excess=max(quantity_difference, Decimal(0)),
        quantity_percent=_rounded(quantity_percent),
        quantity_within=quantity_within,
        problems=problems,
    )


def _match_amount(invoice: InvoiceToMatch, tolerance: PercentAndAmount) -> InvoiceAmountMatch:
    lines_amount = sum((money(item.quantity * item.unit_price) for item in invoice.lines), Decimal(0))
    tax = money(invoice.tax_amount)
    expected = lines_amount + tax
    total = money(invoice.total_amount)
    difference = total - expected
    percent = _percent(difference, total)
    within = _within(percent, difference, tolerance.percent, tolerance.amount)
    problem = None
    if not within:
        problem = (
            f"the invoice total {total:,.2f} differs from its lines {lines_amount:,.2f} + tax {tax:,.2f} "
            f"= {expected:,.2f} by {_signed(difference)} ({_shown_percent(percent)}); tolerance "
            f"{_qty(tolerance.percent)}% and {tolerance.amount:,.2f}"
        )
    return InvoiceAmountMatch(
        lines_amount=lines_amount,
        tax_amount=tax,
        expected=expected,
        total_amount=total,
        difference=difference,
        percent=_rounded(percent),
        within=within,
        problem=problem,
    )


def _suggestions(
    lines: list[LineMatch],
    amount: InvoiceAmountMatch,
    settings: MatchTolerances,
    by_key: Mapping[tuple[str, int], PoLine],
) -> list[MatchSuggestion]:
    suggestions: list[MatchSuggestion] = []
    failing = [line for line in lines if not line.ok]

    accept = _accept_price_difference(lines, failing, amount, settings)
    if accept is not None:
        suggestions.append(accept)

    wait = _wait_for_receipt(lines, failing, by_key)
    if wait is not None:
        suggestions.append(wait)

    reasons = [problem for line in failing for problem in line.problems]
    if amount.problem:
        reasons.append(amount.problem)
    suggestions.append(
        MatchSuggestion(
            kind="reject",
            summary="Reject the invoice: " + "; ".join(reasons),
            lines=[line.line for line in failing],
        )
    )
    return suggestions


def _accept_price_difference(
    lines: list[LineMatch],
    failing: list[LineMatch],
    amount: InvoiceAmountMatch,
    settings: MatchTolerances,
) -> MatchSuggestion | None:
    """Only when every failing line fails on price alone, within the accept limit, and the
    invoice amount matches."""
    if not failing or not amount.within:
        return None
    limit = settings.accept_limit
    for line in failing:
        if not line.found or not line.quantity_within or line.price_amount is None:
            return None
        if line.price_difference is None or line.po_price is None:
            return None
        if not _within(
            _percent(line.price_difference, line.po_price),
            line.price_difference * line.quantity,
            limit.percent,
            limit.amount,
        ):
            return None
    accepted = {line.line for line in failing}
    plan = line_plan(lines, at_po_price=accepted)
    # Of the rounded line amounts, so the plan adds up to exactly the invoice's lines.
    difference = sum(
        (
            money(line.quantity * line.unit_price) - money(line.quantity * line.po_price)
            for line in failing
            if line.po_price is not None
        ),
        Decimal(0),
    )
    if abs(difference) > limit.amount:
        return None
    numbers = ", ".join(str(line.line) for line in failing)
    plan.append(
        InvoiceLinePlan(
            RDTP=ACCOUNTING_LINE,
            NLAM=difference,
            AIT1=settings.price_variance_account,
            VTXT=f"Price difference accepted, lines {numbers}"[:40],
        )
    )
    return MatchSuggestion(
        kind="accept_price_difference",
        summary=(
            f"Accept the price difference of {_signed(difference)} on line{'s' if len(failing) > 1 else ''} "
            f"{numbers}: book the receipt at the PO price and {_signed(difference)} to account "
            f"{settings.price_variance_account} (price variance)"
        ),
        lines=sorted(accepted),
        difference=difference,
        plan=plan,
    )


def _wait_for_receipt(
    lines: list[LineMatch], failing: list[LineMatch], by_key: Mapping[tuple[str, int], PoLine]
) -> MatchSuggestion | None:
    """When every quantity excess is still expected on its PO (ORQA - RVQA covers it)."""
    if any(not line.found for line in failing):
        return None
    short = [line for line in failing if not line.quantity_within]
    if not short or any(not line.quantity_excess for line in short):
        return None
    excess: dict[tuple[str, int], Decimal] = {}
    for line in lines:
        if line.found and line.PUNO is not None and line.quantity_excess:
            key = (line.PUNO, line.PNLI)
            excess[key] = excess.get(key, Decimal(0)) + line.quantity_excess
    for key, quantity in excess.items():
        po = by_key[key]
        if quantity > po.ORQA - po.RVQA:
            return None
    parts = [
        f"line {line.line} invoices {_qty(line.quantity_excess or Decimal(0))} more than received "
        f"(PO {line.PUNO} line {line.PNLI} still expects {_qty(line.still_expected or Decimal(0))})"
        for line in short
    ]
    return MatchSuggestion(
        kind="wait_for_receipt",
        summary="Wait for the goods receipt: " + "; ".join(parts),
        lines=[line.line for line in short],
    )


# --- arithmetic and wording ------------------------------------------------------------------


def _percent(difference: Decimal, base: Decimal) -> Decimal | None:
    """difference / base x 100, unrounded; 0 for no difference; None for a difference on no base."""
    if difference == 0:
        return Decimal(0)
    if base == 0:
        return None
    return difference / base * HUNDRED


def _within(percent: Decimal | None, amount: Decimal, max_percent: Decimal, max_amount: Decimal) -> bool:
    return percent is not None and abs(percent) <= max_percent and abs(amount) <= max_amount


def _rounded(percent: Decimal | None) -> Decimal | None:
    return None if percent is None else money(percent)


def _signed(value: Decimal) -> str:
    return f"{value:+,.2f}"


def _shown_percent(percent: Decimal | None) -> str:
    return "no base to compare with" if percent is None else f"{money(percent):+,.2f}%"


def _qty(value: Decimal) -> str:
    return to_m3_number(as_text(value))


__all__ = [
    "InvoiceAmountMatch",
    "InvoiceLinePlan",
    "InvoiceLineToMatch",
    "InvoiceToMatch",
    "LineMatch",
    "MatchResult",
    "MatchSuggestion",
    "PoLine",
    "invoice_to_match",
    "line_plan",
    "match_invoice",
    "money",
]
