"""IMS v3 multipart messages: a ``ParameterRequest`` JSON part and a ``MessagePayload`` part.

ION POSTs BODs to a bidirectional-IMS endpoint in this form (reference 4.3, option A), and senders
use it for ``v3/multipartMessage``. The payload may be BASE64 and/or deflated: IEC notes that
messages sent to ION are always deflated, and received ones can be either (reference 4.2).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from email.message import Message
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from clients.ion.errors import ImsError

PARAMETER_PART = "ParameterRequest"
PAYLOAD_PART = "MessagePayload"
# A BOD is kilobytes; refuse to inflate a "zip bomb" beyond this.
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024


class ImsParameters(BaseModel):
    """The ``ParameterRequest`` part. Field names are the wire names."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    documentName: str
    messageId: str
    fromLogicalId: str
    toLogicalId: str = "lid://default"
    encoding: Literal["NONE", "BASE64"] = "NONE"
    characterSet: str = "UTF-8"
    accountingEntity: str | None = None
    location: str | None = None
    documentId: str | None = None
    variationId: int | None = None
    instances: int | None = None


def decode_payload(params: ImsParameters, payload: bytes, *, max_bytes: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The BOD XML bytes: BASE64-decoded when ``encoding`` says so, then inflated if deflated."""
    if params.encoding == "BASE64":
        try:
            # MIME-style BASE64 may be wrapped in lines; anything else outside the alphabet is an error.
            payload = base64.b64decode(b"".join(payload.split()), validate=True)
        except binascii.Error as exc:
            raise ImsError("MessagePayload is not valid BASE64") from exc
    return _inflate_if_deflated(payload, max_bytes=max_bytes)


def encode_multipart(params: ImsParameters, xml: bytes, *, deflate: bool = False) -> tuple[str, bytes]:
    """(content type, body) of a multipart/form-data IMS message carrying ``xml``."""
    payload = zlib.compress(xml) if deflate else xml
    if params.encoding == "BASE64":
        payload = base64.b64encode(payload)
    boundary = f"ims-{secrets.token_hex(16)}"
    parameters = params.model_dump_json(exclude_none=True).encode()
    body = b"".join(
        [
            _part(boundary, PARAMETER_PART, "application/json", parameters),
            # A filename makes form parsers (Starlette, python-multipart) keep the payload as bytes.
            _part(boundary, PAYLOAD_PART, "application/octet-stream", payload, filename=PAYLOAD_PART),
            f"--{boundary}--\r\n".encode(),
        ]
    )
    return f"multipart/form-data; boundary={boundary}", body


def parse_multipart(content_type: str, body: bytes) -> tuple[ImsParameters, bytes]:
    """Split an IMS multipart body into its parameters and the decoded BOD XML."""
    parts = _split_multipart(content_type, body)
    if PARAMETER_PART not in parts or PAYLOAD_PART not in parts:
        raise ImsError(f"IMS message needs parts {PARAMETER_PART} and {PAYLOAD_PART}, got {sorted(parts)}")
    params = parse_parameters(parts[PARAMETER_PART])
    return params, decode_payload(params, parts[PAYLOAD_PART])


def parse_parameters(raw: bytes | str) -> ImsParameters:
    try:
        return ImsParameters.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ImsError(f"invalid {PARAMETER_PART}: {exc}") from exc


def _inflate_if_deflated(payload: bytes, *, max_bytes: int) -> bytes:
    if _looks_like_xml(payload):
        return payload
    # zlib-wrapped (Java's Deflater default) or gzip first, then raw deflate (nowrap).
    for wbits in (32 + zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            inflated = inflater.decompress(payload, max_bytes)
        except zlib.error:
            continue
        if inflater.unconsumed_tail:
            raise ImsError(f"MessagePayload inflates beyond {max_bytes} bytes")
        if inflater.eof:
            return inflated
    raise ImsError("MessagePayload is neither XML nor deflated XML")


def _looks_like_xml(payload: bytes) -> bool:
    head = payload[:4]
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    return payload.lstrip()[:1] == b"<"


def _part(
    boundary: str, name: str, content_type: str, content: bytes, *, filename: str | None = None
) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
    return head.encode() + content + b"\r\n"


def _split_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise ImsError(f"expected multipart/form-data with a boundary, got {content_type!r}")
    parts: dict[str, bytes] = {}
    for section in body.split(b"--" + boundary.encode())[1:]:
        if section.startswith(b"--"):
            break  # closing delimiter
        head, separator, content = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise ImsError("multipart part without a header/body separator")
        part_headers = Message()
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if value:
                part_headers[key.strip()] = value.strip()
        name = part_headers.get_param("name", header="content-disposition")
        if isinstance(name, str):
            parts[name] = content.removesuffix(b"\r\n")
    return parts
