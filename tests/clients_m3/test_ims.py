"""IMS v3 multipart: ParameterRequest + MessagePayload, with NONE, BASE64 and deflated payloads."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Literal

import pytest

from clients.ion import ImsError, ImsParameters, decode_payload, encode_multipart, parse_bod, parse_multipart

Encoding = Literal["NONE", "BASE64"]
XML = (Path(__file__).resolve().parents[1] / "fixtures" / "bods" / "SyncShipment.xml").read_bytes()


def params(encoding: Encoding = "NONE") -> ImsParameters:
    return ImsParameters(
        documentName="SyncShipment",
        messageId="msg-0001",
        fromLogicalId="lid://infor.m3.m3",
        toLogicalId="lid://infor.ims.m3bng",
        encoding=encoding,
        characterSet="UTF-8",
        accountingEntity="100_AAA",
        location="100",
        documentId="5000000001",
        variationId=1,
    )


@pytest.mark.parametrize(
    ("encoding", "deflate"), [("NONE", False), ("BASE64", False), ("NONE", True), ("BASE64", True)]
)
def test_multipart_round_trip(encoding: Encoding, deflate: bool) -> None:
    content_type, body = encode_multipart(params(encoding), XML, deflate=deflate)
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="ParameterRequest"' in body and b'name="MessagePayload"' in body
    assert (XML in body) is (encoding == "NONE" and not deflate)
    parsed, xml = parse_multipart(content_type, body)
    assert parsed == params(encoding)
    assert xml == XML
    assert parse_bod(xml).bod_id == "9d0b9d2e-5c3a-4a4e-8a57-0f4f7a3c2b77"


def test_parameter_part_uses_wire_names_and_omits_unset_fields() -> None:
    minimal = ImsParameters(documentName="SyncShipment", messageId="m1", fromLogicalId="lid://infor.m3.m3")
    content_type, body = encode_multipart(minimal, XML)
    boundary = content_type.split("boundary=")[1].encode()
    part = body.split(b"--" + boundary)[1]
    assert b"Content-Type: application/json" in part
    sent = json.loads(part.split(b"\r\n\r\n", 1)[1])
    assert sent == {
        "documentName": "SyncShipment",
        "messageId": "m1",
        "fromLogicalId": "lid://infor.m3.m3",
        "toLogicalId": "lid://default",
        "encoding": "NONE",
        "characterSet": "UTF-8",
    }


def test_raw_deflate_and_base64_deflate_payloads_are_decoded() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflated = raw.compress(XML) + raw.flush()
    assert decode_payload(params("NONE"), raw_deflated) == XML
    assert decode_payload(params("NONE"), zlib.compress(XML)) == XML
    assert decode_payload(params("BASE64"), base64.b64encode(zlib.compress(XML))) == XML
    assert decode_payload(params("BASE64"), base64.b64encode(XML)) == XML


def test_garbage_and_oversized_payloads_are_refused() -> None:
    with pytest.raises(ImsError, match="neither XML nor deflated"):
        decode_payload(params(), b"\x00\x01garbage")
    with pytest.raises(ImsError, match="BASE64"):
        decode_payload(params("BASE64"), b"!!!")
    bomb = zlib.compress(b"<" + b"a" * 1_000_000)
    with pytest.raises(ImsError, match="inflates beyond"):
        decode_payload(params(), bomb, max_bytes=1000)


def test_missing_part_or_wrong_content_type() -> None:
    content_type, body = encode_multipart(params(), XML)
    with pytest.raises(ImsError, match="multipart/form-data"):
        parse_multipart("application/json", body)
    delimiter = b"--" + content_type.split("boundary=")[1].encode()
    without_payload = body.split(delimiter + b'\r\nContent-Disposition: form-data; name="MessagePayload"')[0]
    truncated = without_payload + delimiter + b"--\r\n"
    with pytest.raises(ImsError, match="MessagePayload"):
        parse_multipart(content_type, truncated)


def test_invalid_parameters_are_an_ims_error() -> None:
    content_type, body = encode_multipart(params(), XML)
    broken = body.replace(b'"encoding":"NONE"', b'"encoding":"GZIP"')
    with pytest.raises(ImsError, match="ParameterRequest"):
        parse_multipart(content_type, broken)
