"""Configuration of one sandbox M3 tenant: its identity, its credentials and its behaviour."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class Tolerance(BaseModel):
    """One APS900-style match rule: a variance is within tolerance only when it is within both."""

    percent: Decimal
    # Price and invoice amount: an amount in invoice currency; quantity: units.
    amount: Decimal


class MatchTolerances(BaseModel):
    """The sandbox's own APS900 settings (same default numbers as m3bng's match_tolerances.yaml)."""

    price: Tolerance = Tolerance(percent=Decimal("2.0"), amount=Decimal("5.00"))
    quantity: Tolerance = Tolerance(percent=Decimal("0"), amount=Decimal("0"))
    invoice_amount: Tolerance = Tolerance(percent=Decimal("1.0"), amount=Decimal("10.00"))


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
    # Purchase order lines move 20 (sent) -> 35 (confirmed) this long after they were placed;
    # None: only on command (admin API).
    po_confirm_seconds: float | None = Field(default=30.0, ge=0)
    match_tolerances: MatchTolerances = Field(default_factory=MatchTolerances)
    # GLS840MI CtrlBatch refuses accounting dates before this day (the closed periods).
    gl_open_from: date = date(2026, 1, 1)
