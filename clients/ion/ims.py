"""IMS v3 multipart messages: a ``ParameterRequest`` JSON part and a ``MessagePayload`` part.

ION POSTs BODs to a bidirectional-IMS endpoint in this form (reference 4.3, option A), and senders
use it for ``v3/multipartMessage``. The payload may be BASE64 and/or deflated: IEC notes that
messages sent to ION are always deflated, and received ones can be either (reference 4.2).

The multipart/form-data framing is not hand-written: bodies are parsed with ``python-multipart`` (the
parser FastAPI/Starlette use for every form, so the receiver and this module agree on edge cases)
and built with ``httpx``'s form encoder (the one our HTTP clients send uploads with).
python-multipart has no encoder, and the stdlib ``email`` package is a mail library whose generator
rewrites binary parts (line endings, transfer encodings), so it is used for neither.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File, FormParser, parse_options_header

from clients.ion.errors import ImsError

PARAMETER_PART = "ParameterRequest"
PAYLOAD_PART = "MessagePayload"
# A BOD is kilobytes; refuse to inflate a "zip bomb" beyond this.
MAX_PAYLOAD_BYTES = 32 * 1024 * 1024
# An IMS message has two parts; a few more are tolerated (and ignored), hundreds are not.
_MAX_PARTS = 16


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
    parameters = params.model_dump_json(exclude_none=True).encode()
    files = [
        (PARAMETER_PART, (None, parameters, "application/json")),
        # A filename makes form parsers (Starlette, python-multipart) keep the payload as bytes.
        (PAYLOAD_PART, (PAYLOAD_PART, payload, "application/octet-stream")),
    ]
    # httpx encodes the form (a random boundary, RFC 7578 framing); nothing is sent.
    request = httpx.Request("POST", "http://ims.invalid/", files=files)
    return request.headers["content-type"], request.read()


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


def _split_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    media_type, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise ImsError(f"expected multipart/form-data with a boundary, got {content_type!r}")
    parts: dict[str, bytes] = {}

    def keep(part: Field | File) -> None:
        if len(parts) >= _MAX_PARTS:
            raise ImsError(f"IMS message has more than {_MAX_PARTS} parts")
        name = (part.field_name or b"").decode("utf-8", "replace")
        if isinstance(part, File):
            part.file_object.seek(0)
            parts[name] = part.file_object.read()
        else:
            parts[name] = part.value or b""

    # The body is already in memory (and size-limited by the receiver): keep every part there too.
    config = {"MAX_MEMORY_FILE_SIZE": float("inf")}
    parser = FormParser("multipart/form-data", keep, keep, boundary=boundary, config=config)
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise ImsError(f"malformed multipart body: {exc}") from exc
    finally:
        parser.close()
    return parts
