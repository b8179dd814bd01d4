"""Fuzzing the receiver in-process: whatever comes in, no 5xx, and nothing unauthenticated is
accepted. Signed fuzz never uses order.created or master-data types, so it starts no workflows."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.bng.webhooks import build_headers
from tests.conftest import IMS_AUTHORIZATION, WEBHOOK_SECRET, raw_headers, signed

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WEBHOOK_URL = "/webhooks/bng"
IMS_URL = "/ims/v3/multipartMessage"

# Header values as bytes: any latin-1 octet but CR/LF/NUL, which no HTTP server lets through.
header_values = st.binary(max_size=300).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")
)
huge_header = st.integers(min_value=8_000, max_value=200_000).map(lambda size: b"v1," + b"A" * size)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
# Types the routing dead-letters or ignores without starting anything.
harmless_types = st.sampled_from(["payment.captured", "order.updated", "refund.issued", ""]) | st.text(
    max_size=30
)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


def deeply_nested(depth: int) -> bytes:
    return b'{"type": "payment.captured", "timestamp": "2026-11-24T10:00:00Z", "data": ' + (
        b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    )


@FUZZ
@given(
    body=st.binary(max_size=2000),
    webhook_id=header_values,
    timestamp=header_values | st.just(str(int(time.time())).encode()),
    signature=header_values | huge_header,
    content_type=st.sampled_from(
        [b"application/json", b"text/plain", b"", b"application/json; charset=\xff"]
    ),
)
async def test_unsigned_or_badly_signed_webhooks_are_never_accepted(
    receiver_app: FastAPI,
    body: bytes,
    webhook_id: bytes,
    timestamp: bytes,
    signature: bytes,
    content_type: bytes,
) -> None:
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
        "content-type": content_type,
    }
    async with client(receiver_app) as http:
        response = await http.post(WEBHOOK_URL, content=body, headers=raw_headers(headers))
    assert response.status_code in (401, 415), response.text


@FUZZ
@given(
    payload=st.one_of(
        st.binary(max_size=2000),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.builds(
            lambda kind, data: json.dumps(
                {"type": kind, "timestamp": "2026-11-24T10:00:00Z", "data": data}
            ).encode(),
            harmless_types,
            json_values,
        ),
        st.integers(min_value=100, max_value=50_000).map(deeply_nested),
        st.integers(min_value=100, max_value=50_000).map(lambda depth: b"[" * depth),
    )
)
async def test_signed_garbage_is_dead_lettered_or_ignored_never_a_5xx(
    receiver_app: FastAPI, payload: bytes
) -> None:
    body, headers = signed(payload)
    async with client(receiver_app) as http:
        response = await http.post(WEBHOOK_URL, content=body, headers=headers)
    assert response.status_code in (202, 413), response.text
    if response.status_code == 202:
        assert response.json()["outcome"] in ("dead-letter", "ignored"), response.text


@FUZZ
@given(
    size=st.integers(min_value=1024 * 1024 + 1, max_value=3 * 1024 * 1024),
    sign=st.booleans(),
    declare_length=st.booleans(),
)
async def test_oversized_bodies_get_413(
    receiver_app: FastAPI, size: int, sign: bool, declare_length: bool
) -> None:
    body = b"x" * size
    headers: dict[str, Any] = build_headers(WEBHOOK_SECRET, "msg_big", body) if sign else {}
    headers["content-type"] = "application/json"

    async def stream() -> Any:
        for start in range(0, size, 256 * 1024):
            yield body[start : start + 256 * 1024]

    async with client(receiver_app) as http:
        response = await http.post(WEBHOOK_URL, content=body if declare_length else stream(), headers=headers)
    assert response.status_code == 413


parts = st.lists(
    st.tuples(
        st.sampled_from(["ParameterRequest", "MessagePayload", "Other", ""]) | st.text(max_size=20),
        st.binary(max_size=500)
        | st.just(b'{"documentName": "SyncSalesOrder", "messageId": "m", "fromLogicalId": "lid://x"}')
        | st.just(b"<SyncSalesOrder/>")
        | json_values.map(lambda value: json.dumps(value).encode()),
    ),
    max_size=4,
)


def multipart(boundary: str, sections: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, content in sections:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + content
        out += b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


@FUZZ
@given(
    sections=parts,
    boundary=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40),
    authorized=st.booleans(),
    content_type=st.sampled_from(
        ["multipart/form-data; boundary={b}", "multipart/mixed; boundary={b}", "text/xml"]
    ),
)
async def test_random_ims_messages_never_give_a_5xx_and_need_authentication(
    receiver_app: FastAPI,
    sections: list[tuple[str, bytes]],
    boundary: str,
    authorized: bool,
    content_type: str,
) -> None:
    headers = {"content-type": content_type.format(b=boundary)}
    if authorized:
        headers["authorization"] = IMS_AUTHORIZATION
    async with client(receiver_app) as http:
        response = await http.post(IMS_URL, content=multipart(boundary, sections), headers=headers)
    if not authorized:
        assert response.status_code == 401
    else:
        assert response.status_code in (202, 400, 415), response.text
        if response.status_code == 202:
            assert response.json()["outcome"] == "dead-letter", response.text


@FUZZ
@given(
    authorization=header_values
    | huge_header
    | st.text(max_size=100).map(lambda text: ("Bearer " + text).encode())
)
async def test_ims_never_lets_a_wrong_credential_in(receiver_app: FastAPI, authorization: bytes) -> None:
    headers = {"authorization": authorization, "content-type": b"text/plain"}  # 415 if it got in
    async with client(receiver_app) as http:
        response = await http.post(IMS_URL, content=b"x", headers=raw_headers(headers))
    assert response.status_code == 401


@pytest.mark.parametrize("depth", [10_000, 120_000])  # 120k: just under 1 MiB
async def test_deeply_nested_signed_json_is_a_dead_letter(receiver_app: FastAPI, depth: int) -> None:
    body, headers = signed(deeply_nested(depth))
    async with client(receiver_app) as http:
        response = await http.post(WEBHOOK_URL, content=body, headers=headers)
    assert response.status_code == 202 and response.json()["outcome"] == "dead-letter"
