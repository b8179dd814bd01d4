"""Payload encryption at rest and log redaction."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from clients.logging import redact
from clients.payload_codec import EncryptionCodec
from clients.temporal_connection import data_converter
from settings import Settings, exit_unless_valid, receiver_problems, worker_problems
from starter.secrets import GENERATORS, load_demo_secrets, with_demo_secrets


async def test_payloads_are_encrypted_and_decrypted() -> None:
    codec = EncryptionCodec(os.urandom(32))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"Email": "anna@example.test"}')

    (encrypted,) = await codec.encode([plain])
    assert encrypted.metadata["encoding"] == b"binary/encrypted"
    assert b"anna@example.test" not in encrypted.data
    assert await codec.decode([encrypted]) == [plain]


async def test_a_payload_encrypted_with_another_key_is_refused() -> None:
    (encrypted,) = await EncryptionCodec(os.urandom(32)).encode([Payload(data=b"x")])
    with pytest.raises(ValueError, match="another key"):
        await EncryptionCodec(os.urandom(32)).decode([encrypted])


def test_the_converter_encrypts_only_when_a_key_is_configured() -> None:
    assert data_converter(Settings()).payload_codec is None
    key = SecretStr(base64.b64encode(os.urandom(32)).decode())
    assert isinstance(data_converter(Settings(payload_key=key)).payload_codec, EncryptionCodec)


def test_logs_never_carry_secrets_and_mask_personal_data() -> None:
    event = redact(
        None,
        "info",
        {
            "event": "x",
            "client_secret": "s3cret",
            "authorization": "Bearer abc",
            "email": "anna@example.test",
            "phone": "+49 30 1234",
            "order_id": "BNG-1",
        },
    )
    assert event["client_secret"] == "[redacted]" and event["authorization"] == "[redacted]"
    assert event["email"] == "a***" and event["phone"] == "+***"
    assert event["order_id"] == "BNG-1"


# --- no working default secrets outside the demo ----------------------------------------------


def test_there_are_no_default_secrets_and_the_worker_names_the_missing_one(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)
    assert settings.bng_webhook_secret.get_secret_value() == ""
    assert settings.bng_client_secret.get_secret_value() == ""
    with pytest.raises(SystemExit, match="M3BNG_BNG_CLIENT_SECRET is not set"):
        exit_unless_valid(settings, "worker")
    with pytest.raises(SystemExit, match="M3BNG_BNG_WEBHOOK_SECRET is not set"):
        exit_unless_valid(settings, "receiver")
    exit_unless_valid(Settings(_env_file=None, bng_client_secret=SecretStr("s")), "worker")


def test_the_demo_generates_its_secrets_once_into_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with_demo_secrets exports to os.environ: give it a copy, so nothing leaks into other tests.
    environ = {name: value for name, value in os.environ.items() if name not in GENERATORS}
    monkeypatch.setattr(os, "environ", environ)
    path = tmp_path / "var" / "secrets.env"
    settings = with_demo_secrets(Settings(_env_file=None), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert receiver_problems(settings) == [] and worker_problems(settings) == []
    ims_secret = settings.ims_shared_secret.get_secret_value()
    assert environ["M3BNG_M3_BOD_AUTHORIZATION"] == f"Bearer {ims_secret}"
    again = with_demo_secrets(Settings(_env_file=None), path)
    assert again.bng_webhook_secret == settings.bng_webhook_secret  # created once, then reused
    assert load_demo_secrets(path) == load_demo_secrets(path)
