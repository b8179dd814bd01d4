"""Record the workflow histories again: ``python -m tests.histories.record``.

Runs ``scenarios.py`` on the test stack (a real Temporal dev server, both sandboxes, the receiver
and a worker, all on this machine) into a scratch directory. Only when every scenario passed and
every workflow type the worker runs has at least one history does it replace the JSON files
under tests/histories/ (old ones are removed, so a renamed scenario leaves nothing behind).
Extra arguments go to pytest, e.g. ``-k journal`` to try some scenarios (then nothing is replaced).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.histories.recording import HISTORIES, INDEX, OUT_ENV, history_files, load_index

ROOT = HISTORIES.parent.parent


def main(argv: list[str]) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="m3bng-histories-") as scratch:
        os.environ[OUT_ENV] = scratch
        code = pytest.main(
            [
                str(HISTORIES / "scenarios.py"),
                "--rootdir",
                str(ROOT),
                "-p",
                "no:cacheprovider",
                "-q",
                "-x",
                *argv,
            ]
        )
        if code != 0:
            print(f"recording failed (pytest exit {code}); tests/histories left as it was", file=sys.stderr)
            return int(code)
        from worker import WORKFLOWS  # after pytest has set up its plugins

        out = Path(scratch)
        index = load_index(out)
        missing = {w.__name__ for w in WORKFLOWS} - {entry.workflow_type for entry in index.values()}
        if argv:
            print(f"recorded {len(index)} histories; pytest arguments given, so tests/histories is unchanged")
            return 0
        if missing:
            print(
                f"no history recorded for {sorted(missing)}; tests/histories left as it was", file=sys.stderr
            )
            return 1
        for old in history_files(HISTORIES):
            (HISTORIES / old).unlink()
        for new in history_files(out):
            (HISTORIES / new).parent.mkdir(exist_ok=True)
            shutil.copyfile(out / new, HISTORIES / new)
        shutil.copyfile(out / INDEX, HISTORIES / INDEX)
    for directory in HISTORIES.iterdir():
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    by_type = Counter(entry.workflow_type for entry in index.values())
    by_status = Counter(entry.status for entry in index.values())
    print(f"recorded {len(index)} histories in {time.monotonic() - started:.0f} s into {HISTORIES}")
    for workflow_type, count in sorted(by_type.items()):
        print(f"  {workflow_type}: {count}")
    print("  " + ", ".join(f"{count} {status}" for status, count in sorted(by_status.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
