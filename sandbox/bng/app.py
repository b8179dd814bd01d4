"""The BNG sandbox: a stateful, validating emulator of BNG's REST API and webhooks.

with ServerThread(create_app(BngSandboxConfig(webhook_url=..., webhook_secret=...))) as srv:
    httpx.post(srv.url + "/oauth/token", ...)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from sandbox.bng import admin
from sandbox.bng.api import (
    customers,
    inventory,
    journals,
    orders,
    products,
    purchase_orders,
    refunds,
    supplier_invoices,
    vendors,
    webhooks,
)
from sandbox.bng.auth import token_router
from sandbox.bng.config import BngSandboxConfig
from sandbox.bng.demo_data import seed_demo
from sandbox.bng.errors import install_error_handlers
from sandbox.bng.state import SandboxState

API_PREFIX = "/api/v1"
# Misbehaviour (latency, faults) is for BNG's API, never for the admin controls or the docs.
_MISBEHAVING_PREFIXES = (API_PREFIX, "/oauth/")


def create_app(config: BngSandboxConfig | None = None) -> FastAPI:
    config = config or BngSandboxConfig()
    state = SandboxState.create(config)
    if config.seed_demo:
        seed_demo(state.store)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.dispatcher.start()
        try:
            yield
        finally:
            await state.dispatcher.stop()

    app = FastAPI(
        title="BNG sandbox",
        version="1.0.0",
        description="An emulator of BNG's REST API and Standard Webhooks, for m3bng's tests and demo.",
        lifespan=lifespan,
        # One schema per model (Order, not Order-Input/Order-Output): the wire format is the same.
        separate_input_output_schemas=False,
    )
    app.state.sandbox = state
    install_error_handlers(app)

    @app.middleware("http")
    async def misbehave(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith(_MISBEHAVING_PREFIXES):
            return await call_next(request)
        if state.knobs.latency_ms:
            await asyncio.sleep(state.knobs.latency_ms / 1000)
        injected = state.faults.take(request.method, request.url.path, state.knobs)
        if injected is None:
            return await call_next(request)
        if not injected.after_commit:
            return injected.error.response()
        # The handler commits (and stores any Idempotency-Key answer) before it answers; the answer
        # is dropped unread (Starlette discards the rest of its body).
        await call_next(request)
        return injected.error.response()

    app.include_router(token_router)
    resources = (
        customers,
        products,
        vendors,
        orders,
        inventory,
        purchase_orders,
        supplier_invoices,
        journals,
        refunds,
        webhooks,
    )
    for resource in resources:
        app.include_router(resource.router, prefix=API_PREFIX)
    app.include_router(admin.router)
    return app
