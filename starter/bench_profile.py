"""Sample a process of the stack with py-spy while a bench scenario runs, and say where its CPU went.

``py-spy record --format raw`` writes collapsed stacks ("frame;frame;frame count"); the summary
charges each sample to the innermost frame that is m3bng's own code or a library we call (the
package of the frame's file), so that "where does the worker spend its time" reads as "Temporal
SDK 40 %, pydantic 15 %, httpx 10 %, workflows/order_to_cash.py 5 %" (py-spy names files
relative to their sys.path entry).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

# "function (path/to/file.py:123)"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]+)(?::\d+)?\)$")
_PACKAGE = re.compile(r"(?:site-packages|dist-packages)/(?P<package>[^/]+)")
OUR_PACKAGES = {"workflows", "activities", "clients", "starter", "sandbox", "storage", "mapping"}


def py_spy() -> str | None:
    """The py-spy beside this interpreter (the dev extras install it), or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def sampled(pid: int, output: Path, rate: int = 50) -> Iterator[None]:
    """Sample ``pid`` into ``output`` (collapsed stacks) while the block runs. Without py-spy,
    or if it cannot attach, the block runs unsampled and ``output`` is not written."""
    binary = py_spy()
    if binary is None:
        output.unlink(missing_ok=True)
        yield
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)  # never summarise an earlier run's samples
    command = [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    command += ["--nonblocking", "--output", str(output)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def where(frame: str) -> str:
    """The part of the code a frame belongs to: our own file, or a library's or stdlib's package."""
    match = _FRAME.match(frame.strip())
    file = match.group("file") if match else frame
    if package := _PACKAGE.search(file):
        file = file[package.start("package") :]
    top, _, rest = file.partition("/")
    if top in OUR_PACKAGES or not rest:
        return file
    return top


def summary(collapsed: Path, top: int = 12) -> list[tuple[str, float]]:
    """The ``top`` places where samples ended (innermost frame's package or file), with shares."""
    if not collapsed.exists():
        return []
    samples: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [frame for frame in stack.split(";") if frame]
        # Skip the process/thread header py-spy puts first; charge the innermost frame.
        samples[where(frames[-1])] += int(count)
    total = sum(samples.values())
    if not total:
        return []
    return [(place, round(100 * count / total, 1)) for place, count in samples.most_common(top)]
