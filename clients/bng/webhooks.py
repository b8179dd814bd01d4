"""Standard Webhooks signatures (https://www.standardwebhooks.com), as BNG signs its webhooks.

A secret looks like ``whsec_<base64 key>``. Each message carries three headers:

- ``webhook-id``: the message id, the same on every retry, so receivers can drop duplicates;
- ``webhook-timestamp``: unix seconds when it was sent, to refuse replays;
- ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``.

Why the HMAC is computed here and not by the official ``standardwebhooks`` package: the
specification signs the body's raw bytes, while the package's ``Webhook.sign``/``verify`` take it as
``str`` (decoded and re-encoded as UTF-8), so a body that is not UTF-8 cannot be checked with it;
its replay window is fixed at five minutes against the wall clock (ours is a setting, and tests
pass ``now``); it names no missing header; it accepts a secret with stray characters; and a
malformed signature list raises ``ValueError`` instead of its verification error. The package is
used where it fits: the BNG sandbox signs its deliveries with it (``sandbox/bng/delivery.py``), so
every sandbox webhook the receiver accepts checks this module against the reference implementation,
and the tests compare both on the specification's test vector.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"


class WebhookVerificationError(Exception):
    """The message cannot be trusted; ``str(error)`` says why."""


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one message: ``v1,<base64 signature>``."""
    signed_content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed_content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def build_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for sending ``body``."""
    sent_at = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(sent_at),
        HEADER_SIGNATURE: sign(secret, msg_id, sent_at, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless ``body`` was signed with ``secret`` recently enough."""
    # HTTP header names are case-insensitive; a plain dict from a test or a framework may not be.
    lowered = {name.lower(): value for name, value in headers.items()}
    missing = [name for name in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE) if not lowered.get(name)]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}")
    msg_id, raw_timestamp = lowered[HEADER_ID], lowered[HEADER_TIMESTAMP]
    signatures = lowered[HEADER_SIGNATURE]

    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError(f"invalid {HEADER_TIMESTAMP}: {raw_timestamp!r}") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookVerificationError("timestamp too old")
    if timestamp > current + tolerance_seconds:
        raise WebhookVerificationError("timestamp too far in the future")

    expected = sign(secret, msg_id, timestamp, body).encode()
    # Several signatures are allowed (e.g. while a secret is being rotated): any one will do.
    for candidate in signatures.split():
        version, _, _signature = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(candidate.encode(), expected):
            return
    raise WebhookVerificationError("no matching signature")
