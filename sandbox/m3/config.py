"""Configuration of one sandbox M3 tenant: its identity, its credentials and its behaviour."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field


class M3SandboxConfig(BaseModel):
    tenant: str = "M3BNG_TST"
    # "sqlite://" is a private in-memory database; a file URL keeps state across demo restarts.
    database_url: str = "sqlite://"
    cono: int = 100
    divi: str = "AAA"
    client_id: str = "M3BNG_TST~sandbox"
    client_secret: str = "sandbox-client-secret"
    saak: str = "M3BNG_TST#sandbox-access"
    sask: str = "sandbox-secret-key"
    token_lifetime_seconds: int = Field(default=3600, gt=0)
    # Where IMS multipart BOD messages go; None keeps them in the outbox until one is configured.
    bod_endpoint: str | None = None
    # The exact Authorization header sent with every BOD post (e.g. "Bearer abc"); None sends none.
    bod_authorization: str | None = None
    # None: orders only advance on command (admin API); otherwise one step per interval.
    lifecycle_interval_seconds: float | None = Field(default=None, gt=0)
    tax_rate: Decimal = Decimal("0.19")
    # Base URL written to the .ionapi `iu`; the app itself does not need to know it.
    public_base_url: str = "http://127.0.0.1:8701"
    # Outbox sender retry policy (seconds).
    outbox_initial_backoff_seconds: float = 0.2
    outbox_max_backoff_seconds: float = 30.0
