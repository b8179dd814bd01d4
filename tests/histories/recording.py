"""Write workflow histories as JSON, and read them back for the replay test.

A history is written as ``WorkflowHistory.to_json()`` (the payloads in it are what production's
converter writes: pydantic JSON, here unencrypted) under ``<WorkflowType>/<name>.json``;
``index.json`` names each one's workflow id, its status when it was recorded and what it shows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

HISTORIES = Path(__file__).parent
INDEX = "index.json"
# Where record.py wants the scenarios to write (a plain pytest run of them writes to a scratch directory).
OUT_ENV = "M3BNG_RECORD_HISTORIES_TO"

# The status a history was recorded in: finished, moved to a new run, or still waiting.
STATUS_NAMES = {
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued_as_new",
    WorkflowExecutionStatus.RUNNING: "running",
}


@dataclass(frozen=True)
class Entry:
    workflow_id: str
    workflow_type: str
    status: str
    events: int
    what: str


def load_index(root: Path = HISTORIES) -> dict[str, Entry]:
    """``Type/name.json`` -> its entry."""
    path = root / INDEX
    if not path.exists():
        return {}
    return {name: Entry(**entry) for name, entry in json.loads(path.read_text()).items()}


def load_history(name: str, entry: Entry, root: Path = HISTORIES) -> WorkflowHistory:
    return WorkflowHistory.from_json(entry.workflow_id, (root / name).read_text())


def history_files(root: Path = HISTORIES) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.glob("*/*.json"))


def replayer() -> Replayer:
    """The worker's workflows with production's converter (pydantic JSON; the payloads here are
    not encrypted, so no codec)."""
    from worker import WORKFLOWS

    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


class Recorder:
    """Records histories into ``out`` while the scenarios run; ``write_index`` at the end."""

    def __init__(self, client: Client, out: Path) -> None:
        self.client = client
        self.out = out
        self.entries: dict[str, Entry] = {}

    async def record(
        self,
        name: str,
        workflow_id: str,
        *,
        expect: WorkflowExecutionStatus,
        what: str,
        run_id: str | None = None,
    ) -> WorkflowHistory:
        """Record the workflow's history as it stands once it is idle (no workflow task or activity
        pending, no new events), check it replays, and write it as ``<Type>/<name>.json``."""
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await _idle_history(handle, expect)
        started = history.events[0].workflow_execution_started_event_attributes
        workflow_type = started.workflow_type.name
        file = f"{workflow_type}/{name}.json"
        if file in self.entries:
            raise ValueError(f"{file} recorded twice")
        # A history that does not replay against the code that made it is a recorder bug.
        await replayer().replay_workflow(history)
        path = self.out / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(history.to_json() + "\n")
        self.entries[file] = Entry(
            workflow_id=workflow_id,
            workflow_type=workflow_type,
            status=STATUS_NAMES[expect],
            events=len(history.events),
            what=what,
        )
        return history

    def write_index(self) -> None:
        index = {name: asdict(entry) for name, entry in sorted(self.entries.items())}
        (self.out / INDEX).write_text(json.dumps(index, indent=2) + "\n")


_TASK_DONE = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
_TASK_EVENTS = {
    *_TASK_DONE,
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
}


def _last_task_done(history: WorkflowHistory) -> bool:
    """The last workflow task has finished: the events after it are only its commands."""
    for event in reversed(history.events):
        if event.event_type in _TASK_EVENTS:
            return event.event_type in _TASK_DONE
    return False


async def _idle_history(
    handle: WorkflowHandle, expect: WorkflowExecutionStatus, timeout: float = 30
) -> WorkflowHistory:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last_length, status = -1, None
    while loop.time() < deadline:
        description = await handle.describe()
        status = description.status
        history = await handle.fetch_history()
        if status == expect:
            if status != WorkflowExecutionStatus.RUNNING:
                return history
            raw = description.raw_description
            idle = not raw.HasField("pending_workflow_task") and not raw.pending_activities
            done = _last_task_done(history)
            if idle and done and len(history.events) == last_length:
                return history
            last_length = len(history.events) if idle and done else -1
        await asyncio.sleep(0.3)
    raise AssertionError(f"{handle.id} never became idle in status {expect.name}; last status {status}")
