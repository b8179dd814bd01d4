"""AES-256-GCM payload codec: workflow inputs, results and signals are encrypted at rest in Temporal.

Search attributes are not payloads and stay readable, which is why they hold only identifiers.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("payload key must be 32 bytes (base64 of 32 random bytes)")
        self._aes = AESGCM(key)
        # Identifies the key without revealing it, so a rotated key can be told apart.
        self._key_id = hashlib.sha256(key).hexdigest()[:16].encode()

    @classmethod
    def from_base64(cls, key: str) -> EncryptionCodec:
        return cls(base64.b64decode(key))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, "encryption-key-id": self._key_id},
                data=self._encrypt(payload.SerializeToString()),
            )
            for payload in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != ENCODING:
                decoded.append(payload)
                continue
            if payload.metadata.get("encryption-key-id") != self._key_id:
                raise ValueError("payload was encrypted with another key")
            decoded.append(Payload.FromString(self._decrypt(payload.data)))
        return decoded

    def _encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aes.encrypt(nonce, data, None)

    def _decrypt(self, data: bytes) -> bytes:
        return self._aes.decrypt(data[:12], data[12:], None)
