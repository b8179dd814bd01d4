"""Configuration of the BNG sandbox: credentials, where webhooks go, and how badly it behaves."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class BngSandboxConfig(BaseModel):
    # "sqlite://" is a private in-memory database; a file URL keeps state across demo restarts.
    database_url: str = "sqlite://"
    client_id: str = "m3bng"
    client_secret: str = "m3bng-secret"
    api_keys: list[str] = Field(default_factory=list)
    token_lifetime_seconds: int = Field(default=3600, gt=0)

    # One webhook endpoint from configuration; more can be registered through the API.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Event types that endpoint subscribes to; empty: every type.
    webhook_events: list[str] = Field(default_factory=list)
    webhook_max_attempts: int = Field(default=8, ge=1)
    # First retry delay; doubles on every failed attempt, up to webhook_backoff_max_seconds.
    webhook_backoff_seconds: float = Field(default=1.0, ge=0)
    webhook_backoff_max_seconds: float = Field(default=300.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    # Misbehaviour knobs, also settable at runtime through POST /_sandbox/knobs.
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    latency_ms: int = Field(default=0, ge=0)
    duplicate_delivery_rate: float = Field(default=0.0, ge=0, le=1)
    random_seed: int = 0

    # Orders must name known customers and SKUs, as BNG's own checkout guarantees.
    strict_references: bool = True
    seed_demo: bool = False

    @model_validator(mode="after")
    def _webhook_secret_with_url(self) -> BngSandboxConfig:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("webhook_url needs a webhook_secret (whsec_...)")
        return self
