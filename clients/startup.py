"""Waiting at start-up for a service a process needs (Temporal, the database) instead of exiting.

A worker or receiver started before its dependencies (a reboot, ``docker compose up``, the
embedded stack) keeps trying, logging each failure, until the service answers or, only when the
caller asked for a bound, until ``wait_seconds`` have passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("startup")

# Short enough that a process notices a service soon after it comes up.
MAX_DELAY_SECONDS = 5.0


@dataclass
class Patience:
    """How long to wait before the next attempt at reaching ``what`` ("Temporal at host:port")."""

    what: str
    wait_seconds: float | None = None
    first_delay: float = 0.25
    max_delay: float = MAX_DELAY_SECONDS
    attempts: int = 0
    _started: float = field(default_factory=time.monotonic)

    def next_delay(self, error: BaseException) -> float | None:
        """Log the failed attempt; the seconds to sleep before the next, or None to give up."""
        self.attempts += 1
        delay = min(self.max_delay, self.first_delay * 2 ** (self.attempts - 1))
        if self.wait_seconds is not None:
            left = self.wait_seconds - (time.monotonic() - self._started)
            if left <= 0:
                log.error(f"gave up waiting for {self.what} after {self.wait_seconds:g}s: {error}")
                return None
            delay = min(delay, left)
        log.warning(f"waiting for {self.what}: {error}", attempt=self.attempts, retry_in=round(delay, 2))
        return delay
