"""parse_bod on SyncPurchaseOrder and SyncReceiveDelivery as the M3 sandbox writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clients.ion.bod import SUPPORTED_NOUNS, parse_bod
from clients.ion.bod_models import (
    PurchaseOrderBod,
    PurchaseOrderLine,
    ReceiveDeliveryBod,
    ReceiveDeliveryItem,
)
from clients.ion.errors import BodParseError
from sandbox.m3 import bods
from sandbox.m3.db import PurchaseHead, PurchaseLine, PurchaseReceipt

ENV = bods.Envelope("M3BNG_TST", 100, "AAA")
NOW = datetime(2026, 3, 2, 9, 30, 15, 250000, tzinfo=UTC)


def _order() -> tuple[PurchaseHead, list[PurchaseLine]]:
    head = PurchaseHead(
        PUNO="4000000007",
        SUNO="S000000001",
        WHLO="300",
        FACI="100",
        CUCD="EUR",
        YRE1="BNG-PO-7",
        PUDT=date(2026, 3, 1),
        PUSL="35",
        PUST="99",
        NTAM=Decimal("127.00"),
    )
    lines = [
        PurchaseLine(
            PUNO=head.PUNO,
            PNLI=1,
            PNLS=0,
            ITNO="TYRE-28",
            ORQA=Decimal("10"),
            PUPR=Decimal("8.50"),
            PUUN="EA",
            RVQA=Decimal("4"),
            IVQA=Decimal("0"),
            PUSL="50",
            PUST="50",
        ),
        PurchaseLine(
            PUNO=head.PUNO,
            PNLI=2,
            PNLS=0,
            ITNO="TUBE-28",
            ORQA=Decimal("20"),
            PUPR=Decimal("2.10"),
            PUUN="EA",
            RVQA=Decimal("0"),
            IVQA=Decimal("0"),
            PUSL="35",
            PUST="35",
        ),
        PurchaseLine(
            PUNO=head.PUNO,
            PNLI=3,
            PNLS=0,
            ITNO="LOCK-U",
            ORQA=Decimal("1"),
            PUPR=Decimal("20"),
            PUUN="EA",
            RVQA=Decimal("0"),
            IVQA=Decimal("0"),
            PUSL="99",
            PUST="99",
        ),
    ]
    return head, lines


def test_sync_purchase_order() -> None:
    head, lines = _order()

    bod = parse_bod(bods.sync_purchase_order(ENV, head, lines, 4, NOW))

    assert isinstance(bod, PurchaseOrderBod)
    assert (bod.verb, bod.noun, bod.variation_id, bod.creation_datetime) == ("Sync", "PurchaseOrder", 4, NOW)
    assert (bod.accounting_entity, bod.cono, bod.divi, bod.location) == ("100_AAA", 100, "AAA", "300")
    assert (bod.purchase_order_number, bod.status_code, bod.supplier_number) == (
        "4000000007",
        "Confirmed",
        "S000000001",
    )
    assert (bod.lowest_status, bod.highest_status, bod.your_reference) == ("35", "99", "BNG-PO-7")
    assert (bod.total_amount, bod.currency) == (Decimal("127.00"), "EUR")
    assert bod.lines == [
        PurchaseOrderLine(
            line_number=1,
            item="TYRE-28",
            quantity=Decimal("10"),
            received_quantity=Decimal("4"),
            open_quantity=Decimal("6"),
            unit_price=Decimal("8.50"),
            invoiced_quantity=Decimal("0"),
            status_code="Received",
            lowest_status="50",
            highest_status="50",
        ),
        PurchaseOrderLine(
            line_number=2,
            item="TUBE-28",
            quantity=Decimal("20"),
            received_quantity=Decimal("0"),
            open_quantity=Decimal("20"),
            unit_price=Decimal("2.10"),
            invoiced_quantity=Decimal("0"),
            status_code="Confirmed",
            lowest_status="35",
            highest_status="35",
        ),
        PurchaseOrderLine(
            line_number=3,
            item="LOCK-U",
            quantity=Decimal("1"),
            received_quantity=Decimal("0"),
            open_quantity=Decimal("0"),
            unit_price=Decimal("20.00"),
            invoiced_quantity=Decimal("0"),
            status_code="Cancelled",
            lowest_status="99",
            highest_status="99",
        ),
    ]


def test_sync_receive_delivery() -> None:
    receipts = [
        PurchaseReceipt(
            REPN=6000000001,
            PUNO="4000000007",
            PNLI=1,
            PNLS=0,
            ITNO="TYRE-28",
            RVQA=Decimal("4"),
            PUUN="EA",
            SUDO="DN-77",
            PMSN="GR-100",
        ),
        PurchaseReceipt(
            REPN=6000000001,
            PUNO="4000000008",
            PNLI=2,
            PNLS=0,
            ITNO="TUBE-28",
            RVQA=Decimal("2.5"),
            PUUN="EA",
            SUDO="DN-77",
            PMSN="GR-100",
        ),
    ]

    bod = parse_bod(bods.sync_receive_delivery(ENV, 6000000001, "300", receipts, 1, NOW))

    assert isinstance(bod, ReceiveDeliveryBod)
    assert (bod.noun, bod.receipt_number, bod.delivery_note, bod.status_code) == (
        "ReceiveDelivery",
        "6000000001",
        "DN-77",
        "Received",
    )
    assert (bod.location, bod.variation_id, bod.external_message_number, bod.delivery_datetime) == (
        "300",
        1,
        "GR-100",
        NOW,
    )
    assert bod.items == [
        ReceiveDeliveryItem(
            purchase_order_number="4000000007", line_number=1, item="TYRE-28", received_quantity=Decimal("4")
        ),
        ReceiveDeliveryItem(
            purchase_order_number="4000000008",
            line_number=2,
            item="TUBE-28",
            received_quantity=Decimal("2.5"),
        ),
    ]
    assert bod.purchase_order_numbers == ["4000000007", "4000000008"]


def test_purchasing_nouns_are_supported_and_checked() -> None:
    assert {"PurchaseOrder", "ReceiveDelivery"} <= SUPPORTED_NOUNS
    head, lines = _order()
    xml = bods.sync_purchase_order(ENV, head, lines, 1, NOW).replace(
        b"<LineNumber>2</LineNumber>", b"<LineNumber>x</LineNumber>"
    )
    with pytest.raises(BodParseError, match=r"PurchaseOrderLine\[2\]/LineNumber is not an integer"):
        parse_bod(xml)
