"""The receiver: one small HTTP service for BNG webhooks and ION BODs.

``python -m starter.receiver`` (settings from the environment, see settings.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from clients.logging import configure_logging
from clients.temporal_connection import connect
from settings import Settings, get_settings
from starter import bod_inbound, webhooks
from storage.db import make_engine, make_session_factory, upgrade_schema


def create_receiver_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        app.state.settings = settings
        app.state.sessions = make_session_factory(engine)
        app.state.temporal = await connect(settings)
        yield
        engine.dispose()

    app = FastAPI(title="m3bng receiver", version="0.1.0", lifespan=lifespan)
    app.include_router(webhooks.router)
    app.include_router(bod_inbound.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_receiver_app(settings),
        host=settings.receiver_host,
        port=settings.receiver_port,
        log_level="warning",
    )
