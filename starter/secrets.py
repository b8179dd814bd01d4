"""Secrets for the demo and the embedded stack: generated once into ``var/secrets.env``.

Outside the demo nothing has a usable default (see settings.py); the demo must still work on a
fresh clone, so it makes its own random secrets, keeps them in a file only its user can read,
and hands the same values to the sandboxes, the receiver and the worker through the environment
(not the command line, where ``ps`` would show them).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from settings import Settings

SECRETS_FILE = Path("var/secrets.env")

# env name -> how to make a fresh value
GENERATORS: dict[str, Callable[[], str]] = {
    "M3BNG_BNG_WEBHOOK_SECRET": lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "M3BNG_BNG_CLIENT_SECRET": lambda: secrets.token_urlsafe(32),
    "M3BNG_IMS_SHARED_SECRET": lambda: secrets.token_urlsafe(32),
    # Payloads encrypted at rest, readable in the embedded UI through the receiver's codec server.
    "M3BNG_PAYLOAD_KEYS": lambda: "demo-1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "M3BNG_CODEC_SECRET": lambda: secrets.token_urlsafe(32),
    # Bearer token of the receiver's and the worker's /metrics.
    "M3BNG_METRICS_TOKEN": lambda: secrets.token_urlsafe(32),
}


def load_demo_secrets(path: Path = SECRETS_FILE) -> dict[str, str]:
    """The demo's secrets; the file is created (mode 0600) the first time, completed if a newer
    version of m3bng needs one more."""
    values = _read(path) if path.exists() else {}
    missing = {name: make() for name, make in GENERATORS.items() if not values.get(name)}
    if missing:
        values.update(missing)
        _write(path, values)
    return {name: values[name] for name in GENERATORS}


def with_demo_secrets(settings: Settings, path: Path = SECRETS_FILE) -> Settings:
    """``settings`` with the demo's secrets (a value set in the environment wins), exported to
    ``os.environ`` so that every child process of the embedded stack gets the same ones."""
    values = {name: os.environ.get(name) or value for name, value in load_demo_secrets(path).items()}
    if settings.payload_key is not None or settings.payload_keys is not None:
        values.pop("M3BNG_PAYLOAD_KEYS")  # the operator's own payload key(s) encrypt, not the demo's
    ims_secret = values["M3BNG_IMS_SHARED_SECRET"]
    os.environ.update(
        {
            **values,
            "M3BNG_IMS_AUTH_MODE": "shared_secret",
            # What the M3 sandbox, standing in for ION, sends with every BOD it posts to /ims.
            "M3BNG_M3_BOD_AUTHORIZATION": f"Bearer {ims_secret}",
        }
    )
    return settings.model_copy(
        update={
            "bng_webhook_secret": SecretStr(values["M3BNG_BNG_WEBHOOK_SECRET"]),
            "bng_client_secret": SecretStr(values["M3BNG_BNG_CLIENT_SECRET"]),
            "ims_shared_secret": SecretStr(ims_secret),
            "ims_auth_mode": "shared_secret",
            "payload_keys": SecretStr(values["M3BNG_PAYLOAD_KEYS"])
            if "M3BNG_PAYLOAD_KEYS" in values
            else settings.payload_keys,
            "codec_secret": SecretStr(values["M3BNG_CODEC_SECRET"]),
            "metrics_token": SecretStr(values["M3BNG_METRICS_TOKEN"]),
        }
    )


def with_demo_payload_keys(settings: Settings, path: Path = SECRETS_FILE) -> Settings:
    """For operator commands run beside the embedded stack: the demo's payload keys when no key
    is configured, so ``m3bng orders show`` reads what the demo's worker encrypted. Only for a
    local Temporal: a configured deployment gets its keys from its own settings."""
    local = settings.temporal_address.split(":")[0] in ("localhost", "127.0.0.1")
    if (
        settings.payload_key is not None
        or settings.payload_keys is not None
        or not local
        or not path.exists()
    ):
        return settings
    ring = _read(path).get("M3BNG_PAYLOAD_KEYS")
    return settings.model_copy(update={"payload_keys": SecretStr(ring)}) if ring else settings


def _read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _write(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# m3bng demo secrets, generated once; delete the file to get new ones.\n"
    text += "".join(f"{name}={value}\n" for name, value in values.items())
    # Created 0600 from the start (no window where another user could read it), then replaced
    # atomically, so a crash never leaves half a file.
    partial = path.with_name(path.name + ".tmp")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.replace(partial, path)
