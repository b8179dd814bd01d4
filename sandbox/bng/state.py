"""Everything one sandbox instance holds, reachable from a request as ``app.state.sandbox``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from sandbox.bng import outbox
from sandbox.bng.config import BngSandboxConfig
from sandbox.bng.db import make_engine, make_sessions
from sandbox.bng.delivery import WebhookDispatcher
from sandbox.bng.faults import FaultInjector
from sandbox.bng.knobs import Knobs
from sandbox.bng.ratelimit import RateLimiter
from sandbox.bng.store import BngStore
from sandbox.bng.tokens import TokenIssuer


@dataclass
class SandboxState:
    config: BngSandboxConfig
    knobs: Knobs
    sessions: sessionmaker[Session]
    store: BngStore
    dispatcher: WebhookDispatcher
    tokens: TokenIssuer
    limiter: RateLimiter
    faults: FaultInjector = field(default_factory=FaultInjector)

    @classmethod
    def create(cls, config: BngSandboxConfig) -> SandboxState:
        knobs = Knobs.from_config(config)
        sessions = make_sessions(make_engine(config.database_url))
        dispatcher = WebhookDispatcher(sessions, config, knobs)
        state = cls(
            config=config,
            knobs=knobs,
            sessions=sessions,
            store=BngStore(sessions, on_event=dispatcher.notify),
            dispatcher=dispatcher,
            tokens=TokenIssuer(config),
            limiter=RateLimiter(knobs),
            faults=FaultInjector(config.random_seed),
        )
        state.register_config_endpoint()
        return state

    def register_config_endpoint(self) -> None:
        if self.config.webhook_url and self.config.webhook_secret:
            with self.sessions.begin() as session:
                outbox.register_endpoint(
                    session,
                    self.config.webhook_url,
                    self.config.webhook_events,
                    secret=self.config.webhook_secret,
                    endpoint_id=outbox.CONFIG_ENDPOINT_ID,
                )

    def reset(self) -> None:
        """Back to a fresh start: no data, configured knobs, no faults; issued tokens stay valid."""
        self.store.reset()
        self.register_config_endpoint()
        fresh = Knobs.from_config(self.config)
        for name in Knobs.model_fields:
            setattr(self.knobs, name, getattr(fresh, name))
        self.faults.clear()
        self.limiter.reset()


def get_sandbox(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


Sandbox = Annotated[SandboxState, Depends(get_sandbox)]
