"""Transactional outbox for BODs, and the sender that delivers them to IMS at least once.

A BOD is written in the same database transaction as the change it reports, so it is never lost
and never sent for a change that was rolled back. The sender posts each as an IMS v3 multipart
message, retries non-2xx answers and connection errors with backoff, and keeps the order per
document: a later revision of a document waits until the earlier one got through. As ION does, it
may deliver a message twice (the `bod_redelivery_rate` knob): same message id, same BOD.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sandbox.m3 import bods
from sandbox.m3.config import M3SandboxConfig
from sandbox.m3.db import (
    Balance,
    BodVariation,
    Customer,
    CustomerAddress,
    Delivery,
    Invoice,
    Item,
    OrderHead,
    OrderLine,
    OutboxMessage,
    PurchaseHead,
    PurchaseLine,
    PurchaseReceipt,
    Store,
    Supplier,
)

FROM_LOGICAL_ID = bods.SENDER_LID
TO_LOGICAL_ID = "lid://infor.ims.m3bng"


class BodPublisher:
    """Writes BODs into the outbox, inside the caller's transaction.

    `master_data` is read on every publish: when it answers False, the master-data BODs
    (CustomerPartyMaster, SupplierPartyMaster, ItemMaster, InventoryCount) are not written, so a
    test can make M3 change without any event reporting it (the `master_data_bods` knob).
    """

    def __init__(
        self,
        config: M3SandboxConfig,
        wake: Callable[[], None] = lambda: None,
        master_data: Callable[[], bool] = lambda: True,
    ) -> None:
        self.config = config
        self.wake = wake
        self.master_data = master_data

    @property
    def envelope(self) -> bods.Envelope:
        return bods.Envelope(self.config.tenant, self.config.cono, self.config.divi)

    def _next_variation(self, session: Session, noun: str, document_id: str) -> int:
        row = session.get(BodVariation, (noun, document_id))
        if row is None:
            row = BodVariation(noun=noun, document_id=document_id, variation=0)
            session.add(row)
        row.variation += 1
        return row.variation

    def _enqueue(
        self, session: Session, name: str, document_id: str, variation: int, location: str, payload: bytes
    ) -> None:
        session.add(
            OutboxMessage(
                document_name=name,
                document_id=document_id,
                variation_id=variation,
                accounting_entity=self.envelope.accounting_entity,
                location=location,
                message_id=str(uuid.uuid4()),
                payload=payload.decode("utf-8"),
                created_at=time.time(),
            )
        )

    def sales_order(
        self, session: Session, head: OrderHead, lines: Sequence[OrderLine], now: datetime
    ) -> None:
        variation = self._next_variation(session, "SalesOrder", head.ORNO)
        xml = bods.sync_sales_order(self.envelope, head, lines, variation, now)
        self._enqueue(session, "SyncSalesOrder", head.ORNO, variation, head.WHLO, xml)

    def shipment(
        self, session: Session, delivery: Delivery, head: OrderHead, lines: Sequence[OrderLine], now: datetime
    ) -> None:
        variation = self._next_variation(session, "Shipment", str(delivery.DLIX))
        xml = bods.sync_shipment(self.envelope, delivery, head, lines, variation, now)
        self._enqueue(session, "SyncShipment", str(delivery.DLIX), variation, delivery.WHLO, xml)

    def invoice(
        self, session: Session, invoice: Invoice, head: OrderHead, lines: Sequence[OrderLine], now: datetime
    ) -> None:
        variation = self._next_variation(session, "Invoice", str(invoice.IVNO))
        xml = bods.sync_invoice(self.envelope, invoice, head, lines, variation, now)
        self._enqueue(session, "SyncInvoice", str(invoice.IVNO), variation, head.WHLO, xml)

    def purchase_order(
        self, session: Session, head: PurchaseHead, lines: Sequence[PurchaseLine], now: datetime
    ) -> None:
        variation = self._next_variation(session, "PurchaseOrder", head.PUNO)
        xml = bods.sync_purchase_order(self.envelope, head, lines, variation, now)
        self._enqueue(session, "SyncPurchaseOrder", head.PUNO, variation, head.WHLO, xml)

    def receive_delivery(
        self, session: Session, repn: int, whlo: str, receipts: Sequence[PurchaseReceipt], now: datetime
    ) -> None:
        variation = self._next_variation(session, "ReceiveDelivery", str(repn))
        xml = bods.sync_receive_delivery(self.envelope, repn, whlo, receipts, variation, now)
        self._enqueue(session, "SyncReceiveDelivery", str(repn), variation, whlo, xml)

    # Master data.
    def customer_party_master(
        self, session: Session, customer: Customer, now: datetime, action: str = bods.REPLACE
    ) -> None:
        if not self.master_data():
            return
        session.flush()
        addresses = session.scalars(
            select(CustomerAddress)
            .filter_by(CUNO=customer.CUNO)
            .order_by(CustomerAddress.ADRT, CustomerAddress.ADID)
        ).all()
        variation = self._next_variation(session, "CustomerPartyMaster", customer.CUNO)
        xml = bods.sync_customer_party_master(self.envelope, customer, addresses, variation, now, action)
        self._enqueue(session, "SyncCustomerPartyMaster", customer.CUNO, variation, "", xml)

    def supplier_party_master(
        self, session: Session, supplier: Supplier, now: datetime, action: str = bods.REPLACE
    ) -> None:
        if not self.master_data():
            return
        session.flush()
        variation = self._next_variation(session, "SupplierPartyMaster", supplier.SUNO)
        xml = bods.sync_supplier_party_master(self.envelope, supplier, variation, now, action)
        self._enqueue(session, "SyncSupplierPartyMaster", supplier.SUNO, variation, "", xml)

    def item_master(self, session: Session, item: Item, now: datetime, action: str = bods.REPLACE) -> None:
        if not self.master_data():
            return
        session.flush()
        variation = self._next_variation(session, "ItemMaster", item.ITNO)
        xml = bods.sync_item_master(self.envelope, item, variation, now, action)
        self._enqueue(session, "SyncItemMaster", item.ITNO, variation, "", xml)

    def inventory_count(self, session: Session, balances: Sequence[Balance], now: datetime) -> None:
        """One SyncInventoryCount per distinct (WHLO, ITNO) among `balances`."""
        if not self.master_data():
            return
        session.flush()
        seen: set[tuple[str, str]] = set()
        for balance in balances:
            key = (balance.WHLO, balance.ITNO)
            if key in seen:
                continue
            seen.add(key)
            item = session.get(Item, balance.ITNO)
            document_id = bods.inventory_document_id(*key)
            variation = self._next_variation(session, "InventoryCount", document_id)
            xml = bods.sync_inventory_count(self.envelope, balance, item.UNMS if item else "", variation, now)
            self._enqueue(session, "SyncInventoryCount", document_id, variation, balance.WHLO, xml)


def parameter_request(message: OutboxMessage) -> dict[str, Any]:
    return {
        "documentName": message.document_name,
        "messageId": message.message_id,
        "fromLogicalId": FROM_LOGICAL_ID,
        "toLogicalId": TO_LOGICAL_ID,
        "encoding": "NONE",
        "characterSet": "UTF-8",
        "accountingEntity": message.accounting_entity,
        "location": message.location,
        "documentId": message.document_id,
        "variationId": str(message.variation_id),
    }


def outbox_view(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "documentName": message.document_name,
        "documentId": message.document_id,
        "variationId": message.variation_id,
        "messageId": message.message_id,
        "status": message.status,
        "attempts": message.attempts,
        "lastError": message.last_error,
        "createdAt": message.created_at,
        "sentAt": message.sent_at,
    }


class OutboxSender:
    """Background task: delivers pending outbox messages to `config.bod_endpoint`.

    `redelivery_rate` is read after each delivery: the share of delivered messages posted again.
    """

    def __init__(
        self,
        store: Store,
        config: M3SandboxConfig,
        poll_seconds: float = 0.25,
        redelivery_rate: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.store = store
        self.config = config
        self.poll_seconds = poll_seconds
        self.redelivery_rate = redelivery_rate
        self._random = random.Random()
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Thread-safe nudge after a commit that added messages."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                # Keep the sender alive whatever a single round hits.
                with contextlib.suppress(Exception):
                    await self.deliver_due(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_seconds)
                self._wakeup.clear()

    def _due(self) -> list[OutboxMessage]:
        """The oldest pending message of each document, if its retry time has come."""
        oldest_pending = (
            select(func.min(OutboxMessage.id))
            .where(OutboxMessage.status == "pending")
            .group_by(OutboxMessage.document_name, OutboxMessage.document_id)
        )
        with self.store.transaction() as session:
            due = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(oldest_pending), OutboxMessage.next_attempt_at <= time.time())
                .order_by(OutboxMessage.id)
            )
            return list(due)

    async def deliver_due(self, client: httpx.AsyncClient) -> None:
        endpoint = self.config.bod_endpoint
        if not endpoint:
            return
        for message in self._due():
            error = await self._post(client, endpoint, message)
            self._record(message.id, error)
            if error is None and self._random.random() < self.redelivery_rate():
                # Delivered, yet sent again: the receiver must recognise a BOD it already has.
                await self._post(client, endpoint, message)

    async def _post(self, client: httpx.AsyncClient, endpoint: str, message: OutboxMessage) -> str | None:
        # ParameterRequest travels as a plain form field, MessagePayload as a file part.
        files: dict[str, tuple[str | None, bytes, str]] = {
            "ParameterRequest": (None, json.dumps(parameter_request(message)).encode(), "application/json"),
            "MessagePayload": (
                f"{message.document_name}.xml",
                message.payload.encode("utf-8"),
                "application/octet-stream",
            ),
        }
        auth = self.config.bod_authorization
        headers = {"Authorization": auth} if auth is not None else {}
        try:
            response = await client.post(endpoint, files=files, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"

    def _record(self, message_id: int, error: str | None) -> None:
        with self.store.transaction() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None:  # reset while the post was in flight
                return
            message.attempts += 1
            if error is None:
                message.status = "sent"
                message.sent_at = time.time()
                message.last_error = ""
                return
            backoff = min(
                self.config.outbox_initial_backoff_seconds * 2 ** (message.attempts - 1),
                self.config.outbox_max_backoff_seconds,
            )
            message.last_error = error
            message.next_attempt_at = time.time() + backoff
