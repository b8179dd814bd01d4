"""Promoting the declared maps from one environment to the next: validate, bundle, diff, import.

A *file set* is every declared file by its path: ``maps/<name>.yaml`` (the maps and the data beside
them) and ``overlays/<environment>/<name>.yaml``, as text. It comes from an installation
(``installed``) or from a bundle (``read_bundle``), a JSON file with each file's text, version and
SHA-256, and a checksum over all of them.

Validation parses every file with the model m3bng reads it with, checks each map's lookup tables
against the set's own lookups, and applies every environment's overlays (an overlay may only set
what its file declares in ``overlays``). An import writes only a validated bundle, and only moves
a file forward: a changed file must carry a higher version than the installed one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from mapping.finance import GL_SETTINGS_FILE, MATCH_TOLERANCES_FILE, GlSettings, MatchTolerances
from mapping.fixed_width import GL_INTERFACE_FILE, FixedWidthLayout
from mapping.loader import (
    LOOKUPS_FILE,
    MAPS_DIR,
    OVERLAYS_DIR,
    OWNERSHIP_FILE,
    SCHEMA_VERSION,
    Declared,
    check_environment,
    declare,
    is_map,
    validate_model,
    version_key,
)
from mapping.ownership import OwnershipSpec
from mapping.spec import LookupTables, MappingSpec, MappingSpecError

BUNDLE_FORMAT = "m3bng-maps"
BUNDLE_VERSION = 1
MAPS = "maps"
OVERLAYS = "overlays"

FileSet = dict[str, str]

# The declared files that are not maps, and the model each is read with.
_DATA_MODELS: dict[str, type[BaseModel]] = {
    LOOKUPS_FILE: LookupTables,
    OWNERSHIP_FILE: OwnershipSpec,
    GL_SETTINGS_FILE: GlSettings,
    MATCH_TOLERANCES_FILE: MatchTolerances,
    GL_INTERFACE_FILE: FixedWidthLayout,
}


def model_for(name: str) -> type[BaseModel]:
    if is_map(name):
        return MappingSpec
    if name in _DATA_MODELS:
        return _DATA_MODELS[name]
    raise MappingSpecError(f"{name}: not a file m3bng reads (a map is <entity>.bng_to_m3|m3_to_bng.yaml)")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- file sets --------------------------------------------------------------------------------------


def installed(maps_dir: Path = MAPS_DIR, overlays_dir: Path = OVERLAYS_DIR) -> FileSet:
    files = {f"{MAPS}/{path.name}": path.read_text(encoding="utf-8") for path in maps_dir.glob("*.yaml")}
    if overlays_dir.is_dir():
        for path in overlays_dir.glob("*/*.yaml"):
            files[f"{OVERLAYS}/{path.parent.name}/{path.name}"] = path.read_text(encoding="utf-8")
    return dict(sorted(files.items()))


def _split(path: str) -> tuple[str | None, str]:
    """(environment or None, file name) of a set path; MappingSpecError for any other path."""
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == MAPS and parts[1].endswith(".yaml"):
        return None, parts[1]
    if len(parts) == 3 and parts[0] == OVERLAYS and parts[2].endswith(".yaml"):
        return check_environment(parts[1]), parts[2]
    raise MappingSpecError(f"{path}: not maps/<file>.yaml or overlays/<environment>/<file>.yaml")


def environments(files: FileSet) -> list[str]:
    return sorted({env for env, _ in map(_split, files) if env is not None})


def version_of(path: str, text: str) -> str:
    """The declared version of one file of a set (the overlay's own, for an overlay)."""
    _, name = _split(path)
    return declare(name, text).header.version


def resolve(files: FileSet, name: str, environment: str | None) -> Declared:
    overlay = files.get(f"{OVERLAYS}/{environment}/{name}") if environment else None
    return declare(name, files[f"{MAPS}/{name}"], overlay_text=overlay, environment=environment)


def validate(files: FileSet) -> list[str]:
    """Every problem of a file set, one line each; empty when it is valid in every environment."""
    problems: list[str] = []
    for path in files:
        try:
            env, name = _split(path)
            model_for(name)
            if env is not None and f"{MAPS}/{name}" not in files:
                problems.append(f"{path}: an overlay of {name}, which is not in the set")
        except MappingSpecError as error:
            problems.append(str(error))
    names = sorted(name for env, name in map(_safe_split, files) if env is None and name)
    for environment in [None, *environments(files)]:
        problems += _validate_in(files, names, environment)
    return list(dict.fromkeys(problems))


def _safe_split(path: str) -> tuple[str | None, str]:
    try:
        return _split(path)
    except MappingSpecError:
        return None, ""


def _validate_in(files: FileSet, names: list[str], environment: str | None) -> list[str]:
    problems: list[str] = []
    lookups: LookupTables | None = None
    specs: list[MappingSpec] = []
    for name in names:
        try:
            file = resolve(files, name, environment)
            where = name if file.overlay is None else f"{name} with {file.overlay}"
            model = validate_model(file.data, model_for(name), where)
        except MappingSpecError as error:
            problems.append(str(error))
            continue
        if isinstance(model, LookupTables):
            lookups = model
        elif isinstance(model, MappingSpec):
            specs.append(model)
    if lookups is None:
        if f"{MAPS}/{LOOKUPS_FILE}" not in files:
            problems.append(f"{LOOKUPS_FILE}: missing (the maps' lookup tables)")
        return problems
    for spec in specs:
        try:
            spec.check_lookups(lookups)
        except MappingSpecError as error:
            problems.append(str(error) + (f" (environment {environment})" if environment else ""))
    return problems


# --- bundles ---------------------------------------------------------------------------------------


def _checksum(entries: list[dict[str, Any]]) -> str:
    return sha256("".join(f"{entry['path']}\n{entry['sha256']}\n" for entry in entries))


def make_bundle(files: FileSet, *, source: str = "") -> dict[str, Any]:
    entries = [
        {"path": path, "version": version_of(path, text), "sha256": sha256(text), "content": text}
        for path, text in sorted(files.items())
    ]
    return {
        "format": BUNDLE_FORMAT,
        "bundle_version": BUNDLE_VERSION,
        "schema": SCHEMA_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "files": entries,
        "checksum": _checksum(entries),
    }


def write_bundle(files: FileSet, path: Path, *, source: str = "") -> dict[str, Any]:
    problems = validate(files)
    if problems:
        raise MappingSpecError("not exported, the maps are invalid:\n" + "\n".join(problems))
    bundle = make_bundle(files, source=source)
    _atomic_write(path, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    return bundle


def read_bundle(path: Path) -> FileSet:
    """The files of a bundle, after checking its format, every file's hash and the checksum."""
    try:
        bundle = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MappingSpecError(f"{path}: not a readable bundle: {error}") from error
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise MappingSpecError(f"{path}: not an m3bng maps bundle")
    if bundle.get("bundle_version") != BUNDLE_VERSION or bundle.get("schema") != SCHEMA_VERSION:
        raise MappingSpecError(
            f"{path}: bundle version {bundle.get('bundle_version')}, schema {bundle.get('schema')}; "
            f"this m3bng reads bundle version {BUNDLE_VERSION}, schema {SCHEMA_VERSION}"
        )
    entries = bundle.get("files")
    if not isinstance(entries, list):
        raise MappingSpecError(f"{path}: no list of files")
    files: FileSet = {}
    for entry in entries:
        try:
            name, text, digest = entry["path"], entry["content"], entry["sha256"]
        except (KeyError, TypeError) as error:
            raise MappingSpecError(f"{path}: a file entry lacks {error}") from error
        if sha256(text) != digest:
            raise MappingSpecError(f"{path}: {name} does not match its sha256 (changed after export)")
        files[name] = text
    if _checksum(entries) != bundle.get("checksum"):
        raise MappingSpecError(f"{path}: the checksum does not match its files (changed after export)")
    return files


# --- diff and import -------------------------------------------------------------------------------

Change = Literal["added", "removed", "changed", "same"]


@dataclass(frozen=True)
class FileDiff:
    path: str
    change: Change
    old_version: str | None
    new_version: str | None
    # What is wrong with the change for a promotion: "" when it is fine.
    problem: str = ""

    def line(self) -> str:
        versions = {
            "added": f"{self.new_version}",
            "removed": f"{self.old_version}",
            "changed": f"{self.old_version} -> {self.new_version}",
            "same": f"{self.new_version}",
        }[self.change]
        problem = f"  !! {self.problem}" if self.problem else ""
        return f"{self.change:<8} {self.path:<48} {versions}{problem}"


def _safe_version(path: str, text: str) -> str:
    try:
        return version_of(path, text)
    except MappingSpecError:
        return "?"


def diff(old: FileSet, new: FileSet) -> list[FileDiff]:
    """What changes from ``old`` to ``new``, file by file, with version problems named."""
    result = []
    for path in sorted(set(old) | set(new)):
        before = _safe_version(path, old[path]) if path in old else None
        after = _safe_version(path, new[path]) if path in new else None
        if path not in old:
            result.append(FileDiff(path, "added", None, after))
        elif path not in new:
            result.append(FileDiff(path, "removed", before, None))
        elif old[path] == new[path]:
            result.append(FileDiff(path, "same", before, after))
        else:
            assert before is not None and after is not None
            result.append(FileDiff(path, "changed", before, after, _version_problem(before, after)))
    return result


def _version_problem(before: str, after: str) -> str:
    if before == after:
        return "content changed but the version did not"
    try:
        old_kind, old_key = version_key(before)
        new_kind, new_key = version_key(after)
    except MappingSpecError as error:
        return str(error)
    if old_kind != new_kind:
        return f"versions of different kinds ({old_kind} -> {new_kind}) cannot be ordered"
    if new_key < old_key:
        return "the version goes down"
    return ""


@dataclass(frozen=True)
class ImportResult:
    written: list[str]
    unchanged: list[str]
    # Installed files the bundle does not have: kept as they are.
    kept: list[str]


def import_files(
    files: FileSet,
    *,
    maps_dir: Path = MAPS_DIR,
    overlays_dir: Path = OVERLAYS_DIR,
    allow_downgrade: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Write a bundle's files into an installation, after validating them and their versions.

    Refused (MappingSpecError, nothing written) when the set is invalid, or when a file changes
    without a higher version (``allow_downgrade`` lets a version stay or go down: a rollback).
    """
    problems = validate(files)
    if problems:
        raise MappingSpecError("not imported, the bundle is invalid:\n" + "\n".join(problems))
    current = installed(maps_dir, overlays_dir)
    changes = [change for change in diff(current, files) if change.path in files]
    refused = [
        f"{change.path}: {change.problem}" for change in changes if change.problem and not allow_downgrade
    ]
    if refused:
        raise MappingSpecError(
            "not imported, versions do not move forward (--allow-downgrade for a rollback):\n"
            + "\n".join(refused)
        )
    written = [change.path for change in changes if change.change in ("added", "changed")]
    if not dry_run:
        for path in written:
            env, name = _split(path)
            target = maps_dir / name if env is None else overlays_dir / env / name
            _atomic_write(target, files[path])
    return ImportResult(
        written=written,
        unchanged=[change.path for change in changes if change.change == "same"],
        kept=sorted(set(current) - set(files)),
    )


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def versions(files: Mapping[str, str]) -> dict[str, str]:
    return {path: _safe_version(path, text) for path, text in files.items()}
