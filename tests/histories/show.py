"""Print a recorded history with its payloads as JSON.

``python -m tests.histories.show OrderToCashWorkflow/paid.json``

The history files keep payloads base64-encoded, as Temporal's JSON form of a history does; this
shows each event's type and, under it, the payloads it carries (inputs, results, signals, updates).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType

from tests.histories.recording import HISTORIES, load_history, load_index


def payloads(message: Message) -> Iterator[tuple[str, Payload]]:
    """Every payload in ``message``, with the field path that holds it."""
    for field, value in message.ListFields():
        for key, item in _members(value):
            path = f"{field.name}{key}"
            if isinstance(item, Payload):
                yield path, item
            elif isinstance(item, Message):
                yield from ((f"{path}.{inner}", p) for inner, p in payloads(item))


def _members(value: Any) -> list[tuple[str, Any]]:
    """A field's messages: itself, a repeated field's items, or a map's values by key."""
    if isinstance(value, Message):
        return [("", value)]
    if hasattr(value, "items"):
        return [(f"[{key}]", item) for key, item in value.items()]
    if isinstance(value, str | bytes | int | float | bool):
        return []
    return [("", item) for item in value]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.histories.show <WorkflowType>/<name>.json", file=sys.stderr)
        print("recorded:", *sorted(load_index()), sep="\n  ", file=sys.stderr)
        return 2
    name = str((HISTORIES / argv[0]).resolve().relative_to(HISTORIES.resolve()))
    history = load_history(name, load_index()[name])
    print(f"{name}: workflow {history.workflow_id}, {len(history.events)} events")
    for event in history.events:
        print(f"{event.event_id:>4} {EventType.Name(event.event_type).removeprefix('EVENT_TYPE_')}")
        for path, payload in payloads(event):
            try:
                shown = json.dumps(json.loads(payload.data), ensure_ascii=False)
            except ValueError:
                shown = repr(payload.data)
            print(f"       {path}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
