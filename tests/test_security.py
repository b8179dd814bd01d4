"""Payload encryption at rest and log redaction."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload

from clients.logging import redact
from clients.payload_codec import EncryptionCodec
from clients.temporal_connection import data_converter
from settings import Settings


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
