"""Payload encryption with a key ring: rotation, the settings that name the keys, failure texts."""

from __future__ import annotations

import base64
import json
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from clients.payload_codec import (
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptError,
    PayloadKeyError,
    legacy_key_id,
    parse_payload_keys,
)
from clients.temporal_connection import data_converter, payload_codec
from settings import Settings

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"CustomerName": "Pedal Partners Ltd"}')


def key() -> bytes:
    return os.urandom(32)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def ring_settings(*pairs: tuple[str, bytes], single: bytes | None = None, **values: object) -> Settings:
    keys = ",".join(f"{key_id}:{b64(raw)}" for key_id, raw in pairs) if pairs else None
    return Settings(
        _env_file=None,
        payload_keys=SecretStr(keys) if keys else None,
        payload_key=SecretStr(b64(single)) if single else None,
        **values,  # type: ignore[arg-type]
    )


# --- rotation -----------------------------------------------------------------------------------


async def test_old_payloads_decode_after_a_new_key_is_added_and_new_ones_use_the_newest() -> None:
    k2024, k2025 = key(), key()
    before = EncryptionCodec({"2024": k2024})
    (old,) = await before.encode([PLAIN])
    assert old.metadata[KEY_ID_METADATA] == b"2024"

    after = EncryptionCodec({"2024": k2024, "2025": k2025})  # oldest first: the newest encrypts
    assert after.encrypting_key_id == "2025"
    (new,) = await after.encode([PLAIN])
    assert new.metadata[KEY_ID_METADATA] == b"2025"
    assert await after.decode([old, new]) == [PLAIN, PLAIN]

    # Once the old key is retired, what it encrypted is refused, naming the key id it needs.
    with pytest.raises(PayloadDecryptError, match=r"another key.*2024"):
        await EncryptionCodec({"2025": k2025}).decode([old])


async def test_a_new_key_can_be_rolled_out_to_every_process_before_it_encrypts() -> None:
    k1, k2 = key(), key()
    staged = payload_codec(ring_settings(("k1", k1), ("k2", k2), payload_encryption_key_id="k1"))
    assert staged is not None and staged.encrypting_key_id == "k1"
    (payload,) = await staged.encode([PLAIN])
    assert payload.metadata[KEY_ID_METADATA] == b"k1"


async def test_the_single_payload_key_keeps_decoding_beside_a_ring() -> None:
    legacy = key()
    (old,) = await EncryptionCodec.from_base64(b64(legacy)).encode([PLAIN])
    assert old.metadata[KEY_ID_METADATA] == legacy_key_id(legacy).encode()  # what it always wrote

    alone = payload_codec(ring_settings(single=legacy))
    assert alone is not None and await alone.decode([old]) == [PLAIN]

    migrated = payload_codec(ring_settings(("2025", key()), single=legacy))
    assert migrated is not None and migrated.encrypting_key_id == "2025"
    assert await migrated.decode([old]) == [PLAIN]


async def test_an_altered_payload_is_refused() -> None:
    codec = EncryptionCodec({"k": key()})
    (sealed,) = await codec.encode([PLAIN])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptError, match="altered"):
        await codec.decode([sealed])


async def test_payloads_that_are_not_encrypted_pass_through() -> None:
    assert await EncryptionCodec({"k": key()}).decode([PLAIN]) == [PLAIN]


# --- settings -----------------------------------------------------------------------------------


def test_both_forms_of_the_key_list_are_read_oldest_first() -> None:
    k1, k2 = key(), key()
    assert parse_payload_keys(f"a:{b64(k1)}, b:{b64(k2)}") == {"a": k1, "b": k2}
    assert parse_payload_keys(json.dumps({"a": b64(k1), "b": b64(k2)})) == {"a": k1, "b": k2}


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("", "no keys"),
        ("just-a-key", "not id:base64"),
        ("a:not base64!", "not base64"),
        (f"a:{b64(b'short')}", "32 random bytes"),
        (f"a b:{b64(bytes(32))}", "key id"),
        (f"a:{b64(bytes(32))},a:{b64(bytes(32))}", "twice"),
        ('{"a": 1}', "JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_malformed_key_list_is_named_without_revealing_a_key(keys: str, problem: str) -> None:
    with pytest.raises(PayloadKeyError, match=problem) as raised:
        payload_codec(Settings(_env_file=None, payload_keys=SecretStr(keys)))
    assert "M3BNG_PAYLOAD_KEYS" in str(raised.value)
    assert b64(bytes(32)) not in str(raised.value)


def test_an_encrypting_key_id_must_be_one_of_the_keys() -> None:
    with pytest.raises(PayloadKeyError, match=r"M3BNG_PAYLOAD_ENCRYPTION_KEY_ID.*'k9'"):
        payload_codec(ring_settings(("k1", key()), payload_encryption_key_id="k9"))
    with pytest.raises(PayloadKeyError, match="no payload key"):
        payload_codec(ring_settings(payload_encryption_key_id="k1"))
    with pytest.raises(PayloadKeyError, match="M3BNG_PAYLOAD_KEY:"):
        payload_codec(Settings(_env_file=None, payload_key=SecretStr("short")))


def test_there_is_no_default_key() -> None:
    settings = Settings(_env_file=None)
    assert settings.payload_key is None and settings.payload_keys is None
    assert payload_codec(settings) is None
    assert settings.codec_secret.get_secret_value() == ""


# --- failures -----------------------------------------------------------------------------------


async def test_failure_texts_are_encrypted_and_read_back_through_the_same_converter() -> None:
    converter = data_converter(ring_settings(("k1", key())))
    assert isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
    m3_error = "OIS100MI/AddBatchLine WBA0203: Item number TRAILER-KID does not exist in warehouse 100"
    failure, plain = Failure(), Failure()
    try:
        raise ApplicationError(m3_error, {"customer": "Pedal Partners Ltd"}, non_retryable=True)
    except ApplicationError as error:
        await converter.encode_failure(error, failure)
        await data_converter(Settings(_env_file=None)).encode_failure(error, plain)

    stored = failure.SerializeToString()
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    assert b"does not exist in warehouse" not in stored and b"Pedal Partners" not in stored
    # Nor the stack trace, which the plain converter keeps in the clear.
    assert b"test_failure_texts_are_encrypted" in plain.SerializeToString()
    assert b"test_failure_texts_are_encrypted" not in stored

    read = await converter.decode_failure(failure)
    assert isinstance(read, ApplicationError)
    assert read.message == m3_error and read.details == ({"customer": "Pedal Partners Ltd"},)


def test_without_a_key_failures_stay_as_they_were() -> None:
    converter = data_converter(Settings(_env_file=None))
    assert converter.payload_codec is None
    assert not isinstance(converter.failure_converter, DefaultFailureConverterWithEncodedAttributes)
