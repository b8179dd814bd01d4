"""Connect to Temporal: the local dev server by default, a cluster or Temporal Cloud by settings."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from clients.payload_codec import EncryptionCodec
from settings import Settings


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


async def connect(settings: Settings) -> Client:
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        tls=_tls(settings),
        api_key=api_key,
    )
