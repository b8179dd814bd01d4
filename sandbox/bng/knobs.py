"""The runtime misbehaviour knobs, shared by the API, the rate limiter and webhook delivery."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sandbox.bng.config import BngSandboxConfig

ServerErrorStatus = Literal[500, 502, 503, 504]
GatewayErrorStatus = Literal[502, 503, 504]
WriteMethod = Literal["POST", "PUT", "PATCH", "DELETE"]


class Knobs(BaseModel):
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    latency_ms: int = Field(default=0, ge=0)
    duplicate_delivery_rate: float = Field(default=0.0, ge=0, le=1)
    # Share of API calls failed before BNG handles them, with one of these statuses.
    error_rate_5xx: float = Field(default=0.0, ge=0, le=1)
    error_5xx_statuses: list[ServerErrorStatus] = Field(default=[500, 503], min_length=1)
    # Share of writes BNG handles and commits, but whose answer a gateway replaces with this status.
    lost_answer_rate: float = Field(default=0.0, ge=0, le=1)
    lost_answer_status: GatewayErrorStatus = 504
    lost_answer_methods: list[WriteMethod] | None = Field(default=None, description="None: every write")
    lost_answer_path_prefix: str = "/api/"
    # Each webhook delivery waits a random 0..N ms, and an ordering key no longer holds messages back,
    # so events arrive out of order.
    delivery_jitter_ms: int = Field(default=0, ge=0)

    @classmethod
    def from_config(cls, config: BngSandboxConfig) -> Knobs:
        return cls(
            rate_limit_per_second=config.rate_limit_per_second,
            latency_ms=config.latency_ms,
            duplicate_delivery_rate=config.duplicate_delivery_rate,
        )

    def loses_answer_of(self, method: str, path: str) -> bool:
        """Whether the lost-answer rate applies to this call: a write the filters select."""
        methods = self.lost_answer_methods or ("POST", "PUT", "PATCH", "DELETE")
        return method in methods and path.startswith(self.lost_answer_path_prefix)
