"""Promotion of the declared maps: versions, environment overlays, bundles, diff and import."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import ActivityEnvironment

from activities.transform_order import TransformOrderInput, transform_order
from mapping.loader import (
    MAPS_DIR,
    SCHEMA_VERSION,
    declare,
    declared_files,
    load_declared_file,
    map_version,
    parse_file,
    validate_model,
)
from mapping.promotion import diff, import_files, installed, make_bundle, read_bundle, validate, write_bundle
from mapping.spec import LookupTables, MappingSpec, MappingSpecError
from settings import Settings
from starter.maps_cli import add_maps_parser, run_maps
from tests.mapping.test_maps import bng_order

STORE_OVERLAY = """\
schema: 1
version: 2026-11-24
set:
  tables.store_to_warehouse.values: {WEB: "310", B2B: "320"}
"""


@pytest.fixture
def install(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the packaged maps, and an empty overlays folder, to promote into."""
    maps, overlays = tmp_path / "maps", tmp_path / "overlays"
    shutil.copytree(MAPS_DIR, maps)
    overlays.mkdir()
    return maps, overlays


def bump(path: Path, old: str, new: str, *, version: str | None) -> None:
    text = path.read_text().replace(old, new, 1)
    if version is not None:
        text = text.replace("version: 1.0.0", f"version: {version}", 1)
    path.write_text(text)


# --- versions ---------------------------------------------------------------------------------------


def test_every_declared_file_has_a_schema_and_a_version() -> None:
    names = declared_files()
    assert "order.bng_to_m3.yaml" in names and "lookups.yaml" in names and "gl_interface.yaml" in names
    for name in names:
        header = load_declared_file(name).header
        assert header.schema == SCHEMA_VERSION, name
        assert header.version == "1.0.0", name


def test_the_installed_maps_are_valid() -> None:
    assert validate(installed()) == []


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "declares no 'schema' and 'version'"),
        ("schema: 2\nversion: 1.0.0\n", "schema 2 is not the one this m3bng reads (1); upgrade m3bng first"),
        ("schema: 1\n", "'version' must be semver (1.2.0) or a date (2026-11-24), got None"),
        ("schema: 1\nversion: 1.0\n", "got 1.0"),
        ("schema: 1\nversion: latest\n", "'latest' is neither semver (1.2.0) nor a date"),
        ("schema: 1\nversion: 1.0.0\noverlays: fields.CUOR\n", "'overlays' must be a list of field paths"),
    ],
)
def test_a_declared_file_needs_a_valid_header(header: str, message: str) -> None:
    text = (
        header
        + "entity: t\nsource_system: bng\ntarget_system: m3\nfields: [{target: CUOR, source: OrderID}]\n"
    )
    with pytest.raises(MappingSpecError, match=r"t\.bng_to_m3\.yaml: ") as raised:
        declare("t.bng_to_m3.yaml", text)
    assert message in str(raised.value)


def test_versions_may_be_semver_or_dates() -> None:
    body = "tables: {}\n"
    assert declare("lookups.yaml", f"schema: 1\nversion: 2.1.0-rc.1\n{body}").version == "2.1.0-rc.1"
    # Unquoted, YAML reads a date; it is kept as the ISO text.
    assert declare("lookups.yaml", f"schema: 1\nversion: 2026-11-24\n{body}").version == "2026-11-24"
    assert declare("lookups.yaml", f"schema: 1\nversion: '2026-11-24.2'\n{body}").version == "2026-11-24.2"


def test_a_custom_file_may_carry_a_header_or_not(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("tables: {}\n")
    headed = tmp_path / "headed.yaml"
    headed.write_text("schema: 1\nversion: 1.0.0\ntables: {}\n")
    assert parse_file(plain, LookupTables) == parse_file(headed, LookupTables)
    headed.write_text("schema: 3\nversion: 1.0.0\ntables: {}\n")
    with pytest.raises(MappingSpecError, match="schema 3"):
        parse_file(headed, LookupTables)


# --- overlays ---------------------------------------------------------------------------------------


def test_an_overlay_sets_a_declared_field(install: tuple[Path, Path]) -> None:
    maps, overlays = install
    (overlays / "production").mkdir()
    (overlays / "production" / "lookups.yaml").write_text(STORE_OVERLAY)
    file = load_declared_file("lookups.yaml", maps_dir=maps, overlays_dir=overlays, environment="production")
    assert file.version == "1.0.0+production.2026-11-24"
    lookups = validate_model(file.data, LookupTables, "lookups.yaml")
    assert lookups.tables["store_to_warehouse"].values == {"WEB": "310", "B2B": "320"}
    # Only the declared field changed; another environment, or none, sees the maps as declared.
    assert lookups.tables["gl_accounts"].values["BANK"] == "1910"
    plain = load_declared_file("lookups.yaml", maps_dir=maps, overlays_dir=overlays, environment="test")
    assert plain.version == "1.0.0" and plain.overlay is None
    assert validate(installed(maps, overlays)) == []


def test_an_overlay_of_an_undeclared_field_is_refused_at_load(install: tuple[Path, Path]) -> None:
    maps, overlays = install
    (overlays / "production").mkdir()
    (overlays / "production" / "lookups.yaml").write_text(
        "schema: 1\nversion: 2026-11-24\nset:\n  tables.country_to_delivery_method.default: DHL\n"
    )
    with pytest.raises(MappingSpecError) as raised:
        load_declared_file("lookups.yaml", maps_dir=maps, overlays_dir=overlays, environment="production")
    message = str(raised.value)
    assert message.startswith(
        "overlays/production/lookups.yaml: sets 'tables.country_to_delivery_method.default'"
    )
    assert "which lookups.yaml does not declare as overridable" in message
    # A map that declares nothing cannot be overlaid at all.
    (overlays / "production" / "order.bng_to_m3.yaml").write_text(
        "schema: 1\nversion: 1.0.1\nset:\n  fields.WHLO.length: 4\n"
    )
    with pytest.raises(MappingSpecError, match=r"does not declare as overridable \(overlays: none\)"):
        load_declared_file(
            "order.bng_to_m3.yaml", maps_dir=maps, overlays_dir=overlays, environment="production"
        )
    problems = validate(installed(maps, overlays))
    assert len(problems) == 2, problems


def test_an_overlay_value_is_checked_like_the_map(install: tuple[Path, Path]) -> None:
    maps, overlays = install
    (overlays / "production").mkdir()
    (overlays / "production" / "gl_settings.yaml").write_text(
        "schema: 1\nversion: 1.0.0\nset:\n  open_from: soon\n"
    )
    [problem] = validate(installed(maps, overlays))
    assert problem.startswith(
        "gl_settings.yaml with overlays/production/gl_settings.yaml: invalid GlSettings"
    )


def test_an_overlay_names_list_items_by_target(install: tuple[Path, Path]) -> None:
    maps, overlays = install
    bump(
        maps / "order.bng_to_m3.yaml",
        "version: 1.0.0\n",
        "version: 1.0.0\noverlays: [fields.WHLO]\n",
        version=None,
    )
    (overlays / "production").mkdir()
    (overlays / "production" / "order.bng_to_m3.yaml").write_text(
        "schema: 1\nversion: 1.0.0\nset:\n  fields.WHLO.length: 4\n"
    )
    file = load_declared_file(
        "order.bng_to_m3.yaml", maps_dir=maps, overlays_dir=overlays, environment="production"
    )
    spec = validate_model(file.data, MappingSpec, "order")
    assert next(rule for rule in spec.fields if rule.target == "WHLO").length == 4


def test_the_environment_setting_is_checked() -> None:
    assert Settings(environment="production").environment == "production"
    with pytest.raises(ValidationError):
        Settings(environment="../prod")


# --- bundles, diff, import ----------------------------------------------------------------------------


def test_export_import_round_trip(install: tuple[Path, Path], tmp_path: Path) -> None:
    maps, overlays = install
    (overlays / "production").mkdir()
    (overlays / "production" / "lookups.yaml").write_text(STORE_OVERLAY)
    bundle_path = tmp_path / "bundle.json"
    bundle = write_bundle(installed(maps, overlays), bundle_path)
    assert {entry["path"]: entry["version"] for entry in bundle["files"]}[
        "maps/order.bng_to_m3.yaml"
    ] == "1.0.0"
    assert read_bundle(bundle_path) == installed(maps, overlays)

    # Into a fresh installation of the packaged maps: only the overlay is new.
    target_maps, target_overlays = tmp_path / "prod-maps", tmp_path / "prod-overlays"
    shutil.copytree(MAPS_DIR, target_maps)
    result = import_files(read_bundle(bundle_path), maps_dir=target_maps, overlays_dir=target_overlays)
    assert result.written == ["overlays/production/lookups.yaml"]
    assert installed(target_maps, target_overlays) == installed(maps, overlays)
    # Importing it again changes nothing.
    again = import_files(read_bundle(bundle_path), maps_dir=target_maps, overlays_dir=target_overlays)
    assert again.written == [] and len(again.unchanged) == len(bundle["files"])


def test_a_changed_map_moves_forward_with_its_version(install: tuple[Path, Path], tmp_path: Path) -> None:
    maps, overlays = install
    bump(
        maps / "order.bng_to_m3.yaml",
        "length: 30\n    truncate: true",
        "length: 25\n    truncate: true",
        version="1.1.0",
    )
    new = installed(maps, overlays)
    changes = {change.path: change for change in diff(installed(), new) if change.change != "same"}
    assert list(changes) == ["maps/order.bng_to_m3.yaml"]
    assert changes["maps/order.bng_to_m3.yaml"].line().startswith("changed  maps/order.bng_to_m3.yaml")
    assert changes["maps/order.bng_to_m3.yaml"].line().endswith("1.0.0 -> 1.1.0")

    target = tmp_path / "target"
    shutil.copytree(MAPS_DIR, target)
    result = import_files(new, maps_dir=target, overlays_dir=tmp_path / "no-overlays")
    assert result.written == ["maps/order.bng_to_m3.yaml"]
    assert load_declared_file("order.bng_to_m3.yaml", maps_dir=target).version == "1.1.0"

    # Back to the packaged 1.0.0: a downgrade, refused unless it is meant as a rollback.
    with pytest.raises(MappingSpecError, match=r"maps/order.bng_to_m3.yaml: the version goes down"):
        import_files(installed(), maps_dir=target, overlays_dir=tmp_path / "no-overlays")
    import_files(installed(), maps_dir=target, overlays_dir=tmp_path / "no-overlays", allow_downgrade=True)
    assert load_declared_file("order.bng_to_m3.yaml", maps_dir=target).version == "1.0.0"


def test_a_change_without_a_new_version_is_refused(install: tuple[Path, Path], tmp_path: Path) -> None:
    maps, overlays = install
    bump(
        maps / "order.bng_to_m3.yaml",
        "length: 30\n    truncate: true",
        "length: 25\n    truncate: true",
        version=None,
    )
    target = tmp_path / "target"
    shutil.copytree(MAPS_DIR, target)
    before = installed(target)
    with pytest.raises(MappingSpecError, match="content changed but the version did not"):
        import_files(installed(maps, overlays), maps_dir=target, overlays_dir=overlays)
    assert installed(target) == before


def test_an_invalid_bundle_is_not_imported(install: tuple[Path, Path], tmp_path: Path) -> None:
    maps, overlays = install
    bump(maps / "order.bng_to_m3.yaml", "table: store_to_warehouse", "table: no_such_table", version="1.1.0")
    files = installed(maps, overlays)
    [problem] = validate(files)
    assert "field WHLO uses unknown lookup table 'no_such_table'" in problem
    with pytest.raises(MappingSpecError, match="not exported, the maps are invalid"):
        write_bundle(files, tmp_path / "bundle.json")
    target = tmp_path / "target"
    shutil.copytree(MAPS_DIR, target)
    with pytest.raises(MappingSpecError, match="not imported, the bundle is invalid"):
        import_files(files, maps_dir=target, overlays_dir=overlays)
    assert installed(target) == installed()


def test_a_tampered_bundle_is_refused(tmp_path: Path) -> None:
    bundle = make_bundle(installed())
    bundle["files"][0]["content"] += "# edited\n"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(MappingSpecError, match="does not match its sha256"):
        read_bundle(path)
    bundle = make_bundle(installed())
    bundle["files"].pop()
    path.write_text(json.dumps(bundle))
    with pytest.raises(MappingSpecError, match="the checksum does not match"):
        read_bundle(path)
    path.write_text(json.dumps({**make_bundle(installed()), "schema": 2}))
    with pytest.raises(MappingSpecError, match="this m3bng reads bundle version 1, schema 1"):
        read_bundle(path)


def test_a_file_m3bng_does_not_read_is_refused(install: tuple[Path, Path]) -> None:
    maps, overlays = install
    (maps / "notes.yaml").write_text("schema: 1\nversion: 1.0.0\n")
    assert validate(installed(maps, overlays)) == [
        "notes.yaml: not a file m3bng reads (a map is <entity>.bng_to_m3|m3_to_bng.yaml)"
    ]


# --- the command line -------------------------------------------------------------------------------


def maps_command(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_maps_parser(parser.add_subparsers(dest="command"))
    return run_maps(parser.parse_args(["maps", *argv]), Settings())


def test_the_command_line(
    install: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maps, overlays = install
    places = ["--maps-dir", str(maps), "--overlays-dir", str(overlays)]
    bundle = tmp_path / "bundle.json"
    assert maps_command("validate", *places) == 0
    assert "17 files valid (schema 1" in capsys.readouterr().out
    assert maps_command("export", str(bundle), *places) == 0
    assert maps_command("diff", str(bundle), *places) == 0
    assert "no differences" in capsys.readouterr().out

    bump(
        maps / "order.bng_to_m3.yaml",
        "length: 30\n    truncate: true",
        "length: 25\n    truncate: true",
        version="1.1.0",
    )
    newer = tmp_path / "newer.json"
    assert maps_command("export", str(newer), *places) == 0
    capsys.readouterr()
    assert maps_command("diff", str(bundle), str(newer), "--content") == 1
    out = capsys.readouterr().out
    assert "changed  maps/order.bng_to_m3.yaml" in out and "1.0.0 -> 1.1.0" in out
    assert "-    length: 30" in out and "+    length: 25" in out

    target = ["--maps-dir", str(tmp_path / "t-maps"), "--overlays-dir", str(tmp_path / "t-overlays")]
    shutil.copytree(MAPS_DIR, tmp_path / "t-maps")
    assert maps_command("import", str(newer), "--dry-run", *target) == 0
    assert "would write  maps/order.bng_to_m3.yaml 1.1.0" in capsys.readouterr().out
    assert maps_command("import", str(newer), *target) == 0
    assert maps_command("import", str(bundle), *target) == 1
    assert "the version goes down" in capsys.readouterr().out
    assert maps_command("validate", "--bundle", str(newer)) == 0


# --- the version on the order's timeline ------------------------------------------------------------


def test_map_version_names_the_maps_and_versions() -> None:
    assert map_version("order.bng_to_m3", "lookups") == "order.bng_to_m3@1.0.0 lookups@1.0.0"


async def test_the_order_transform_reports_its_map_version() -> None:
    result = await ActivityEnvironment().run(
        transform_order, TransformOrderInput(payload=bng_order(), order_type="A01")
    )
    assert result.ok
    assert result.map_version == "order.bng_to_m3@1.0.0 lookups@1.0.0"
