"""A token bucket per client: ``rate`` requests per second, bursts up to one second's worth."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from sandbox.bng.errors import ApiError
from sandbox.bng.knobs import Knobs


@dataclass
class TokenBucket:
    rate: float
    capacity: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 if a request may go now, otherwise the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._buckets: dict[str, TokenBucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def check(self, client: str) -> None:
        """Raise a 429 with ``Retry-After`` when ``client`` is over its rate."""
        rate = self._knobs.rate_limit_per_second
        if rate is None:
            return
        bucket = self._buckets.get(client)
        if bucket is None or bucket.rate != rate:
            capacity = max(1.0, rate)
            bucket = self._buckets[client] = TokenBucket(rate=rate, capacity=capacity, tokens=capacity)
        wait = bucket.take()
        if wait > 0:
            # Retry-After is whole seconds (RFC 9110); round up so obeying it always succeeds.
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit of {rate:g} requests/second exceeded",
                headers={"Retry-After": str(retry_after)},
            )
