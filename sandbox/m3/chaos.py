"""Knobs and scripted faults: latency, random 5xx, a 429 quota, partial list failures.

They act where the ION API gateway would, in front of the MI call, so a client sees exactly what a
real tenant sends when it is slow, overloaded or throttled.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

FaultStatus = Literal[429, 500, 502, 503, 504]


class Knobs(BaseModel):
    latency_ms: int = Field(default=0, ge=0)
    error_rate_5xx: float = Field(default=0.0, ge=0.0, le=1.0)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    # List transactions (v1) fail after this many rows with a nested ErrorMessage.
    partial_list_error_after: int | None = Field(default=None, ge=0)
    # False: changes to customers, suppliers, items and balances publish no BOD ("drift").
    master_data_bods: bool = True


class KnobsUpdate(BaseModel):
    """Partial update: only the fields sent change; send null to switch a knob off.

    `master_data_bods` is the exception: null puts it back to its default, on.
    """

    latency_ms: int | None = Field(default=None, ge=0)
    error_rate_5xx: float | None = Field(default=None, ge=0.0, le=1.0)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    partial_list_error_after: int | None = Field(default=None, ge=0)
    master_data_bods: bool | None = None


class FaultRule(BaseModel):
    program: str | None = None  # None matches any program
    transaction: str | None = None  # None matches any transaction
    status: FaultStatus = 503
    count: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    delay_seconds: float = Field(default=0.0, ge=0.0)


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    delay_seconds: float = 0.0
    reason: str = "fault"


REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Chaos:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.knobs = Knobs()
        self.rules: list[FaultRule] = []
        self._recent: deque[float] = deque()
        self._random = random.Random()

    def reset(self) -> None:
        with self._lock:
            self.knobs = Knobs()
            self.rules.clear()
            self._recent.clear()

    def update_knobs(self, update: KnobsUpdate) -> Knobs:
        changes = update.model_dump(exclude_unset=True)
        if changes.get("master_data_bods", True) is None:
            changes["master_data_bods"] = True
        with self._lock:
            self.knobs = self.knobs.model_copy(update=changes)
            return self.knobs

    def add_rule(self, rule: FaultRule) -> None:
        with self._lock:
            self.rules.append(rule)

    def check(self, program: str, transactions: list[str]) -> Fault | None:
        """The fault (if any) for the next MI call; consumes one count of a matching rule."""
        with self._lock:
            if self.knobs.rate_limit_per_second is not None and self._over_quota():
                return Fault(429, retry_after=1, reason="quota")
            for rule in self.rules:
                if rule.program not in (None, program):
                    continue
                if rule.transaction is not None and rule.transaction not in transactions:
                    continue
                rule.count -= 1
                if rule.count == 0:
                    self.rules.remove(rule)
                return Fault(rule.status, rule.retry_after, rule.delay_seconds)
            if self.knobs.error_rate_5xx and self._random.random() < self.knobs.error_rate_5xx:
                return Fault(self._random.choice([500, 503]), reason="error_rate_5xx")
        return None

    def _over_quota(self) -> bool:
        assert self.knobs.rate_limit_per_second is not None
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.knobs.rate_limit_per_second:
            return True
        self._recent.append(now)
        return False
