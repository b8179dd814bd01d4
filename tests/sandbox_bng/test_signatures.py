"""Standard Webhooks signing and verification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from clients.bng.webhooks import WebhookVerificationError, build_headers, sign, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_c2lnbmVkLXdpdGgtYW5vdGhlci1zZWNyZXQtLS0tLQ=="
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_sign_matches_the_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification.
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_official_package_signs_the_reference_vector_alike() -> None:
    official = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TIMESTAMP, UTC), BODY.decode())
    assert official == sign(SECRET, MSG_ID, TIMESTAMP, BODY)


@pytest.mark.parametrize("body", [BODY, '{"name": "Åsa Öberg", "city": "Göteborg"}'.encode(), b""])
def test_signatures_agree_with_the_official_package_both_ways(body: bytes) -> None:
    # The BNG sandbox signs with the package; the receiver verifies with this module, and back.
    official = Webhook(SECRET)
    sent_at = datetime.fromtimestamp(TIMESTAMP, UTC)
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": official.sign(MSG_ID, sent_at, body.decode()),
    }
    verify(SECRET, headers, body, now=TIMESTAMP)
    assert official.verify(body, build_headers(SECRET, MSG_ID, body), json_parse=False) is None


def test_a_body_that_is_not_utf8_is_signed_as_raw_bytes() -> None:
    # The specification signs bytes; the package cannot take these, this module can.
    body = b'{"note": "' + bytes([0xFF, 0xFE]) + b'"}'
    verify(SECRET, build_headers(SECRET, MSG_ID, body, timestamp=TIMESTAMP), body, now=TIMESTAMP)


def test_build_headers_then_verify() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)

    assert headers == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    verify(SECRET, headers, BODY, now=TIMESTAMP + 10)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in build_headers(SECRET, MSG_ID, BODY).items()}
    verify(SECRET, headers, BODY)


def test_tampered_body_is_refused() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(SECRET, headers, b'{"test": 1}')


def test_wrong_secret_is_refused() -> None:
    headers = build_headers(OTHER_SECRET, MSG_ID, BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(SECRET, headers, BODY)


def test_stale_timestamp_is_refused() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SECRET, headers, BODY, now=TIMESTAMP + 301)
    verify(SECRET, headers, BODY, now=TIMESTAMP + 299)


def test_future_timestamp_is_refused() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(SECRET, headers, BODY, now=TIMESTAMP - 301)


def test_any_one_of_several_signatures_is_enough() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY, timestamp=TIMESTAMP)
    old_key_signature = sign(OTHER_SECRET, MSG_ID, TIMESTAMP, BODY)
    headers["webhook-signature"] = f"v1a,ignored {old_key_signature} {headers['webhook-signature']}"
    verify(SECRET, headers, BODY, now=TIMESTAMP)

    headers["webhook-signature"] = f"v1a,ignored {old_key_signature}"
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, headers, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    headers = build_headers(SECRET, MSG_ID, BODY)
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=missing):
        verify(SECRET, headers, BODY)


def test_unparseable_timestamp_is_refused() -> None:
    headers = build_headers(SECRET, MSG_ID, BODY) | {"webhook-timestamp": "yesterday"}
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify(SECRET, headers, BODY)
