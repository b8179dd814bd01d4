"""Each rule kind of the engine, on small inline specs."""

from __future__ import annotations

from typing import Any

import pytest

from mapping.engine import MappingResult, apply_mapping
from mapping.spec import LookupTables, MappingSpec

LOOKUPS = LookupTables.model_validate(
    {
        "tables": {
            "colors": {"values": {"R": "RED", "G": "GREEN"}},
            "sizes": {"values": {"S": "SML"}, "default": "STD"},
        }
    }
)


def run(
    rules: list[dict[str, Any]],
    record: dict[str, Any],
    *,
    context: dict[str, Any] | None = None,
    lines: dict[str, Any] | None = None,
) -> MappingResult:
    spec = MappingSpec.model_validate(
        {"entity": "test", "source_system": "bng", "target_system": "m3", "fields": rules, "lines": lines}
    )
    spec.check_lookups(LOOKUPS)
    return apply_mapping(spec, record, context=context, lookups=LOOKUPS)


def test_source_reads_dot_paths_and_context() -> None:
    result = run(
        [{"target": "TOWN", "source": "Address.City"}, {"target": "CUNO", "source": "context.CUNO"}],
        {"Address": {"City": "Berlin"}},
        context={"CUNO": "C100"},
    )
    assert result.values == {"TOWN": "Berlin", "CUNO": "C100"}
    assert result.ok


def test_missing_path_is_empty_and_left_out() -> None:
    result = run([{"target": "TOWN", "source": "Address.City"}], {"Address": None})
    assert result.values == {}
    assert result.ok


def test_constant_and_default() -> None:
    result = run(
        [{"target": "STAT", "constant": 20}, {"target": "CUCD", "source": "Currency", "default": "EUR"}],
        {"Currency": "  "},
    )
    assert result.values == {"STAT": "20", "CUCD": "EUR"}


def test_concat_skips_empty_parts() -> None:
    rules = [{"target": "YREF", "concat": {"sources": ["First", "Middle", "Last"], "separator": "-"}}]
    assert run(rules, {"First": "Anna", "Middle": "", "Last": "Schmidt"}).values == {"YREF": "Anna-Schmidt"}
    assert run(rules, {"Last": "Schmidt"}).values == {"YREF": "Schmidt"}


def test_lookup_hit_table_default_and_rule_default() -> None:
    result = run(
        [
            {"target": "COLR", "lookup": {"table": "colors", "source": "Color"}},
            {"target": "SIZE", "lookup": {"table": "sizes", "source": "Size"}},
            {"target": "COL2", "lookup": {"table": "colors", "source": "Other", "default": "ANY"}},
            {"target": "COL3", "lookup": {"table": "colors", "source": "Other"}, "default": "DEF"},
        ],
        {"Color": "G", "Size": "XXL", "Other": "PURPLE"},
    )
    assert result.values == {"COLR": "GREEN", "SIZE": "STD", "COL2": "ANY", "COL3": "DEF"}
    assert result.ok


def test_lookup_missing_key_without_default_is_an_error() -> None:
    result = run([{"target": "COLR", "lookup": {"table": "colors", "source": "Color"}}], {"Color": "PURPLE"})
    assert result.values == {}
    [error] = result.errors
    assert (error.field, error.source) == ("COLR", "Color")
    assert error.message == "COLR: 'PURPLE' is not in lookup table colors (from Color)"


@pytest.mark.parametrize(
    ("raw", "formats", "expected"),
    [
        ("2026-11-24", ["iso"], "20261124"),
        ("2026-11-24T10:15:00Z", ["iso"], "20261124"),
        ("2026-11-24T23:30:00-05:00", ["iso"], "20261124"),  # the sender's day, not UTC's
        ("2026-11-24T10:15:00.123+01:00", ["iso"], "20261124"),
        ("11/24/2026", ["iso", "%m/%d/%Y"], "20261124"),
    ],
)
def test_date_formats(raw: str, formats: list[str], expected: str) -> None:
    result = run(
        [{"target": "ORDT", "type": "D", "date": {"source": "When", "formats": formats}}], {"When": raw}
    )
    assert result.values == {"ORDT": expected}


def test_unparseable_date_names_field_and_source() -> None:
    result = run(
        [{"target": "ORDT", "type": "D", "date": {"source": "OrderDate"}}], {"OrderDate": "24.11.2026"}
    )
    [error] = result.errors
    assert (error.field, error.source) == ("ORDT", "OrderDate")
    assert error.message == "ORDT: cannot read date '24.11.2026' (expected iso) (from OrderDate)"


def test_d_field_must_already_be_yyyymmdd() -> None:
    rules = [{"target": "DWDT", "type": "D", "source": "Day"}]
    assert run(rules, {"Day": "20261231"}).values == {"DWDT": "20261231"}
    assert (
        run(rules, {"Day": "20261331"}).errors[0].message
        == "DWDT: value '20261331' is not a date in YYYYMMDD (from Day)"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("499.90", "499.9"), ("1E+2", "100"), (3, "3"), ("-0.50", "-0.5"), ("0.000", "0"), (2.25, "2.25")],
)
def test_numbers_become_plain_decimal_strings(raw: object, expected: str) -> None:
    assert run([{"target": "SAPR", "type": "N", "source": "Price"}], {"Price": raw}).values == {
        "SAPR": expected
    }


@pytest.mark.parametrize("raw", ["12,5", "abc", "NaN", True])
def test_non_numbers_are_errors(raw: object) -> None:
    result = run([{"target": "ORQT", "type": "N", "source": "Qty"}], {"Qty": raw})
    assert result.values == {}
    assert result.errors[0].field == "ORQT"
    assert "number" in result.errors[0].message


def test_number_length_counts_digits() -> None:
    rules = [{"target": "PONR", "type": "N", "source": "N", "length": 5}]
    assert run(rules, {"N": 99999}).values == {"PONR": "99999"}
    assert (
        run(rules, {"N": 100000}).errors[0].message == "PONR: value 100000 has 6 digits, M3 allows 5 (from N)"
    )


def test_too_long_is_an_error_unless_truncate() -> None:
    result = run(
        [
            {"target": "CUOR", "source": "Id", "length": 5},
            {"target": "YREF", "source": "Id", "length": 5, "truncate": True},
        ],
        {"Id": "ABCD EFGH"},
    )
    assert result.values == {"YREF": "ABCD"}  # cut to 5, then the trailing blank dropped
    [error] = result.errors
    assert error.message == "CUOR: value 'ABCD EFGH' is 9 characters, M3 allows 5 (from Id)"


def test_required_empty_is_an_error() -> None:
    result = run([{"target": "CUNO", "source": "context.CUNO", "required": True}], {})
    [error] = result.errors
    assert (error.field, error.source, error.message) == (
        "CUNO",
        "context.CUNO",
        "CUNO: required value is empty (from context.CUNO)",
    )


def test_transforms_apply_in_order() -> None:
    result = run(
        [{"target": "CSCD", "source": "C", "transform": ["strip", "upper"], "length": 2}], {"C": " de "}
    )
    assert result.values == {"CSCD": "DE"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"Country": "DE"}, "DHL"),
        ({"Country": "AT"}, "DPD"),
        ({"Country": "CH", "Express": True}, "EXP"),
        ({"Country": "US"}, "UPS"),
    ],
)
def test_when_takes_the_first_matching_branch(record: dict[str, Any], expected: str) -> None:
    rule = {
        "target": "MODL",
        "when": [
            {"if": {"field": "Country", "equals": "DE"}, "then": {"constant": "DHL"}},
            {"if": {"field": "Country", "in": ["AT", "IT"]}, "then": {"constant": "DPD"}},
            {"if": {"field": "Express", "exists": True}, "then": {"constant": "EXP"}},
        ],
        "else": {"constant": "UPS"},
    }
    assert run([rule], record).values == {"MODL": expected}


def test_when_without_else_and_no_match_is_empty() -> None:
    rule = {
        "target": "MODL",
        "when": [{"if": {"field": "Country", "equals": "DE"}, "then": {"constant": "DHL"}}],
    }
    assert run([rule], {"Country": "FR"}).values == {}


def test_equals_compares_as_text() -> None:
    rule = {"target": "FLAG", "when": [{"if": {"field": "Code", "equals": 20}, "then": {"constant": "Y"}}]}
    assert run([rule], {"Code": "20"}).values == {"FLAG": "Y"}


def test_lines_read_the_line_context_and_head() -> None:
    result = run(
        [{"target": "WHLO", "source": "context.WHLO"}],
        {"Lines": [{"SKU": "A"}, {"SKU": "B"}]},
        context={"WHLO": "100"},
        lines={
            "source": "Lines",
            "fields": [
                {"target": "ITNO", "source": "SKU"},
                {"target": "WHLO", "source": "head.WHLO"},
                {"target": "ORTP", "source": "context.WHLO"},
            ],
        },
    )
    assert result.lines == [
        {"ITNO": "A", "WHLO": "100", "ORTP": "100"},
        {"ITNO": "B", "WHLO": "100", "ORTP": "100"},
    ]


def test_line_errors_carry_the_line_position() -> None:
    result = run(
        [{"target": "CUOR", "constant": "X"}],
        {"Lines": [{"SKU": "OK"}, {"SKU": "TOO-LONG"}]},
        lines={"source": "Lines", "fields": [{"target": "ITNO", "source": "SKU", "length": 4}]},
    )
    assert result.lines == [{"ITNO": "OK"}, {}]
    [error] = result.errors
    assert (error.field, error.source, error.line) == ("ITNO", "SKU", 2)
    assert error.message == "ITNO (line 2): value 'TOO-LONG' is 8 characters, M3 allows 4 (from SKU)"


def test_all_errors_are_collected() -> None:
    result = run(
        [
            {"target": "CUNO", "source": "A", "required": True},
            {"target": "CUOR", "source": "B", "length": 1},
            {"target": "ORDT", "type": "D", "date": {"source": "C"}},
            {"target": "CUCD", "constant": "EUR"},
        ],
        {"B": "xx", "C": "never"},
    )
    assert [error.field for error in result.errors] == ["CUNO", "CUOR", "ORDT"]
    assert result.values == {"CUCD": "EUR"}
    assert not result.ok
