"""What the workflow sandbox costs per workflow run: it imports the workflow's module afresh."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import workflows

WORKFLOWS = Path(workflows.__file__).parent
ROOT = WORKFLOWS.parent


def test_workflow_modules_import_their_siblings_by_full_name() -> None:
    """``from workflows import summaries`` inside the sandbox imports the submodule through the
    package's fromlist, past the sandbox's pass-through check: it was compiled and run again for
    every workflow run. ``import workflows.summaries as summaries`` is passed through."""
    offenders = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "workflows" and node.level == 0:
                offenders += [f"{path.name}:{node.lineno} from workflows import {a.name}" for a in node.names]
    assert offenders == []


def test_the_worker_caches_the_workflow_modules_bytecode(tmp_path: Path) -> None:
    """Under PYTHONDONTWRITEBYTECODE nothing else writes it, and each run compiled the source."""
    prefix = tmp_path / "pycache"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(prefix)}
    subprocess.run(
        [sys.executable, "-c", "import worker; worker.cache_workflow_bytecode()"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    cached = {path.name.split(".")[0] for path in prefix.rglob("*.pyc") if path.parent.name == "workflows"}
    assert {"order_to_cash", "master_data", "reconcile", "purchase_order"} <= cached
