"""Inbound side of Infor ION: BOD parsing and IMS v3 multipart messages."""

from clients.ion.bod import parse_bod
from clients.ion.bod_models import (
    Bod,
    BodBase,
    CustomerPartyMasterBod,
    InventoryCountBod,
    InventoryCountLine,
    InvoiceBod,
    InvoiceLine,
    ItemMasterBod,
    PartyAddress,
    SalesOrderBod,
    SalesOrderLine,
    ShipmentBod,
    ShipmentItem,
    SupplierPartyMasterBod,
)
from clients.ion.errors import BodParseError, ImsError, IonError, UnsupportedBodError
from clients.ion.ims import ImsParameters, decode_payload, encode_multipart, parse_multipart

__all__ = [
    "Bod",
    "BodBase",
    "BodParseError",
    "CustomerPartyMasterBod",
    "ImsError",
    "ImsParameters",
    "InventoryCountBod",
    "InventoryCountLine",
    "InvoiceBod",
    "InvoiceLine",
    "IonError",
    "ItemMasterBod",
    "PartyAddress",
    "SalesOrderBod",
    "SalesOrderLine",
    "ShipmentBod",
    "ShipmentItem",
    "SupplierPartyMasterBod",
    "UnsupportedBodError",
    "decode_payload",
    "encode_multipart",
    "parse_bod",
    "parse_multipart",
]
