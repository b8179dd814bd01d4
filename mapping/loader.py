"""Read mapping specs and lookup tables from YAML, with errors that point at the file and key."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mapping.spec import LookupTables, MappingSpec, MappingSpecError

MAPS_DIR = Path(__file__).parent / "maps"
# Per-environment overrides: overlays/<environment>/<file>.yaml, selected by M3BNG_ENVIRONMENT.
OVERLAYS_DIR = Path(__file__).parent / "overlays"
LOOKUPS_FILE = "lookups.yaml"
# Field ownership for two-way sync (mapping.ownership), not a map.
OWNERSHIP_FILE = "ownership.yaml"
MAP_DIRECTIONS = ("bng_to_m3", "m3_to_bng")

# The format of the declared files this m3bng reads; a file with another schema is refused.
SCHEMA_VERSION = 1
# Every declared file starts with these keys; they are not part of what its model sees.
HEADER_KEYS = ("schema", "version", "overlays")
# A content version: semver (1.4.0, 2.0.0-rc.1) or a date with an optional same-day counter
# (2026-11-24, 2026-11-24.2). Versions of one file are compared within one of the two kinds.
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$")
_DATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:\.(\d+))?$")
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Header:
    """What a declared file says about itself: ``schema: 1``, ``version: ...``, ``overlays: [...]``.

    ``overlays`` lists the paths an environment overlay may set, e.g. ``tables.gl_accounts`` or
    ``fields.WHLO.default`` (a list item is named by its ``target`` or ``name``).
    """

    schema: int
    version: str
    overlays: tuple[str, ...] = ()


@dataclass(frozen=True)
class Declared:
    """A declared file as it applies in one environment: its data with the overlay applied."""

    name: str
    header: Header
    data: dict[str, Any]
    # The base version, plus "+<environment>.<overlay version>" when an overlay applied.
    version: str
    overlay: str | None = None


def version_key(version: str) -> tuple[str, tuple[int, ...]]:
    """``version`` as something to order by, within its kind ("semver" or "date")."""
    if match := _SEMVER.match(version):
        return "semver", tuple(int(part) for part in match.groups())
    if match := _DATED.match(version):
        return "date", tuple(int(part or 0) for part in match.groups())
    raise MappingSpecError(f"version {version!r} is neither semver (1.2.0) nor a date (2026-11-24)")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingSpecError(f"{path}: cannot read: {error}") from error


def parse_yaml(text: str, where: str | Path) -> dict[str, Any]:
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingSpecError(f"{where}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise MappingSpecError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def split_header(
    data: dict[str, Any], where: str | Path, *, required: bool
) -> tuple[Header | None, dict[str, Any]]:
    """The header keys of ``data`` checked and taken out; the rest is the file's content."""
    body = {key: value for key, value in data.items() if key not in HEADER_KEYS}
    if not any(key in data for key in HEADER_KEYS):
        if required:
            raise MappingSpecError(
                f"{where}: declares no 'schema' and 'version' (e.g. schema: 1, version: 1.0.0)"
            )
        return None, body
    schema = data.get("schema")
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        raise MappingSpecError(
            f"{where}: schema {schema!r} is not the one this m3bng reads ({SCHEMA_VERSION})"
            + ("; upgrade m3bng first" if isinstance(schema, int) and schema > SCHEMA_VERSION else "")
        )
    version = data.get("version")
    if isinstance(version, dt.date):  # YAML reads an unquoted 2026-11-24 as a date
        version = version.isoformat()
    if not isinstance(version, str):
        raise MappingSpecError(
            f"{where}: 'version' must be semver (1.2.0) or a date (2026-11-24), got {version!r}"
        )
    try:
        version_key(version)
    except MappingSpecError as error:
        raise MappingSpecError(f"{where}: {error}") from None
    overlays = data.get("overlays", [])
    if not isinstance(overlays, list) or not all(isinstance(path, str) and path for path in overlays):
        raise MappingSpecError(f"{where}: 'overlays' must be a list of field paths")
    return Header(schema, version, tuple(overlays)), body


def validate_model(data: dict[str, Any], model: type[ModelT], where: str | Path) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise MappingSpecError(f"{where}: invalid {model.__name__}:\n{_describe(error, data)}") from error


def parse_file(path: Path, model: type[ModelT]) -> ModelT:
    """Any file: its header (``schema``, ``version``) is checked when it has one, and left out."""
    _, body = split_header(parse_yaml(_read(path), path), path, required=False)
    return validate_model(body, model, path)


# --- declared files and environment overlays --------------------------------------------------------


def current_environment() -> str | None:
    """M3BNG_ENVIRONMENT: the overlays under ``overlays/<environment>/`` apply."""
    from settings import get_settings  # late: settings are read when a map is first loaded

    return get_settings().environment


def check_environment(environment: str) -> str:
    if not _ENVIRONMENT.match(environment):
        raise MappingSpecError(f"environment {environment!r}: use lower-case letters, digits, '-' and '_'")
    return environment


def declare(
    name: str, text: str, *, overlay_text: str | None = None, environment: str | None = None
) -> Declared:
    """A declared file's text, with the overlay text of ``environment`` applied when given."""
    header, body = split_header(parse_yaml(text, name), name, required=True)
    assert header is not None
    if overlay_text is None:
        return Declared(name, header, body, header.version)
    assert environment is not None
    where = f"overlays/{environment}/{name}"
    overlay_header, overlay = split_header(parse_yaml(overlay_text, where), where, required=True)
    assert overlay_header is not None
    if overlay_header.overlays:
        raise MappingSpecError(f"{where}: an overlay cannot declare 'overlays' itself")
    unknown = sorted(set(overlay) - {"set"})
    if unknown or not isinstance(overlay.get("set"), dict) or not overlay["set"]:
        raise MappingSpecError(
            f"{where}: an overlay has one key, 'set': {{field path: value}} (found {unknown})"
        )
    data = body
    for path, value in overlay["set"].items():
        if not any(path == declared or path.startswith(f"{declared}.") for declared in header.overlays):
            declared = ", ".join(header.overlays) or "none"
            raise MappingSpecError(
                f"{where}: sets {path!r}, which {name} does not declare as overridable (overlays: {declared})"
            )
        data = _set_path(data, path.split("."), value, f"{where}: {path}")
    version = f"{header.version}+{environment}.{overlay_header.version}"
    return Declared(name, header, data, version, overlay=where)


def load_declared_file(
    name: str,
    *,
    maps_dir: Path | None = None,
    overlays_dir: Path | None = None,
    environment: str | None = None,
) -> Declared:
    """An installed declared file (``maps/<name>``) with its overlay for ``environment``, if any."""
    maps_dir = maps_dir or MAPS_DIR
    overlays_dir = overlays_dir or OVERLAYS_DIR
    text = _read(maps_dir / name)
    if environment is None:
        return declare(name, text)
    overlay_path = overlays_dir / check_environment(environment) / name
    overlay_text = _read(overlay_path) if overlay_path.is_file() else None
    return declare(name, text, overlay_text=overlay_text, environment=environment)


@cache
def declared(name: str) -> Declared:
    """An installed declared file as it applies here (M3BNG_ENVIRONMENT), read once."""
    return load_declared_file(name, environment=current_environment())


def load_declared(name: str, model: type[ModelT]) -> ModelT:
    file = declared(name)
    where = MAPS_DIR / name if file.overlay is None else f"{MAPS_DIR / name} with {file.overlay}"
    return validate_model(file.data, model, where)


def declared_version(name: str) -> str:
    """The content version of an installed declared file here, e.g. ``1.2.0+production.3``."""
    return declared(name).version


def map_version(*names: str) -> str:
    """What an order's timeline records: ``order.bng_to_m3@1.2.0 lookups@1.0.0`` (names without .yaml)."""
    return " ".join(f"{name}@{declared_version(f'{name}.yaml')}" for name in names)


def _set_path(data: Any, path: list[str], value: Any, where: str) -> Any:
    """A copy of ``data`` with ``value`` at ``path``; list items are named by target or name."""
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        if head not in data and rest:
            raise MappingSpecError(f"{where}: no {head!r} here")
        copy = dict(data)
        copy[head] = value if not rest else _set_path(data[head], rest, value, where)
        return copy
    if isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict) and head in (item.get("target"), item.get("name")):
                copy_list = list(data)
                copy_list[index] = value if not rest else _set_path(item, rest, value, where)
                return copy_list
        raise MappingSpecError(f"{where}: no list item with target or name {head!r}")
    raise MappingSpecError(f"{where}: {head!r} is inside a value, not a mapping or list")


# --- maps and lookups --------------------------------------------------------------------------------


@cache
def load_mapping(name: str) -> MappingSpec:
    """A packaged map by name, e.g. "order.bng_to_m3", checked against the packaged lookups."""
    path = MAPS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_mappings()) or "none"
        raise MappingSpecError(f"no mapping named {name!r} in {MAPS_DIR} (known: {known})")
    spec = load_declared(path.name, MappingSpec)
    spec.check_lookups(load_lookups())
    return spec


@cache
def load_lookups() -> LookupTables:
    return load_declared(LOOKUPS_FILE, LookupTables)


def load_mapping_file(path: str | Path, *, lookups: LookupTables | None = None) -> MappingSpec:
    """A map from any file; its lookup tables are checked against ``lookups`` (default: packaged)."""
    spec = parse_file(Path(path), MappingSpec)
    spec.check_lookups(lookups if lookups is not None else load_lookups())
    return spec


def load_lookups_file(path: str | Path) -> LookupTables:
    return parse_file(Path(path), LookupTables)


def is_map(name: str) -> bool:
    """``<entity>.<direction>.yaml``: a field map (the folder also holds other declared data)."""
    return name.endswith(".yaml") and name.removesuffix(".yaml").rsplit(".", 1)[-1] in MAP_DIRECTIONS


def available_mappings() -> list[str]:
    """Every packaged map: files named ``<entity>.<direction>.yaml``.

    The folder also holds data that is not a map (lookups, ownership, the GL interface layout,
    match tolerances, GL settings); those have no direction in their name.
    """
    return sorted(path.stem for path in MAPS_DIR.glob("*.yaml") if is_map(path.name))


def declared_files(maps_dir: Path | None = None) -> list[str]:
    """Every declared file installed: the maps and the other data beside them."""
    return sorted(path.name for path in (maps_dir or MAPS_DIR).glob("*.yaml"))


def _describe(error: ValidationError, data: Any) -> str:
    """One line per problem, located like ``fields[2] (CUOR).lookup.table``."""
    lines = []
    for problem in error.errors(include_url=False):
        lines.append(f"  {_locate(problem['loc'], data)}: {problem['msg']}")
    return "\n".join(lines)


def _locate(loc: tuple[int | str, ...], data: Any) -> str:
    # Name list items by their target: "fields[7]" alone makes the reader count YAML entries.
    location = ""
    for part in loc:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and part < len(data) else None
            target = data.get("target") if isinstance(data, dict) else None
            location += f"[{part}]" + (f" ({target})" if target else "")
        else:
            data = data.get(part) if isinstance(data, dict) else None
            location += f".{part}" if location else part
    return location or "(top level)"
