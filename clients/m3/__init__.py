"""Infor M3 MI REST client (m3api-rest v1, v2 and bulk) through the ION API gateway."""

from clients.m3.auth import IonApiTokenProvider
from clients.m3.bulk import M3Transaction, M3TransactionResult
from clients.m3.client import M3Client
from clients.m3.errors import (
    M3AuthError,
    M3BusinessError,
    M3Error,
    M3PartialListError,
    M3ProtocolError,
    M3RateLimitedError,
    M3TransientError,
)
from clients.m3.ionapi import IonApiFile, load_ionapi
from clients.m3.values import M3Value

__all__ = [
    "IonApiFile",
    "IonApiTokenProvider",
    "M3AuthError",
    "M3BusinessError",
    "M3Client",
    "M3Error",
    "M3PartialListError",
    "M3ProtocolError",
    "M3RateLimitedError",
    "M3Transaction",
    "M3TransactionResult",
    "M3TransientError",
    "M3Value",
    "load_ionapi",
]
