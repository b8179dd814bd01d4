"""The one retry policy of the M3 and BNG clients, and the ``Retry-After`` header.

Where retries happen (the decision):

- **In the client, briefly.** A transient failure (a 5xx, a timeout, no connection, a 429) is tried
  again up to ``max_attempts`` times, waiting "full jitter" backoff (uniform in
  ``[0, min(cap, base * 2**(attempt-1))]``) or the server's ``Retry-After`` when it gave one. Such a
  blip lasts seconds; retrying it here keeps it out of the workflow history, serves callers that are
  not activities (the CLI, the doctor, the demo), and avoids re-running an activity's
  look-before-write steps for a half-second gateway hiccup.
- **In Temporal, for anything longer.** After ``max_attempts``, or when ``Retry-After`` is longer
  than ``cap``, the client raises. The activity (``activities.errors.classified_errors``) hands
  ``Retry-After`` to Temporal as ``next_retry_delay``, and the activity's retry policy
  (``workflows.activity_options``) takes over, for hours, without holding a worker slot.

A retry library (tenacity, stamina) would add a dependency for the ten lines below, while the
part that matters, which failures may be resent at all, is protocol knowledge that stays in each
client: a write that may have arrived is never resent (``clients.transport.NOT_SENT``, the
``*AmbiguousWriteError`` classes); the caller looks for its effect first (``activities.exactly_once``).
This module only says how long to wait.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` tries in all; no single wait longer than ``cap`` seconds."""

    max_attempts: int = 4
    base: float = 0.5
    cap: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(
        self, attempt: int, retry_after: float | None = None, *, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based), or None to raise now."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            # Longer than we are willing to block: let the caller (a Temporal activity) reschedule.
            return retry_after if retry_after <= self.cap else None
        return full_jitter(attempt, base=self.base, cap=self.cap, rand=rand)


def full_jitter(attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """AWS "full jitter": uniform in [0, min(cap, base * 2**(attempt-1))], so retries spread out."""
    return rand() * min(cap, base * 2 ** (attempt - 1))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP date (RFC 9110 10.2.3); None if absent or garbled."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    # "inf" and "nan" parse as floats but are no delay anyone can wait (or hand to Temporal).
    return max(0.0, seconds) if math.isfinite(seconds) else None
