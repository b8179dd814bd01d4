"""Loading maps from YAML, and the errors a broken file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapping.loader import load_lookups, load_lookups_file, load_mapping, load_mapping_file
from mapping.spec import LookupTables, MappingSpecError

HEADER = "entity: test\nsource_system: bng\ntarget_system: m3\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: CUOR, source: OrderID, length: 20}\n")
    spec = load_mapping_file(path)
    assert [(rule.target, rule.source, rule.length) for rule in spec.fields] == [("CUOR", "OrderID", 20)]


def test_packaged_loads_are_cached() -> None:
    assert load_mapping("order.bng_to_m3") is load_mapping("order.bng_to_m3")
    assert load_lookups() is load_lookups()


def test_lookup_codes_stay_text() -> None:
    lookups = load_lookups()
    assert lookups.tables["store_to_warehouse"].values == {"WEB": "100", "B2B": "200"}
    assert lookups.tables["m3_status_to_bng_order_status"].values["66"] == "Shipped"
    assert lookups.tables["country_to_delivery_method"].default == "UPS"


def test_unknown_mapping_name() -> None:
    with pytest.raises(MappingSpecError, match=r"no mapping named 'invoice\.bng_to_m3'.*order\.bng_to_m3"):
        load_mapping("invoice.bng_to_m3")


def test_two_sources_in_one_rule(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: CUOR, source: OrderID, constant: X}\n")
    with pytest.raises(MappingSpecError) as raised:
        load_mapping_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid MappingSpec:")
    assert (
        "fields[0] (CUOR): Value error, needs exactly one of source, constant, concat, lookup, date, when"
        in message
    )
    assert "(found: source, constant)" in message


def test_no_source_in_a_nested_branch(tmp_path: Path) -> None:
    text = HEADER + (
        "fields:\n  - target: MODL\n    when:\n      - if: {field: Country, equals: DE}\n        then: {}\n"
    )
    with pytest.raises(MappingSpecError, match=r"fields\[0\] \(MODL\)\.when\[0\]\.then: .*\(found: none\)"):
        load_mapping_file(write(tmp_path, text))


def test_misspelt_key_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: CUOR, source: OrderID, lenght: 20}\n")
    with pytest.raises(
        MappingSpecError, match=r"fields\[0\] \(CUOR\)\.lenght: Extra inputs are not permitted"
    ):
        load_mapping_file(path)


def test_unknown_lookup_table(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: WHLO, lookup: {table: nope, source: StoreID}}\n")
    with pytest.raises(
        MappingSpecError, match=r"field WHLO uses unknown lookup table 'nope' \(known: .*store_to_warehouse"
    ):
        load_mapping_file(path)


def test_lookup_checked_against_given_tables(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: WHLO, lookup: {table: mine, source: StoreID}}\n")
    spec = load_mapping_file(
        path, lookups=LookupTables.model_validate({"tables": {"mine": {"values": {"A": "1"}}}})
    )
    assert spec.fields[0].lookup is not None


def test_truncate_needs_a_text_field(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + "fields:\n  - {target: ORQT, type: N, source: Qty, truncate: true, length: 3}\n"
    )
    with pytest.raises(MappingSpecError, match="ORQT: truncate only applies to type A fields"):
        load_mapping_file(path)


def test_duplicate_target(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: CUOR, source: A}\n  - {target: CUOR, source: B}\n")
    with pytest.raises(MappingSpecError, match="target CUOR is mapped twice"):
        load_mapping_file(path)


def test_head_paths_only_in_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: WHLO, source: head.WHLO}\n")
    with pytest.raises(MappingSpecError, match=r"WHLO: 'head\.' paths are only allowed in line rules"):
        load_mapping_file(path)


def test_broken_yaml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "fields:\n  - {target: CUOR, source: [OrderID\n")
    with pytest.raises(MappingSpecError, match=rf"^{path}: not valid YAML:"):
        load_mapping_file(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(MappingSpecError, match="expected a mapping at the top level, got list"):
        load_mapping_file(write(tmp_path, "- a\n- b\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MappingSpecError, match="cannot read"):
        load_mapping_file(tmp_path / "absent.yaml")


def test_bad_lookups_file(tmp_path: Path) -> None:
    path = write(tmp_path, "tables:\n  colors:\n    values: [RED]\n")
    with pytest.raises(MappingSpecError, match=r"tables\.colors\.values: Input should be a valid dictionary"):
        load_lookups_file(path)
