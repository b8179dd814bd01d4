"""``m3bng maps``: promote the declared maps (mapping/maps, mapping/overlays) between environments.

m3bng maps validate [--bundle FILE]     the installed maps (or a bundle): every file parses with
                                        its schema and version, every environment's overlays apply
m3bng maps export FILE                  a bundle of every map, overlay, version and a checksum
m3bng maps diff FILE [OTHER]            a bundle against the installed maps (or another bundle)
m3bng maps import FILE [--dry-run] [--allow-downgrade]   validate a bundle, then install it

Exit status: 0 when all is well (diff: no difference), 1 otherwise.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path

from mapping.loader import MAPS_DIR, OVERLAYS_DIR, SCHEMA_VERSION
from mapping.promotion import (
    FileSet,
    diff,
    environments,
    import_files,
    installed,
    read_bundle,
    validate,
    versions,
    write_bundle,
)
from mapping.spec import MappingSpecError
from settings import Settings


def add_maps_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    maps = commands.add_parser("maps", help="validate, diff, export and import the declared maps")
    actions = maps.add_subparsers(dest="action", required=True)
    places = argparse.ArgumentParser(add_help=False)
    places.add_argument("--maps-dir", type=Path, default=MAPS_DIR, help=argparse.SUPPRESS)
    places.add_argument("--overlays-dir", type=Path, default=OVERLAYS_DIR, help=argparse.SUPPRESS)
    validate_parser = actions.add_parser(
        "validate", parents=[places], help="check the installed maps or a bundle"
    )
    validate_parser.add_argument("--bundle", type=Path, help="check this bundle instead")
    export = actions.add_parser("export", parents=[places], help="write a bundle of the installed maps")
    export.add_argument("bundle", type=Path)
    compare = actions.add_parser("diff", parents=[places], help="compare a bundle with the installed maps")
    compare.add_argument("bundle", type=Path)
    compare.add_argument("other", type=Path, nargs="?", help="a second bundle instead of the installed maps")
    compare.add_argument("--content", action="store_true", help="also print the changed lines")
    load = actions.add_parser("import", parents=[places], help="validate a bundle and install it")
    load.add_argument("bundle", type=Path)
    load.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    load.add_argument(
        "--allow-downgrade", action="store_true", help="a rollback: versions may stay or go down"
    )


def run_maps(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.action == "validate":
            return _validate(args, settings)
        if args.action == "export":
            return _export(args)
        if args.action == "diff":
            return _diff(args)
        return _import(args)
    except MappingSpecError as error:
        print(f"error: {error}")
        return 1


def _installed(args: argparse.Namespace) -> FileSet:
    return installed(args.maps_dir, args.overlays_dir)


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    files = read_bundle(args.bundle) if args.bundle else _installed(args)
    where = str(args.bundle) if args.bundle else f"{args.maps_dir} (+ {args.overlays_dir})"
    for path, version in versions(files).items():
        print(f"{version:<24} {path}")
    problems = validate(files)
    envs = ", ".join(environments(files)) or "none"
    if problems:
        print(f"\n{where}: {len(problems)} problem(s) (schema {SCHEMA_VERSION}; environments: {envs}):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    here = f"; M3BNG_ENVIRONMENT={settings.environment}" if settings.environment else ""
    print(f"\n{where}: {len(files)} files valid (schema {SCHEMA_VERSION}; overlays for: {envs}{here})")
    if settings.environment and settings.environment not in environments(files):
        print(f"note: no overlays for {settings.environment!r}: the maps apply as declared")
    return 0


def _export(args: argparse.Namespace) -> int:
    bundle = write_bundle(_installed(args), args.bundle, source=str(args.maps_dir))
    print(f"wrote {args.bundle}: {len(bundle['files'])} files, checksum {bundle['checksum']}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    if args.other:
        old, new = read_bundle(args.bundle), read_bundle(args.other)
        print(f"--- {args.bundle}\n+++ {args.other}")
    else:
        old, new = _installed(args), read_bundle(args.bundle)
        print(f"--- installed ({args.maps_dir})\n+++ {args.bundle}")
    changes = [change for change in diff(old, new) if change.change != "same"]
    for change in changes:
        print(change.line())
        if args.content and change.change == "changed":
            lines = difflib.unified_diff(
                old[change.path].splitlines(keepends=True),
                new[change.path].splitlines(keepends=True),
                fromfile=change.path,
                tofile=change.path,
            )
            print("".join(lines), end="")
    if not changes:
        print("no differences")
    return 1 if changes else 0


def _import(args: argparse.Namespace) -> int:
    files = read_bundle(args.bundle)
    result = import_files(
        files,
        maps_dir=args.maps_dir,
        overlays_dir=args.overlays_dir,
        allow_downgrade=args.allow_downgrade,
        dry_run=args.dry_run,
    )
    verb = "would write" if args.dry_run else "wrote"
    file_versions = versions(files)
    for path in result.written:
        print(f"{verb:<12} {path} {file_versions[path]}")
    for path in result.kept:
        print(f"{'kept':<12} {path} (installed, not in the bundle)")
    print(f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.kept)} kept")
    if result.written and not args.dry_run:
        print("restart the worker to load them (maps are read once per process)")
    return 0
