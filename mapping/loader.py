"""Read mapping specs and lookup tables from YAML, with errors that point at the file and key."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mapping.spec import LookupTables, MappingSpec, MappingSpecError

MAPS_DIR = Path(__file__).parent / "maps"
LOOKUPS_FILE = "lookups.yaml"
# Field ownership for two-way sync (mapping.ownership), not a map.
OWNERSHIP_FILE = "ownership.yaml"
MAP_DIRECTIONS = ("bng_to_m3", "m3_to_bng")

ModelT = TypeVar("ModelT", bound=BaseModel)


@cache
def load_mapping(name: str) -> MappingSpec:
    """A packaged map by name, e.g. "order.bng_to_m3", checked against the packaged lookups."""
    path = MAPS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_mappings()) or "none"
        raise MappingSpecError(f"no mapping named {name!r} in {MAPS_DIR} (known: {known})")
    return load_mapping_file(path, lookups=load_lookups())


@cache
def load_lookups() -> LookupTables:
    return load_lookups_file(MAPS_DIR / LOOKUPS_FILE)


def load_mapping_file(path: str | Path, *, lookups: LookupTables | None = None) -> MappingSpec:
    """A map from any file; its lookup tables are checked against ``lookups`` (default: packaged)."""
    spec = parse_file(Path(path), MappingSpec)
    spec.check_lookups(lookups if lookups is not None else load_lookups())
    return spec


def load_lookups_file(path: str | Path) -> LookupTables:
    return parse_file(Path(path), LookupTables)


def available_mappings() -> list[str]:
    """Every packaged map: files named ``<entity>.<direction>.yaml``.

    The folder also holds data that is not a map (lookups, ownership, the GL interface layout,
    match tolerances, GL settings); those have no direction in their name.
    """
    names = (path.stem for path in MAPS_DIR.glob("*.yaml") if path.name not in (LOOKUPS_FILE, OWNERSHIP_FILE))
    return sorted(name for name in names if name.rsplit(".", 1)[-1] in MAP_DIRECTIONS)


def parse_file(path: Path, model: type[ModelT]) -> ModelT:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MappingSpecError(f"{path}: cannot read: {error}") from error
    except yaml.YAMLError as error:
        raise MappingSpecError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise MappingSpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise MappingSpecError(f"{path}: invalid {model.__name__}:\n{_describe(error, data)}") from error


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
