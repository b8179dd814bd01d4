"""A log of executed MI transactions, so tests can assert what the product really called."""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

from pydantic import BaseModel

Outcome = Literal["ok", "nok", "fault"]


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
        with self._lock:
            self._calls.append(CallRecord(seq=len(self._calls) + 1, at=time.time(), **values))

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
