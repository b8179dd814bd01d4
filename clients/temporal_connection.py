"""Connect to Temporal: the local dev server by default, a cluster or Temporal Cloud by settings."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode

from clients.payload_codec import (
    EncryptionCodec,
    PayloadKeyError,
    decode_key,
    legacy_key_id,
    parse_payload_keys,
)
from clients.startup import Patience
from settings import Settings

# Answers that mean "not up (yet)"; anything else (bad credentials, say) is raised at once.
_NOT_UP = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


def payload_codec(settings: Settings) -> EncryptionCodec | None:
    """The key ring of ``payload_keys`` (plus the single ``payload_key``, decode-only beside a
    ring), or None when payloads are not encrypted. A malformed setting raises PayloadKeyError
    naming the env variable, never the key."""
    keys: dict[str, bytes] = {}
    if settings.payload_key is not None:
        try:
            single = decode_key(settings.payload_key.get_secret_value())
        except PayloadKeyError as error:
            raise PayloadKeyError(f"M3BNG_PAYLOAD_KEY: {error}") from None
        keys[legacy_key_id(single)] = single
    if settings.payload_keys is not None:
        try:
            ring = parse_payload_keys(settings.payload_keys.get_secret_value())
        except PayloadKeyError as error:
            raise PayloadKeyError(f"M3BNG_PAYLOAD_KEYS: {error}") from None
        if clash := set(ring) & set(keys):
            raise PayloadKeyError(f"M3BNG_PAYLOAD_KEYS: key id {clash.pop()!r} is M3BNG_PAYLOAD_KEY's id")
        keys.update(ring)  # after the single key: the newest of the ring encrypts by default
    if not keys:
        if settings.payload_encryption_key_id:
            raise PayloadKeyError("M3BNG_PAYLOAD_ENCRYPTION_KEY_ID is set but no payload key is")
        return None
    encrypt_with = settings.payload_encryption_key_id or None
    if encrypt_with is not None and encrypt_with not in keys:
        raise PayloadKeyError(
            f"M3BNG_PAYLOAD_ENCRYPTION_KEY_ID: {encrypt_with!r} is not among the key ids {sorted(keys)}"
        )
    return EncryptionCodec(keys, encrypt_with=encrypt_with)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, encrypted when a payload key is configured.

    Encrypted, failures carry their message and stack trace as an encoded (so encrypted)
    attribute too: M3 and BNG error texts are not stored in plaintext. A client with this same
    converter reads them back as usual (``error.cause.message``, the ``status`` query).
    """
    codec = payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_client_cert and settings.temporal_tls_client_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_client_cert.read_bytes(),
            client_private_key=settings.temporal_tls_client_key.read_bytes(),
        )
    return settings.temporal_tls or settings.temporal_api_key is not None


async def connect(settings: Settings, *, wait_seconds: float | None = None) -> Client:
    """A client for the configured Temporal, waiting while it cannot be reached.

    Waits for as long as it takes unless ``wait_seconds`` is given, logging
    "waiting for Temporal at host:port: <error>" before each new attempt.
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    patience = Patience(f"Temporal at {settings.temporal_address}", wait_seconds)
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter(settings),
                tls=_tls(settings),
                api_key=api_key,
            )
        except (RPCError, RuntimeError) as error:
            # The SDK's core reports "Failed client connect: ... Connection refused" as a RuntimeError.
            if isinstance(error, RPCError) and error.status not in _NOT_UP:
                raise
            delay = patience.next_delay(error)
            if delay is None:
                raise
        await asyncio.sleep(delay)
