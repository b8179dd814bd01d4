"""The procure-to-pay and finance maps on realistic BNG documents, and the engine extensions
they need (``sum`` values, ``skip_if`` on lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapping.engine import apply_mapping
from mapping.finance import load_gl_settings, load_match_tolerances
from mapping.fixed_width import load_gl_layout
from mapping.loader import available_mappings, load_lookups, load_mapping, load_mapping_file
from mapping.spec import MappingSpecError

PO_CONTEXT = {"SUNO": "S000000001", "ORTY": "PP1"}


def bng_purchase_order(**changes: Any) -> dict[str, Any]:
    po: dict[str, Any] = {
        "PurchaseOrderID": "PO-2026-000017",
        "VendorID": "VEND-3",
        "OrderDate": "2026-03-02T08:30:00+01:00",
        "RequestedDeliveryDate": "2026-03-16",
        "Currency": "eur",
        "Warehouse": "300",
        "Buyer": "MBUYER",
        "Lines": [
            {
                "LineNumber": 1,
                "SKU": "HELMET-M",
                "Quantity": "20",
                "UnitPrice": "31.50",
                "UnitOfMeasure": "EA",
            },
            {
                "LineNumber": 2,
                "SKU": "LOCK-U",
                "Quantity": "10",
                "UnitPrice": "12.00",
                "UnitOfMeasure": "ea",
                "RequestedDeliveryDate": "2026-03-20",
            },
        ],
    }
    po.update(changes)
    return po


def map_po(po: dict[str, Any], context: dict[str, Any] | None = None) -> Any:
    return apply_mapping(
        load_mapping("purchase_order.bng_to_m3"),
        po,
        context=PO_CONTEXT if context is None else context,
        lookups=load_lookups(),
    )


def test_new_maps_are_listed_and_data_files_are_not() -> None:
    names = available_mappings()
    for name in ("purchase_order.bng_to_m3", "supplier_invoice.bng_to_m3", "journal.bng_to_m3"):
        assert name in names
    assert not any(name.startswith(("gl_", "match_", "lookups", "ownership")) for name in names)


def test_purchase_order_head_and_lines() -> None:
    result = map_po(bng_purchase_order())
    assert result.errors == []
    assert result.values == {
        "FACI": "100",
        "WHLO": "300",
        "SUNO": "S000000001",
        "DWDT": "20260316",
        "PUDT": "20260302",
        "ORTY": "PP1",
        "CUCD": "EUR",
        "YRE1": "PO-2026-000017",
        "BUYE": "MBUYER",
    }
    assert result.lines == [
        {"PNLI": "1", "ITNO": "HELMET-M", "ORQA": "20", "PUPR": "31.5", "PUUN": "EA", "DWDT": "20260316"},
        {"PNLI": "2", "ITNO": "LOCK-U", "ORQA": "10", "PUPR": "12", "PUUN": "EA", "DWDT": "20260320"},
    ]


def test_purchase_order_without_requested_date_is_wanted_on_the_order_date() -> None:
    result = map_po(bng_purchase_order(RequestedDeliveryDate=None))
    assert result.values["DWDT"] == result.values["PUDT"] == "20260302"
    assert result.lines[0]["DWDT"] == "20260302"
    assert result.lines[1]["DWDT"] == "20260320"


@pytest.mark.parametrize(("warehouse", "whlo", "faci"), [("300", "300", "100"), ("200", "200", "200")])
def test_purchase_order_warehouse_and_facility(warehouse: str, whlo: str, faci: str) -> None:
    result = map_po(bng_purchase_order(Warehouse=warehouse))
    assert (result.values["WHLO"], result.values["FACI"]) == (whlo, faci)


def test_purchase_order_unknown_warehouse_and_no_supplier_yet() -> None:
    result = map_po(bng_purchase_order(Warehouse="999"), context={"ORTY": "PP1"})
    messages = [error.message for error in result.errors]
    assert "FACI: '999' is not in lookup table bng_warehouse_to_faci (from Warehouse)" in messages
    assert "WHLO: '999' is not in lookup table bng_warehouse_to_whlo (from Warehouse)" in messages
    assert "SUNO" not in result.values  # the supplier step adds it
    assert not any(error.field == "SUNO" for error in result.errors)


def test_purchase_order_id_is_never_cut() -> None:
    long_id = "PO-" + "9" * 34  # 37 characters, YRE1 is A36
    result = map_po(bng_purchase_order(PurchaseOrderID=long_id))
    assert [error.field for error in result.errors] == ["YRE1"]
    assert "37 characters, M3 allows 36" in result.errors[0].message
    assert "YRE1" not in result.values
    exactly = "P" * 36
    assert map_po(bng_purchase_order(PurchaseOrderID=exactly)).values["YRE1"] == exactly


def test_purchase_order_cancelled_lines_are_not_placed() -> None:
    po = bng_purchase_order()
    po["Lines"][0]["Cancelled"] = True
    po["Lines"][1]["Cancelled"] = False
    result = map_po(po)
    assert result.errors == []
    assert [line["PNLI"] for line in result.lines] == ["2"]


def test_purchase_order_line_number_fits_pnli() -> None:
    po = bng_purchase_order()
    po["Lines"][0]["LineNumber"] = 1000
    result = map_po(po)
    assert [(error.field, error.line) for error in result.errors] == [("PNLI", 1)]


def bng_supplier_invoice(**changes: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "SupplierInvoiceID": "SI-2026-000123",
        "VendorID": "VEND-3",
        "InvoiceNumber": "INV-88812",
        "InvoiceDate": "2026-03-20",
        "DueDate": "2026-04-19",
        "Currency": "EUR",
        "NetAmount": "750.00",
        "TaxAmount": "142.50",
        "TotalAmount": "892.50",
        "Lines": [
            {
                "LineNumber": 1,
                "PurchaseOrderID": "PO-2026-000017",
                "PurchaseOrderLine": 1,
                "SKU": "HELMET-M",
                "Quantity": "20",
                "UnitPrice": "31.50",
            },
            {
                "LineNumber": 2,
                "PurchaseOrderID": "PO-2026-000017",
                "PurchaseOrderLine": 2,
                "Quantity": "10",
                "UnitPrice": "12.00",
            },
        ],
    }
    invoice.update(changes)
    return invoice


def test_supplier_invoice_head_and_lines() -> None:
    result = apply_mapping(
        load_mapping("supplier_invoice.bng_to_m3"),
        bng_supplier_invoice(),
        context={"SUNO": "S000000001"},
        lookups=load_lookups(),
    )
    assert result.errors == []
    assert result.values == {
        "SUNO": "S000000001",
        "SINO": "INV-88812",
        "IVDT": "20260320",
        "ACDT": "20260320",
        "DUDT": "20260419",
        "CUCD": "EUR",
        "CUAM": "892.5",
        "VTAM": "142.5",
        "IBTP": "20",
        "IMCD": "1",
        "CORI": "SI-2026-000123",
    }
    assert result.lines == [
        {"RDTP": "1", "PNLI": "1", "IVQA": "20", "GRPR": "31.5", "ITNO": "HELMET-M"},
        {"RDTP": "1", "PNLI": "2", "IVQA": "10", "GRPR": "12"},
    ]


def test_supplier_invoice_number_too_long_is_refused() -> None:
    result = apply_mapping(
        load_mapping("supplier_invoice.bng_to_m3"),
        bng_supplier_invoice(InvoiceNumber="X" * 25, DueDate=None),
        context={"SUNO": "S000000001", "DIVI": "100"},
        lookups=load_lookups(),
    )
    assert [error.field for error in result.errors] == ["SINO"]
    assert result.values["DIVI"] == "100"
    assert "DUDT" not in result.values


def bng_journal(**changes: Any) -> dict[str, Any]:
    journal: dict[str, Any] = {
        "JournalID": "JRN-7",
        "JournalDate": "2026-02-28",
        "Description": "February office costs",
        "Lines": [
            {"LineNumber": 1, "Account": "OFFICE", "CostCenter": "HQ", "Debit": "1000.00", "Currency": "EUR"},
            {
                "LineNumber": 2,
                "Account": "1910",
                "Credit": "1000.00",
                "Currency": "EUR",
                "Description": "Paid",
            },
        ],
    }
    journal.update(changes)
    return journal


def test_journal_map_gives_batch_head_and_parm_values() -> None:
    result = apply_mapping(
        load_mapping("journal.bng_to_m3"),
        bng_journal(),
        context={"KEY1": "JJRN-7", "INTN": "BNGJOURNAL"},
        lookups=load_lookups(),
    )
    assert result.errors == []
    assert result.values == {
        "KEY1": "JJRN-7",
        "INTN": "BNGJOURNAL",
        "DESC": "February office costs",
        "ACDT": "20260228",
    }
    assert result.lines == [
        {
            "ACDT": "20260228",
            "AIT1": "6110",
            "AIT2": "100",
            "CUCD": "EUR",
            "CUAM": "1000",
            "VTXT": "JJRN-7 February office costs",
            "VDSC": "February office costs",
        },
        {
            "ACDT": "20260228",
            "AIT1": "1910",
            "CUCD": "EUR",
            "CUAM": "-1000",
            "VTXT": "JJRN-7 Paid",
            "VDSC": "February office costs",
        },
    ]
    # The map's line fields are exactly the GLS850 layout's fields.
    assert {rule.target for rule in load_mapping("journal.bng_to_m3").lines.fields} == {  # type: ignore[union-attr]
        field.name for field in load_gl_layout().fields
    }


def test_journal_voucher_text_keeps_the_key_and_cuts_the_description() -> None:
    journal = bng_journal(Description="D" * 60)
    result = apply_mapping(
        load_mapping("journal.bng_to_m3"),
        journal,
        context={"KEY1": "J" + "K" * 14, "INTN": "BNGJOURNAL"},
        lookups=load_lookups(),
    )
    assert result.errors == []
    vtxt = result.lines[0]["VTXT"]
    assert len(vtxt) == 40
    assert vtxt.startswith("J" + "K" * 14 + " D")
    assert len(result.lines[0]["VDSC"]) == 30


@pytest.mark.parametrize(
    ("code", "ait1"),
    [
        ("BANK", "1910"),
        ("CARD-CLEARING", "1930"),
        ("AR", "1510"),
        ("AP", "2440"),
        ("SALES", "3010"),
        ("REFUNDS", "3090"),
        ("PURCHASES", "4010"),
        ("PRICE-VARIANCE", "4090"),
        ("OFFICE", "6110"),
        ("IT", "6540"),
        ("SALARIES", "7010"),
        ("3090", "3090"),
    ],
)
def test_gl_accounts(code: str, ait1: str) -> None:
    assert load_lookups().tables["gl_accounts"].values[code] == ait1


def test_gl_lookups_cover_the_sandbox_chart() -> None:
    tables = load_lookups().tables
    chart = ["1910", "1930", "1510", "2440", "3010", "3090", "4010", "4090", "6110", "6540", "7010"]
    assert all(tables["gl_accounts"].values[account] == account for account in chart)
    assert all(tables["gl_cost_centres"].values[cc] == cc for cc in ("100", "200", "300", "900"))
    assert tables["gl_accounts"].default is None  # an unknown account is an error, not a guess


def test_finance_settings() -> None:
    settings = load_gl_settings()
    assert settings.open_from.isoformat() == "2026-01-01"
    assert (settings.refund.debit_account, settings.refund.credit_account) == ("REFUNDS", "CARD-CLEARING")
    lookups = load_lookups().tables["gl_accounts"].values
    assert (lookups[settings.refund.debit_account], lookups[settings.refund.credit_account]) == (
        "3090",
        "1930",
    )
    tolerances = load_match_tolerances()
    assert tolerances.price_variance_account == "4090"


HEADER = "entity: t\nsource_system: bng\ntarget_system: m3\n"


def test_sum_source_adds_and_subtracts(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        HEADER
        + "fields:\n"
        + "  - {target: CUAM, type: N, sum: {add: [Debit, Fee], subtract: [Credit]}, required: true}\n"
    )
    spec = load_mapping_file(path)
    lookups = load_lookups()
    assert apply_mapping(spec, {"Debit": "10.50", "Fee": 1}, lookups=lookups).values == {"CUAM": "11.5"}
    assert apply_mapping(spec, {"Credit": "990.00"}, lookups=lookups).values == {"CUAM": "-990"}
    assert apply_mapping(spec, {}, lookups=lookups).values == {"CUAM": "0"}
    bad = apply_mapping(spec, {"Debit": "ten"}, lookups=lookups)
    assert [error.message for error in bad.errors] == ["CUAM: 'ten' is not a number (from Debit)"]
    assert apply_mapping(spec, {"Debit": "Infinity"}, lookups=lookups).errors


def test_sum_source_cannot_be_combined(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(HEADER + "fields:\n  - {target: CUAM, source: X, sum: {add: [Debit]}}\n")
    with pytest.raises(MappingSpecError, match=r"found: source, sum"):
        load_mapping_file(path)


def test_skip_if_needs_one_test(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        HEADER
        + "fields:\n  - {target: A, source: A}\n"
        + "lines:\n  source: Lines\n  skip_if: {field: Cancelled}\n  fields:\n    - {target: B, source: B}\n"
    )
    with pytest.raises(MappingSpecError, match="exactly one of equals, in, exists"):
        load_mapping_file(path)
