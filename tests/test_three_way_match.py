"""Three-way match: tolerances as declared data, M3's APS900 semantics (as the sandbox runs them),
suggestions and APS450MI line plans.

Packaged defaults: price 2% and 5.00, quantity 0% and 0 units, invoice amount 1% and 10.00;
accept limit 10% and 100.00; price variance account 4090.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from activities.three_way_match import (
    InvoiceLineToMatch,
    InvoiceToMatch,
    MatchResult,
    PoLine,
    invoice_to_match,
    match_invoice,
)
from mapping.finance import (
    MatchTolerances,
    PercentAndAmount,
    PercentAndUnits,
    ToleranceOverride,
    load_match_tolerances,
)

PUNO = "2000000017"


def po_line(pnli: int = 10, **changes: Any) -> PoLine:
    """Ordered 20 at 100.00, 10 received, none invoiced."""
    values: dict[str, Any] = {
        "PUNO": PUNO,
        "PNLI": pnli,
        "PNLS": 0,
        "ITNO": "HELMET-M",
        "ORQA": "20",
        "PUPR": "100.00",
        "RVQA": "10",
        "IVQA": "0",
    }
    values.update(changes)
    return PoLine.model_validate(values)


def invoice(
    *lines: tuple[int, str, str], total: str | None = None, tax: str = "0", suno: str = "S000000001"
) -> InvoiceToMatch:
    """Lines as (PNLI, quantity, unit price); the total defaults to lines + tax."""
    items = [
        InvoiceLineToMatch(
            line=number, PUNO=PUNO, PNLI=pnli, quantity=Decimal(qty), unit_price=Decimal(price)
        )
        for number, (pnli, qty, price) in enumerate(lines, start=1)
    ]
    if total is None:
        total = str(sum(Decimal(q) * Decimal(p) for _, q, p in lines) + Decimal(tax))
    return InvoiceToMatch(SUNO=suno, total_amount=Decimal(total), tax_amount=Decimal(tax), lines=items)


def kinds(result: MatchResult) -> list[str]:
    return [suggestion.kind for suggestion in result.suggestions]


def test_declared_tolerances() -> None:
    settings = load_match_tolerances()
    default = settings.for_supplier("S000000001")
    assert (default.price.percent, default.price.amount) == (2, 5)
    assert (default.quantity.percent, default.quantity.units) == (0, 0)
    assert (default.invoice_amount.percent, default.invoice_amount.amount) == (1, 10)
    assert (settings.accept_limit.percent, settings.accept_limit.amount) == (10, 100)
    assert settings.price_variance_account == "4090"


def test_sandbox_uses_the_same_default_numbers() -> None:
    sandbox_config = pytest.importorskip("sandbox.m3.config")
    sandbox = sandbox_config.MatchTolerances()
    ours = load_match_tolerances().default
    assert (sandbox.price.percent, sandbox.price.amount) == (ours.price.percent, ours.price.amount)
    assert (sandbox.quantity.percent, sandbox.quantity.amount) == (ours.quantity.percent, ours.quantity.units)
    assert (sandbox.invoice_amount.percent, sandbox.invoice_amount.amount) == (
        ours.invoice_amount.percent,
        ours.invoice_amount.amount,
    )


def test_exact_match_gives_the_line_plan() -> None:
    result = match_invoice(invoice((10, "10", "100.00"), tax="190.00"), [po_line()])
    assert result.ok
    assert result.problems == []
    assert result.suggestions == []
    assert [p.mi_fields() for p in result.plan] == [
        {
            "RDTP": "1",
            "PUNO": PUNO,
            "PNLI": "10",
            "PNLS": "0",
            "IVQA": "10",
            "GRPR": "100",
            "NLAM": "1000.00",
            "ITNO": "HELMET-M",
        }
    ]
    assert result.invoice_amount.expected == Decimal("1190.00")


def test_price_exactly_at_both_limits_is_within() -> None:
    # +1.00 a unit = 2% of 50.00, and 1.00 x 5 = 5.00: both exactly at the tolerance.
    result = match_invoice(invoice((10, "5", "51.00")), [po_line(PUPR="50.00", RVQA="5")])
    assert result.ok, result.problems
    line = result.lines[0]
    assert (line.price_percent, line.price_amount, line.price_within) == (
        Decimal("2.00"),
        Decimal("5.00"),
        True,
    )
    # Within tolerance: booked at the invoice price; M3 books the variance.
    assert [p.GRPR for p in result.plan] == [Decimal("51.00")]


def test_one_cent_over_the_amount_is_out() -> None:
    # +0.501 a unit (1.002%, within 2%) on 10 units = 5.01: one cent over 5.00.
    result = match_invoice(invoice((10, "10", "50.501")), [po_line(PUPR="50.00")])
    line = result.lines[0]
    assert (line.price_amount, line.price_percent, line.price_within) == (
        Decimal("5.01"),
        Decimal("1.00"),
        False,
    )
    assert not result.ok


def test_a_fraction_of_a_cent_over_is_out_too() -> None:
    # 0.5001 x 10 = 5.001: shown as 5.00, but compared unrounded, as M3 does.
    result = match_invoice(invoice((10, "10", "50.5001")), [po_line(PUPR="50.00")])
    assert result.lines[0].price_amount == Decimal("5.00")
    assert not result.lines[0].price_within


def test_one_hundredth_over_the_percent_is_out() -> None:
    # +2.01 a unit on 1 unit: 2.01% > 2%, though 2.01 is within 5.00.
    result = match_invoice(invoice((10, "1", "102.01")), [po_line(RVQA="1")])
    line = result.lines[0]
    assert (line.price_percent, line.price_amount) == (Decimal("2.01"), Decimal("2.01"))
    assert not line.price_within
    assert result.problems == [
        f"line 1 (PO {PUNO} line 10): invoiced at 102.01, the PO price is 100.00 (+2.01 a unit, +2.01%, "
        "+2.01 on 1 units); tolerance 2% and 5.00"
    ]


def test_within_percent_but_over_amount_is_out() -> None:
    # +0.5% on 10 units is 5.00: within; on 11 units 5.50: over the amount, not the percent.
    assert match_invoice(invoice((10, "10", "100.50")), [po_line()]).ok
    result = match_invoice(invoice((10, "11", "100.50")), [po_line(RVQA="11")])
    assert not result.ok
    assert result.lines[0].price_amount == Decimal("5.50")


def test_a_lower_price_is_a_variance_too() -> None:
    result = match_invoice(invoice((10, "1", "97.00")), [po_line(RVQA="1")])
    assert result.lines[0].price_percent == Decimal("-3.00")
    assert not result.ok


def test_per_supplier_override() -> None:
    packaged = load_match_tolerances()
    settings = MatchTolerances(
        default=packaged.default,
        suppliers={
            "S000000002": ToleranceOverride(price=PercentAndAmount(percent=Decimal(5), amount=Decimal(50)))
        },
        accept_limit=packaged.accept_limit,
        price_variance_account="4090",
    )
    special = settings.for_supplier("S000000002")
    assert special.quantity == packaged.default.quantity  # the other rules come from the default
    lines = invoice((10, "10", "104.00"), suno="S000000002")
    assert match_invoice(lines, [po_line()], settings).ok  # 4% and 40.00: within 5% and 50.00
    lines.SUNO = "S000000001"
    assert not match_invoice(lines, [po_line()], settings).ok  # the default 2% / 5.00


def test_quantity_over_received_not_invoiced() -> None:
    # 10 received, 4 already invoiced: 6 open. Invoicing 7 is one too many (0 tolerance).
    result = match_invoice(invoice((10, "7", "100.00")), [po_line(RVQA="10", IVQA="4")])
    line = result.lines[0]
    assert (line.open_quantity, line.quantity_excess, line.quantity_within) == (Decimal(6), Decimal(1), False)
    assert line.quantity_percent == Decimal("16.67")
    assert result.problems[0] == (
        f"line 1 (PO {PUNO} line 10): invoices 7, but 6 received and not yet invoiced "
        "(1 too many, +16.67%); tolerance 0% and 0 units"
    )


def test_quantity_under_received_not_invoiced_is_a_variance_too() -> None:
    result = match_invoice(invoice((10, "5", "100.00")), [po_line(RVQA="10", IVQA="4")])
    line = result.lines[0]
    assert (line.quantity_difference, line.quantity_excess, line.quantity_within) == (
        Decimal(-1),
        Decimal(0),
        False,
    )
    assert "(1 fewer, -16.67%)" in result.problems[0]
    assert kinds(result) == ["reject"]  # waiting for goods does not help


def test_quantity_tolerance_needs_both_percent_and_units() -> None:
    packaged = load_match_tolerances()
    loose = packaged.model_copy(
        update={
            "default": packaged.default.model_copy(
                update={"quantity": PercentAndUnits(percent=Decimal(10), units=Decimal(1))}
            )
        }
    )
    # 11 of 10 open: 1 unit, 10%: exactly at both.
    assert match_invoice(invoice((10, "11", "100.00"), suno="X"), [po_line()], loose).ok
    # 2 over 20 open: 10% but 2 units.
    assert not match_invoice(
        invoice((10, "22", "100.00"), suno="X"), [po_line(RVQA="20", ORQA="30")], loose
    ).ok
    # 1 over 5 open: 1 unit but 20%.
    assert not match_invoice(invoice((10, "6", "100.00"), suno="X"), [po_line(RVQA="5")], loose).ok


def test_two_invoice_lines_share_what_is_open_on_one_po_line() -> None:
    # Lines take from what is open in turn: the second sees what the first left.
    result = match_invoice(invoice((10, "6", "100.00"), (10, "6", "100.00")), [po_line(RVQA="10")])
    assert [line.open_quantity for line in result.lines] == [Decimal(10), Decimal(4)]
    assert [line.quantity_difference for line in result.lines] == [Decimal(-4), Decimal(2)]
    # As in the sandbox, each line is held against what is open when it comes, in both directions:
    # with no quantity tolerance, one receipt split over two invoice lines cannot match.
    assert [line.ok for line in result.lines] == [False, False]
    split = match_invoice(invoice((10, "6", "100.00"), (10, "4", "100.00")), [po_line(RVQA="10")])
    assert [line.quantity_within for line in split.lines] == [False, True]


def test_wait_for_receipt_when_the_po_still_expects_the_goods() -> None:
    # Ordered 20, received 10: invoicing 15 is 5 early, and the PO still expects 10.
    result = match_invoice(invoice((10, "15", "100.00")), [po_line()])
    assert kinds(result) == ["wait_for_receipt", "reject"]
    wait = result.suggestion("wait_for_receipt")
    assert wait is not None and wait.lines == [1]
    assert "invoices 5 more than received" in wait.summary
    assert "still expects 10" in wait.summary


def test_no_wait_when_more_is_invoiced_than_ordered() -> None:
    # Ordered 20, received 10: invoicing 21 is 11 beyond what is received; only 10 are still expected.
    assert kinds(match_invoice(invoice((10, "21", "100.00")), [po_line()])) == ["reject"]
    # Exactly what is still expected: waiting helps.
    assert "wait_for_receipt" in kinds(match_invoice(invoice((10, "20", "100.00")), [po_line()]))


def test_accept_price_difference_books_the_po_price_and_the_variance() -> None:
    # Line 1: +5.00 (5%) on 10 units = 50.00: out of 2% / 5.00, within the accept limit 10% / 100.00.
    result = match_invoice(
        invoice((10, "10", "105.00"), (20, "4", "30.00"), tax="200.00"),
        [po_line(), po_line(20, ITNO="LOCK-U", PUPR="30.00", ORQA="4", RVQA="4")],
    )
    assert not result.ok
    assert kinds(result) == ["accept_price_difference", "reject"]
    accept = result.suggestion("accept_price_difference")
    assert accept is not None
    assert accept.lines == [1]
    assert accept.difference == Decimal("50.00")
    assert [p.mi_fields() for p in accept.plan] == [
        {
            "RDTP": "1",
            "PUNO": PUNO,
            "PNLI": "10",
            "PNLS": "0",
            "IVQA": "10",
            "GRPR": "100",
            "NLAM": "1000.00",
            "ITNO": "HELMET-M",
        },
        {
            "RDTP": "1",
            "PUNO": PUNO,
            "PNLI": "20",
            "PNLS": "0",
            "IVQA": "4",
            "GRPR": "30",
            "NLAM": "120.00",
            "ITNO": "LOCK-U",
        },
        {"RDTP": "8", "NLAM": "50.00", "AIT1": "4090", "VTXT": "Price difference accepted, lines 1"},
    ]
    # The plan adds up to the invoice's lines, so the invoice amount still matches in M3.
    assert sum(p.NLAM for p in accept.plan) == result.invoice_amount.lines_amount
    assert "+50.00 to account 4090" in accept.summary


def test_accepted_difference_keeps_the_rounded_total() -> None:
    # 3 x 34.335 = 103.005 -> 103.01 on the invoice; 3 x 33.00 = 99.00: the variance booked is 4.01.
    result = match_invoice(invoice((10, "3", "34.335"), total="103.01"), [po_line(PUPR="33.00", RVQA="3")])
    accept = result.suggestion("accept_price_difference")
    assert accept is not None
    assert accept.difference == Decimal("4.01")
    assert sum(p.NLAM for p in accept.plan) == Decimal("103.01")


def test_accept_limit_is_both_percent_and_amount() -> None:
    # +10.00 a unit (10%) on 10 units = 100.00: exactly at both accept limits.
    assert "accept_price_difference" in kinds(match_invoice(invoice((10, "10", "110.00")), [po_line()]))
    # 10.01%: over the percent.
    assert kinds(match_invoice(invoice((10, "1", "110.01")), [po_line(RVQA="1")])) == ["reject"]
    # 5% on 21 units = 105.00: over the amount.
    assert kinds(match_invoice(invoice((10, "21", "105.00")), [po_line(RVQA="21", ORQA="21")])) == ["reject"]


def test_no_accept_when_something_else_is_wrong() -> None:
    # A price difference within the accept limit, but also a quantity problem.
    result = match_invoice(invoice((10, "11", "105.00")), [po_line(ORQA="10")])
    assert "accept_price_difference" not in kinds(result)
    # ... or an invoice total that does not add up.
    result = match_invoice(invoice((10, "10", "105.00"), total="1070.00"), [po_line()])
    assert "accept_price_difference" not in kinds(result)


def test_invoice_amount_variance() -> None:
    # Lines 1000.00 + tax 190.00 = 1190.00; 10.00 off is within 1% of 1200.00 and 10.00.
    assert match_invoice(invoice((10, "10", "100.00"), tax="190.00", total="1200.00"), [po_line()]).ok
    result = match_invoice(invoice((10, "10", "100.00"), tax="190.00", total="1200.01"), [po_line()])
    assert not result.ok
    assert result.invoice_amount.difference == Decimal("10.01")
    assert result.problems == [
        "the invoice total 1,200.01 differs from its lines 1,000.00 + tax 190.00 = 1,190.00 by +10.01 "
        "(+0.83%); tolerance 1% and 10.00"
    ]
    # Small invoices hit the percent first: 0.50 on 20.50 is 2.4%.
    small = match_invoice(invoice((10, "1", "20.00"), total="20.50"), [po_line(PUPR="20.00", RVQA="1")])
    assert not small.ok
    assert kinds(small) == ["reject"]


def test_unknown_deleted_and_unplaced_po_lines() -> None:
    items = invoice((30, "1", "100.00"), (40, "1", "100.00"))
    items.lines.append(
        InvoiceLineToMatch(
            line=3, PUNO=None, PNLI=1, quantity=Decimal(1), unit_price=Decimal(1), purchase_order_id="PO-X"
        )
    )
    items.total_amount = Decimal("201.00")
    result = match_invoice(items, [po_line(), po_line(40, PUSL="99")])
    assert result.problems == [
        f"line 1: PO {PUNO} has no line 30",
        f"line 2: PO {PUNO} line 40 is deleted",
        "line 3: purchase order PO-X is not in M3",
    ]
    assert kinds(result) == ["reject"]
    reject = result.suggestion("reject")
    assert reject is not None and reject.lines == [1, 2, 3]
    assert "line 1: PO" in reject.summary and "line 3: purchase order PO-X" in reject.summary


def test_zero_po_price() -> None:
    assert match_invoice(invoice((10, "10", "0")), [po_line(PUPR="0")]).ok
    result = match_invoice(invoice((10, "10", "0.01")), [po_line(PUPR="0")])
    assert result.lines[0].price_percent is None
    assert not result.ok


def test_invoice_from_a_bng_document_and_m3_rows() -> None:
    document = {
        "SupplierInvoiceID": "SI-1",
        "VendorID": "V-1",
        "InvoiceNumber": "INV-1",
        "InvoiceDate": "2026-03-20",
        "Currency": "EUR",
        "NetAmount": "1000.00",
        "TaxAmount": "190.00",
        "TotalAmount": "1190.00",
        "Lines": [
            {
                "LineNumber": 1,
                "PurchaseOrderID": "PO-1",
                "PurchaseOrderLine": 10,
                "Quantity": "10",
                "UnitPrice": "100.00",
            }
        ],
    }
    to_match = invoice_to_match(document, {"PO-1": PUNO}, "S000000001")
    assert to_match.lines[0].PUNO == PUNO
    # A GetLine row as M3 returns it: text, with extra columns.
    row = {
        "PUNO": PUNO,
        "PNLI": "10",
        "PNLS": "0",
        "ITNO": "HELMET-M",
        "ORQA": "20",
        "PUPR": "100.00",
        "RVQA": "10",
        "IVQA": "0",
        "PUSL": "50",
        "PUST": "50",
        "DWDT": "20260316",
    }
    result = match_invoice(to_match, [PoLine.model_validate(row)])
    assert result.ok
    assert result.plan[0].ITNO == "HELMET-M"  # from the PO line when BNG sends no SKU
    assert PoLine.model_validate({**row, "IVQA": "", "PNLS": " "}).IVQA == 0
    # A PO not in the cross-reference.
    assert invoice_to_match(document, {}, None).lines[0].PUNO is None


@pytest.mark.parametrize(("price", "nlam"), [("100.004", "100.00"), ("100.005", "100.01")])
def test_money_is_rounded_half_up(price: str, nlam: str) -> None:
    result = match_invoice(invoice((10, "1", price), total=nlam), [po_line(RVQA="1")])
    assert result.ok
    assert [p.NLAM for p in result.plan] == [Decimal(nlam)]
