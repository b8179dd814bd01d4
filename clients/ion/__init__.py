"""Inbound side of Infor ION: BOD parsing and IMS v3 multipart messages."""

from clients.ion.bod import parse_bod
from clients.ion.bod_models import (
    Bod,
    BodBase,
    InvoiceBod,
    InvoiceLine,
    SalesOrderBod,
    SalesOrderLine,
    ShipmentBod,
    ShipmentItem,
)
from clients.ion.errors import BodParseError, ImsError, IonError, UnsupportedBodError
from clients.ion.ims import ImsParameters, decode_payload, encode_multipart, parse_multipart

__all__ = [
    "Bod",
    "BodBase",
    "BodParseError",
    "ImsError",
    "ImsParameters",
    "InvoiceBod",
    "InvoiceLine",
    "IonError",
    "SalesOrderBod",
    "SalesOrderLine",
    "ShipmentBod",
    "ShipmentItem",
    "UnsupportedBodError",
    "decode_payload",
    "encode_multipart",
    "parse_bod",
    "parse_multipart",
]
