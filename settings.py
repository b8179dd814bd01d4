"""Runtime settings, read from the environment (prefix ``M3BNG_``) or a ``.env`` file.

Pointing m3bng at a real M3 tenant, a real BNG and a Temporal cluster is done here and nowhere
else: set the `.ionapi` path, the BNG URL and credentials, and the Temporal address/TLS/API key.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="M3BNG_", env_file=".env", extra="ignore")

    # Temporal: the dev server by default; a cluster or Temporal Cloud by address + TLS/API key.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_api_key: SecretStr | None = None
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    task_queue: str = "m3bng"
    # AES-GCM key (base64, 32 bytes) that encrypts workflow payloads at rest; none = plain JSON.
    # The single-key form: with payload_keys set it only decodes (what it encrypted before).
    payload_key: SecretStr | None = None
    # Key ring for rotation: "id1:base64,id2:base64" or a JSON object {"id1": "base64", ...},
    # oldest first. Every key decodes the payloads that name its id; the encrypting key is
    # payload_encryption_key_id, or the last (newest) one. No default: unset = no ring.
    payload_keys: SecretStr | None = None
    payload_encryption_key_id: str | None = None
    # Codec server for the Temporal UI (/codec/decode, /codec/encode on the receiver), served
    # only when payloads are encrypted. codec_secret (no default; at least 32 characters) is
    # accepted as the path segment /codec/<secret>/... (the embedded UI cannot send headers) or
    # as "Authorization: Bearer <secret>" (CLI --codec-auth, a proxy). With codec_oauth_* set, a
    # production UI's --ui-codec-pass-access-token JWT is accepted too.
    codec_secret: SecretStr = SecretStr("")
    codec_cors_origins: list[str] = ["http://localhost:8233", "http://127.0.0.1:8233"]
    codec_oauth_issuer: str | None = None
    codec_oauth_audience: str | None = None
    codec_oauth_jwks_url: str | None = None
    codec_oauth_algorithms: list[str] = ["RS256"]

    # M3: everything about the tenant comes from the .ionapi file.
    m3_ionapi: Path = Path("var/m3.ionapi")
    m3_cono: int = 100
    m3_divi: str = "AAA"
    m3_timeout_seconds: float = 30.0
    m3_max_attempts: int = 4
    m3_order_type: str = "A01"
    m3_customer_template: str = "TEMPLATE"
    m3_auto_create_customers: bool = True
    m3_payment_batch_type: str = "BNG"
    # ARS040MI batch numbers (PBID) are given out from here on, one per BNG payment; keep the range
    # free of batches that other M3 users or interfaces create.
    m3_payment_batch_first: int = Field(default=7_000_000_000, ge=1, le=9_999_999_999)

    # Procure-to-pay. PPS370MI batch origin (BAOR, defined in PPS090) and PO order type (ORTY).
    m3_po_batch_origin: str = "BNG"
    m3_po_order_type: str = "100"
    # A BNG vendor without an M3 supplier is created in M3 (CRS620MI) when a PO needs it.
    m3_auto_create_suppliers: bool = True
    # MHS850MI goods receipts: the MMS865 partner (E0PA/E0PB) and message type (E065) of BNG's WMS.
    m3_wms_partner: str = "WS"
    m3_wms_message_type: str = "WMS"

    # How a BNG refund (payment.refunded) is booked in M3. M3 has no MI transaction for an AR
    # refund; gl_journal posts a GL entry through GLS840MI (debit refunds, credit card clearing,
    # accounts in mapping/maps/gl_settings.yaml).
    refund_route: Literal["gl_journal"] = "gl_journal"
    # The GL side of a BNG payment: m3_ar_batch leaves it to M3 (ARS040MI batch accounting);
    # gl_journal also posts a clearing journal (debit BANK, credit CARD-CLEARING) via GLS840MI.
    payment_gl: Literal["m3_ar_batch", "gl_journal"] = "m3_ar_batch"
    # How an order calls M3 and BNG. local: each call a local activity (one history event each,
    # the stage published to visibility once per wait); activities: each call a regular activity
    # (pending in the UI while it retries; about twice the history). Orders started before a
    # change keep the way they started with.
    order_calls: Literal["local", "activities"] = "local"
    # How long a worker takes an item MMS200MI called sellable (status 20) at its word, instead of
    # asking again for every order; 0 asks every time. Only the answer "sellable" is kept: M3
    # checks the item again on AddBatchLine, so an item blocked meanwhile still parks the order.
    item_check_cache_seconds: float = Field(default=60, ge=0)
    # The write protocol records every first attempt of an order's batch entry (write_attempt).
    # Each worker forgets those of confirmed orders once they are this old, checking this often.
    write_attempts_kept_hours: float = Field(default=24, gt=0)
    store_upkeep_every_seconds: float = Field(default=3600, gt=0)

    # Master data (customers, products, suppliers, inventory).
    # The delivery address (CRS610MI ADRT 1) that holds a BNG customer's shipping address.
    m3_shipping_address_id: str = "BNG"
    # Defaults M3's item and supplier templates would otherwise give (AddItmBasic, AddSupplier).
    m3_item_type: str = "FGD"
    m3_supplier_type: str = "1"
    m3_language: str = "GB"
    # Warehouses whose balances are synchronised with BNG inventory levels.
    m3_inventory_warehouses: list[str] = ["100", "200", "300"]
    # MMS850MI/AddAdjust: the stock-transaction reason code and location of WMS adjustments.
    m3_adjustment_reason: str = "WMS"
    # An idle entity workflow finishes after this long; the next change starts a fresh one.
    sync_idle_minutes: float = 30.0
    # Interval of the scheduled full reconciliation, per entity.
    reconcile_every_minutes: float = 60.0

    # BNG: REST API with OAuth 2.0 client credentials (or an API key) and signed webhooks.
    bng_base_url: str = "http://127.0.0.1:8702"
    bng_client_id: str = "m3bng"
    # No usable defaults: empty means "not set", and the worker and the receiver refuse to start
    # (see check_worker_settings / check_receiver_settings). The demo generates its own.
    bng_client_secret: SecretStr = SecretStr("")
    bng_api_key: SecretStr | None = None
    bng_webhook_secret: SecretStr = SecretStr("")
    bng_webhook_tolerance_seconds: int = 300
    bng_instance: str = "WEB"

    # The receiver: BNG webhooks in, ION/IMS BODs in.
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 8700
    # Largest request body accepted on /webhooks/bng and /ims (413 beyond it). A BOD is kilobytes.
    receiver_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Intake of order.created (starter/intake.py): an order is started in Temporal before the ack
    # while fewer than intake_direct_starts are in flight and the inbox is empty; beyond that it
    # is acked once committed in the store's inbox, and forwarded by intake_forwarders concurrent
    # starts (0: this receiver only acks; receivers with forwarders start the rows). Direct
    # starts 0 = always through the inbox. A row a forwarder holds is taken over by another
    # receiver (or the restarted one) after intake_lease_seconds.
    intake_direct_starts: int = Field(default=1, ge=0)
    intake_forwarders: int = Field(default=8, ge=0)
    intake_lease_seconds: float = Field(default=15.0, gt=0)
    intake_poll_seconds: float = Field(default=1.0, gt=0)
    # While webhooks keep arriving the forwarders pause, so the acks keep the CPU; a row waits
    # at most this long before it is forwarded all the same.
    intake_hold_seconds: float = Field(default=5.0, ge=0)
    # How ION's "IMS through API Gateway" connection point authenticates to /ims:
    # shared_secret: it sends "Authorization: Bearer <ims_shared_secret>";
    # oauth: it sends a JWT bearer token, checked against the issuer, audience and JWKS below.
    ims_auth_mode: Literal["shared_secret", "oauth"] = "shared_secret"
    ims_shared_secret: SecretStr = SecretStr("")
    ims_oauth_issuer: str | None = None
    ims_oauth_audience: str | None = None
    ims_oauth_jwks_url: str | None = None
    ims_oauth_jwks_file: Path | None = None
    ims_oauth_algorithms: list[str] = ["RS256"]
    ims_oauth_leeway_seconds: int = Field(default=30, ge=0)

    # Which environment this is (e.g. "test", "production"): the map overlays under
    # mapping/overlays/<environment>/ apply, where a map declares a field overridable. Unset: the
    # maps exactly as declared. See `m3bng maps`.
    environment: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$")

    # Cross-reference store.
    database_url: str = Field(
        default="sqlite:///var/m3bng.db", validation_alias=AliasChoices("DATABASE_URL", "M3BNG_DATABASE_URL")
    )

    # Prometheus metrics: the receiver serves GET /metrics on its own port, the worker on this
    # one (0 = no endpoint). Both want "Authorization: Bearer <metrics_token>"; no token set
    # means every scrape is refused (the demo generates one).
    metrics_token: SecretStr = SecretStr("")
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=8703, ge=0, le=65535)
    # Loopback port of the Temporal SDK's own exporter, which the worker's endpoint appends
    # (0 = any free port).
    worker_sdk_metrics_port: int = Field(default=0, ge=0, le=65535)
    # How often the worker reads Temporal's visibility for the parked/stalled gauges, and how
    # many running items per kind it looks at.
    metrics_fleet_every_seconds: float = Field(default=30.0, gt=0)
    metrics_fleet_scan_limit: int = Field(default=200, ge=1)

    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()


# --- start-up checks: refuse to run with a missing or malformed secret ------------------------

ENV_PREFIX = "M3BNG_"
WEBHOOK_SECRET_PREFIX = "whsec_"
MIN_SHARED_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """A setting the process needs is missing or malformed; the message names the env variable."""


def _env(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


def webhook_secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot verify Standard Webhooks signatures; None when it can."""
    if not secret:
        return "is not set"
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    # The Standard Webhooks spec asks for 24 to 64 random bytes.
    if not secret.startswith(WEBHOOK_SECRET_PREFIX) or not 24 <= len(key) <= 64:
        return "is malformed: must be whsec_ + base64 of 24 to 64 random bytes"
    return None


def receiver_problems(settings: Settings) -> list[str]:
    problems = []
    if problem := webhook_secret_problem(settings.bng_webhook_secret.get_secret_value()):
        problems.append(f"{_env('bng_webhook_secret')} {problem}")
    if settings.ims_auth_mode == "shared_secret":
        secret = settings.ims_shared_secret.get_secret_value()
        if not secret:
            problems.append(f"{_env('ims_shared_secret')} is not set (IMS auth mode shared_secret)")
        elif len(secret) < MIN_SHARED_SECRET_LENGTH or not secret.isascii() or not secret.isprintable():
            problems.append(
                f"{_env('ims_shared_secret')} is malformed: "
                f"must be at least {MIN_SHARED_SECRET_LENGTH} printable ASCII characters"
            )
    else:
        for name in ("ims_oauth_issuer", "ims_oauth_audience"):
            if not getattr(settings, name):
                problems.append(f"{_env(name)} is not set (IMS auth mode oauth)")
        if not settings.ims_oauth_jwks_url and not settings.ims_oauth_jwks_file:
            jwks = f"{_env('ims_oauth_jwks_url')} or {_env('ims_oauth_jwks_file')}"
            problems.append(f"{jwks} is not set (IMS auth mode oauth)")
    return problems + metrics_token_problems(settings)


def metrics_token_problems(settings: Settings) -> list[str]:
    token = settings.metrics_token.get_secret_value()
    if token and (len(token) < MIN_SHARED_SECRET_LENGTH or not token.isascii() or not token.isprintable()):
        return [
            f"{_env('metrics_token')} is malformed: "
            f"must be at least {MIN_SHARED_SECRET_LENGTH} printable ASCII characters"
        ]
    return []


def worker_problems(settings: Settings) -> list[str]:
    problems = metrics_token_problems(settings)
    if not (settings.bng_client_secret.get_secret_value() or settings.bng_api_key):
        problems.append(f"{_env('bng_client_secret')} is not set (nor {_env('bng_api_key')})")
    return problems


def check_receiver_settings(settings: Settings) -> None:
    if problems := receiver_problems(settings):
        raise SettingsError("; ".join(problems))


def check_worker_settings(settings: Settings) -> None:
    if problems := worker_problems(settings):
        raise SettingsError("; ".join(problems))


def exit_unless_valid(settings: Settings, process: Literal["worker", "receiver"]) -> None:
    """For a process's entry point: exit with a one-line message instead of a traceback."""
    problems = worker_problems(settings) if process == "worker" else receiver_problems(settings)
    if problems:
        raise SystemExit(f"m3bng {process} cannot start: " + "; ".join(problems))
