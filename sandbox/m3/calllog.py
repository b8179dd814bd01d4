"""A log of executed MI transactions, so tests can assert what the product really called.

Outcomes: "ok"/"nok" (M3 ran the call and answered), "fault" (the gateway failed it, M3 never saw
it) and "lost_answer" (M3 ran and committed it, but the client got `status` instead; `code` and
`response` still say what M3 answered).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Literal

from pydantic import BaseModel

Outcome = Literal["ok", "nok", "fault", "lost_answer"]

# Set by the gateway around a call whose answer it will drop; copied into the executor's thread.
_lost_answer_status: ContextVar[int | None] = ContextVar("lost_answer_status", default=None)


class CallRecord(BaseModel):
    seq: int
    at: float
    api: str  # v1 | v2 | bulk
    program: str
    transaction: str
    record: dict[str, Any]
    outcome: Outcome
    code: str = ""
    field: str = ""
    message: str = ""
    status: int = 200
    # The first output record (trimmed) of a successful call, e.g. the temporary ORNO.
    response: dict[str, str] | None = None


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[CallRecord] = []

    def add(self, **values: Any) -> None:
        lost = _lost_answer_status.get()
        if lost is not None and values.get("outcome") in ("ok", "nok"):
            values |= {"outcome": "lost_answer", "status": lost}
        with self._lock:
            self._calls.append(CallRecord(seq=len(self._calls) + 1, at=time.time(), **values))

    @staticmethod
    @contextlib.contextmanager
    def answer_lost(status: int) -> Iterator[None]:
        """Calls logged inside (this task and the threads it starts) are logged as lost_answer."""
        token = _lost_answer_status.set(status)
        try:
            yield
        finally:
            _lost_answer_status.reset(token)

    def list(
        self, program: str | None = None, transaction: str | None = None, outcome: str | None = None
    ) -> list[CallRecord]:
        with self._lock:
            return [
                call
                for call in self._calls
                if program in (None, call.program)
                and transaction in (None, call.transaction)
                and outcome in (None, call.outcome)
            ]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
