"""Runtime settings, read from the environment (prefix ``M3BNG_``) or a ``.env`` file.

Pointing m3bng at a real M3 tenant, a real BNG and a Temporal cluster is done here and nowhere
else: set the `.ionapi` path, the BNG URL and credentials, and the Temporal address/TLS/API key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    payload_key: SecretStr | None = None

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
    bng_client_secret: SecretStr = SecretStr("m3bng-secret")
    bng_api_key: SecretStr | None = None
    bng_webhook_secret: SecretStr = SecretStr("whsec_bTNibmctZGVtby13ZWJob29rLXNlY3JldC0zMmI=")
    bng_webhook_tolerance_seconds: int = 300
    bng_instance: str = "WEB"

    # The receiver: BNG webhooks in, ION/IMS BODs in.
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 8700

    # Cross-reference store.
    database_url: str = Field(
        default="sqlite:///var/m3bng.db", validation_alias=AliasChoices("DATABASE_URL", "M3BNG_DATABASE_URL")
    )

    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()
