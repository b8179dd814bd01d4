"""Heartbeat while an activity waits on M3 or BNG, so that a dead worker is noticed in seconds.

Without heartbeats Temporal only learns that a worker died when the start-to-close timeout runs
out; with them, the activity is retried on another worker after the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from temporalio import activity

P = ParamSpec("P")
R = TypeVar("R")


def auto_heartbeat(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        timeout = activity.info().heartbeat_timeout or timedelta(0)
        beat = asyncio.create_task(_beat(timeout / 3)) if timeout else None
        try:
            return await fn(*args, **kwargs)
        finally:
            if beat:
                beat.cancel()

    return wrapper


async def _beat(every: timedelta) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(every.total_seconds())
