"""Injected failures: "the next N calls to POST /api/v1/orders answer 503", on demand, and the
random ones the knobs ask for.

A failure either comes before BNG handles the call (nothing happens) or after it (`after_commit`:
the change is made and committed, webhooks and the Idempotency-Key record included, then a
gateway loses the answer and the client gets the status instead).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import BaseModel, Field

from sandbox.bng.errors import ApiError
from sandbox.bng.knobs import Knobs

API_PATHS = "/api/"


class Fault(BaseModel):
    method: str | None = Field(default=None, description="HTTP method to match; none matches all")
    path_prefix: str = "/api/"
    status: int = Field(default=503, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)
    after_commit: bool = Field(
        default=False, description="Process and commit the request, then answer status instead"
    )


@dataclass(frozen=True)
class Injection:
    error: ApiError
    after_commit: bool = False


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        self._faults.append(fault.model_copy())

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return [fault.model_copy() for fault in self._faults]

    def take(self, method: str, path: str, knobs: Knobs | None = None) -> Injection | None:
        """The failure for this call: a matching fault (using up one of its count), else the knobs'."""
        for fault in self._faults:
            if (fault.method is None or fault.method.upper() == method) and path.startswith(
                fault.path_prefix
            ):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
                code = "rate_limited" if fault.status == 429 else "injected_fault"
                message = _message(fault.status, fault.after_commit)
                return Injection(ApiError(fault.status, code, message, headers=headers), fault.after_commit)
        if knobs is None or not path.startswith(API_PATHS):
            return None
        if knobs.error_rate_5xx and self._random.random() < knobs.error_rate_5xx:
            status = self._random.choice(knobs.error_5xx_statuses)
            return Injection(ApiError(status, "injected_fault", _message(status, False)))
        if (
            knobs.lost_answer_rate
            and knobs.loses_answer_of(method, path)
            and self._random.random() < knobs.lost_answer_rate
        ):
            status = knobs.lost_answer_status
            return Injection(ApiError(status, "injected_fault", _message(status, True)), after_commit=True)
        return None


def _message(status: int, after_commit: bool) -> str:
    return f"injected fault after commit: {status}" if after_commit else f"injected fault: {status}"
