"""The runtime misbehaviour knobs, shared by the API, the rate limiter and webhook delivery."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandbox.bng.config import BngSandboxConfig


class Knobs(BaseModel):
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    latency_ms: int = Field(default=0, ge=0)
    duplicate_delivery_rate: float = Field(default=0.0, ge=0, le=1)

    @classmethod
    def from_config(cls, config: BngSandboxConfig) -> Knobs:
        return cls(
            rate_limit_per_second=config.rate_limit_per_second,
            latency_ms=config.latency_ms,
            duplicate_delivery_rate=config.duplicate_delivery_rate,
        )
