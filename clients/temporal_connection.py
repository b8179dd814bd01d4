"""Connect to Temporal: the local dev server by default, a cluster or Temporal Cloud by settings."""

from __future__ import annotations

import asyncio
import dataclasses

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from clients.payload_codec import EncryptionCodec
from clients.startup import Patience
from settings import Settings

# Answers that mean "not up (yet)"; anything else (bad credentials, say) is raised at once.
_NOT_UP = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as JSON, encrypted when a payload key is configured."""
    if settings.payload_key is None:
        return pydantic_data_converter
    codec = EncryptionCodec.from_base64(settings.payload_key.get_secret_value())
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


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
