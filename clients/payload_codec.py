"""AES-256-GCM payload codec: workflow inputs, results, signals, queries and failure texts are
encrypted at rest in Temporal.

Keys have ids, so they can be rotated: every encrypted payload names the id of its key in its
metadata (``encryption-key-id``); one key (the encrypting key, by default the newest) encrypts
new payloads, and every key on the ring still decodes the payloads it encrypted. Search
attributes are not payloads and stay readable, which is why they hold only identifiers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """A payload key setting is malformed; the message says which part, never the key."""


class PayloadDecryptError(ValueError):
    """An encrypted payload cannot be decrypted: unknown key id, or tampered/wrong key."""


def legacy_key_id(key: bytes) -> str:
    """The id the single-key codec (setting ``payload_key``) has always written: it names the key
    without revealing it, so payloads encrypted before key ids existed still decode."""
    return hashlib.sha256(key).hexdigest()[:16]


def decode_key(text: str, *, what: str = "payload key") -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeyError(f"{what} is not base64") from None
    if len(key) != KEY_BYTES:
        raise PayloadKeyError(f"{what} must be base64 of {KEY_BYTES} random bytes, not {len(key)}")
    return key


def parse_payload_keys(text: str) -> dict[str, bytes]:
    """``id1:base64,id2:base64`` or a JSON object ``{"id1": "base64", ...}``, oldest first.

    Order matters: unless the encrypting key is named, the last one (the newest) encrypts.
    """
    text = text.strip()
    if not text:
        raise PayloadKeyError("no keys given")
    pairs: list[tuple[str, str]]
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            raise PayloadKeyError("is not valid JSON") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise PayloadKeyError('must be a JSON object of key id -> base64 key, {"id": "base64"}')
        pairs = list(loaded.items())
    else:
        pairs = []
        for item in text.split(","):
            key_id, sep, value = item.strip().partition(":")
            if not sep:
                raise PayloadKeyError(f"entry {len(pairs) + 1} is not id:base64")
            pairs.append((key_id.strip(), value))
    keys: dict[str, bytes] = {}
    for key_id, value in pairs:
        if not KEY_ID_PATTERN.match(key_id):
            raise PayloadKeyError(f"key id {key_id[:64]!r} must be 1-64 of A-Z a-z 0-9 . _ -")
        if key_id in keys:
            raise PayloadKeyError(f"key id {key_id!r} is given twice")
        keys[key_id] = decode_key(value, what=f"key {key_id!r}")
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts with one key of a key ring, decrypts with whichever key a payload names."""

    def __init__(self, keys: bytes | Mapping[str, bytes], *, encrypt_with: str | None = None) -> None:
        if isinstance(keys, bytes):
            keys = {legacy_key_id(keys): keys}
        if not keys:
            raise PayloadKeyError("no keys given")
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise PayloadKeyError(f"key {key_id!r} must be {KEY_BYTES} bytes (base64 of 32 random bytes)")
        self._ring = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.encrypting_key_id = encrypt_with if encrypt_with is not None else list(keys)[-1]
        if self.encrypting_key_id not in self._ring:
            raise PayloadKeyError(f"the encrypting key id {self.encrypting_key_id!r} is not among the keys")
        self._encrypt_id = self.encrypting_key_id.encode()

    @classmethod
    def from_base64(cls, key: str) -> EncryptionCodec:
        """The single-key codec of the ``payload_key`` setting."""
        return cls(decode_key(key))

    @property
    def key_ids(self) -> list[str]:
        return list(self._ring)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ring[self.encrypting_key_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._encrypt_id}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The payload as it was before encryption; one that is not encrypted is returned as is."""
        if payload.metadata.get("encoding", b"") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode("utf-8", "replace")
        aes = self._ring.get(key_id)
        if aes is None:
            raise PayloadDecryptError(f"payload was encrypted with another key (id {key_id[:64]!r})")
        try:
            return Payload.FromString(
                aes.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
            )
        except InvalidTag:
            raise PayloadDecryptError(f"payload does not decrypt with key {key_id!r} (altered?)") from None
