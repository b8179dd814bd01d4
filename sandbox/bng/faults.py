"""Injected failures: "the next N calls to POST /api/v1/orders answer 503", on demand."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox.bng.errors import ApiError


class Fault(BaseModel):
    method: str | None = Field(default=None, description="HTTP method to match; none matches all")
    path_prefix: str = "/api/"
    status: int = Field(default=503, ge=400, le=599)
    count: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault.model_copy())

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return [fault.model_copy() for fault in self._faults]

    def take(self, method: str, path: str) -> ApiError | None:
        """The error for this call if a fault matches it (using up one of its count)."""
        for fault in self._faults:
            if (fault.method is None or fault.method.upper() == method) and path.startswith(
                fault.path_prefix
            ):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
                code = "rate_limited" if fault.status == 429 else "injected_fault"
                return ApiError(fault.status, code, f"injected fault: {fault.status}", headers=headers)
        return None
