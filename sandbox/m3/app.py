"""`create_app(config)`: the M3 sandbox as one FastAPI app (ION API + m3api-rest + admin)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from sandbox.m3.admin import admin_router
from sandbox.m3.api import Gateway, mi_router
from sandbox.m3.auth import oauth_router
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.lifecycle import run_lifecycle
from sandbox.m3.purchasing import run_purchasing_clock
from sandbox.m3.sandbox import Sandbox


def create_app(config: M3SandboxConfig | None = None, *, seed_demo: bool = False) -> FastAPI:
    sandbox = Sandbox(config or M3SandboxConfig())
    if seed_demo:
        sandbox.seed_demo()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(sandbox.sender.run(), name="m3-sandbox-outbox"),
            asyncio.create_task(
                run_lifecycle(sandbox.store, sandbox.config, sandbox.bods), name="m3-sandbox-lifecycle"
            ),
            asyncio.create_task(
                run_purchasing_clock(sandbox.store, sandbox.config, sandbox.bods), name="m3-sandbox-po-clock"
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(title=f"M3 sandbox ({sandbox.config.tenant})", lifespan=lifespan)
    app.state.sandbox = sandbox
    gateway = Gateway(sandbox.config, sandbox.issuer, sandbox.chaos, sandbox.calls)
    app.include_router(oauth_router(sandbox.config, sandbox.issuer))
    app.include_router(mi_router(gateway, sandbox.executor))
    app.include_router(admin_router(sandbox))
    return app
