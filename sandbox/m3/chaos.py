"""Knobs and scripted faults: latency, random 5xx, a 429 quota, partial list failures, lost answers.

They act where the ION API gateway would, in front of the MI call, so a client sees exactly what a
real tenant sends when it is slow, overloaded or throttled. A "lost answer" acts behind the call:
M3 runs and commits it, then the gateway answers 502/503/504 instead (it timed out waiting).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from sandbox.m3.catalogue import lookup

FaultStatus = Literal[429, 500, 502, 503, 504]
ServerErrorStatus = Literal[500, 502, 503, 504]
GatewayErrorStatus = Literal[502, 503, 504]


def _check_transaction_filter(entries: list[str] | None) -> list[str] | None:
    """Entries are "PROGRAM" or "PROGRAM/TRANSACTION"."""
    if entries is None:
        return None
    checked = []
    for entry in entries:
        program, slash, transaction = entry.strip().partition("/")
        if not program or (slash and not transaction) or "/" in transaction:
            raise ValueError(f"{entry!r} is not PROGRAM or PROGRAM/TRANSACTION")
        checked.append(f"{program.upper()}/{transaction}" if transaction else program.upper())
    return checked


TransactionFilter = Annotated[list[str] | None, AfterValidator(_check_transaction_filter)]


class Knobs(BaseModel):
    latency_ms: int = Field(default=0, ge=0)
    # Share of MI calls the gateway fails before M3 sees them, with one of these statuses.
    error_rate_5xx: float = Field(default=0.0, ge=0.0, le=1.0)
    error_5xx_statuses: list[ServerErrorStatus] = Field(default=[500, 503], min_length=1)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    # List transactions (v1) fail after this many rows with a nested ErrorMessage.
    partial_list_error_after: int | None = Field(default=None, ge=0)
    # False: changes to customers, suppliers, items and balances publish no BOD ("drift").
    master_data_bods: bool = True
    # Share of write calls that M3 commits but whose answer the gateway replaces with this status.
    lost_answer_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    lost_answer_status: GatewayErrorStatus = 504
    # "PROGRAM" or "PROGRAM/TRANSACTION"; None: every write. Reads never lose answers by rate.
    lost_answer_transactions: TransactionFilter = None
    # Share of delivered BODs that the outbox posts a second time (ION delivers at least once).
    bod_redelivery_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    def loses_answer_of(self, program: str, transaction: str) -> bool:
        """Whether the lost-answer rate applies to this transaction: a write the filter selects."""
        definition = lookup(program, transaction)
        if definition is None or not definition.writes:
            return False
        chosen = self.lost_answer_transactions
        return chosen is None or program in chosen or f"{program}/{transaction}" in chosen


class KnobsUpdate(BaseModel):
    """Partial update: only the fields sent change; null puts a knob back to its default (off).

    (`master_data_bods` back on, `lost_answer_transactions` back to every write.)
    """

    latency_ms: int | None = Field(default=None, ge=0)
    error_rate_5xx: float | None = Field(default=None, ge=0.0, le=1.0)
    error_5xx_statuses: list[ServerErrorStatus] | None = Field(default=None, min_length=1)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    partial_list_error_after: int | None = Field(default=None, ge=0)
    master_data_bods: bool | None = None
    lost_answer_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    lost_answer_status: GatewayErrorStatus | None = None
    lost_answer_transactions: TransactionFilter = None
    bod_redelivery_rate: float | None = Field(default=None, ge=0.0, le=1.0)


class FaultRule(BaseModel):
    program: str | None = None  # None matches any program
    transaction: str | None = None  # None matches any transaction
    status: FaultStatus = 503
    count: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    delay_seconds: float = Field(default=0.0, ge=0.0)
    # True: the call runs and commits, then the gateway answers `status` instead of M3's answer.
    after_commit: bool = False


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    delay_seconds: float = 0.0
    reason: str = "fault"
    after_commit: bool = False


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
        changes = {
            name: Knobs.model_fields[name].get_default(call_default_factory=True) if value is None else value
            for name, value in update.model_dump(exclude_unset=True).items()
        }
        with self._lock:
            self.knobs = Knobs.model_validate(self.knobs.model_dump() | changes)
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
                return Fault(
                    rule.status, rule.retry_after, rule.delay_seconds, after_commit=rule.after_commit
                )
            knobs = self.knobs
            if knobs.error_rate_5xx and self._random.random() < knobs.error_rate_5xx:
                return Fault(self._random.choice(knobs.error_5xx_statuses), reason="error_rate_5xx")
            # A bulk call's answer is one response: it is lost if any of its writes is chosen.
            if (
                knobs.lost_answer_rate
                and any(knobs.loses_answer_of(program, t) for t in transactions)
                and self._random.random() < knobs.lost_answer_rate
            ):
                return Fault(knobs.lost_answer_status, reason="lost_answer", after_commit=True)
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
