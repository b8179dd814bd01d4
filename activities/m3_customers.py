"""Make sure the BNG customer of an order exists in M3 (CRS610MI) and is cross-referenced."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connections import Connections
from activities.errors import BNG_BUSINESS_ERROR, classified_errors
from activities.exactly_once import change_once
from activities.heartbeat import auto_heartbeat
from activities.master_data.m3_records import M3Customers, deterministic_key
from activities.master_data.sync import NEW_M3_KEY_PREFIX
from clients.bng.models import Customer
from mapping.ownership import from_bng
from storage import xref


class EnsureCustomerInput(BaseModel):
    bng_customer_id: str


class EnsuredCustomer(BaseModel):
    cuno: str
    created: bool = False


class M3CustomerActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def ensure_m3_customer(self, data: EnsureCustomerInput) -> EnsuredCustomer:
        linked = await asyncio.to_thread(self._linked_cuno, data.bng_customer_id)
        cuno = linked
        ours = deterministic_key(NEW_M3_KEY_PREFIX["customer"], data.bng_customer_id)
        created = False
        with classified_errors():
            customer: Customer | None = None
            if cuno is None:
                customer = await self._c.bng.get_customer(data.bng_customer_id)
                cuno = customer.ExternalID or None
            # m3bng links a customer it creates before M3 has it: another order (or the customer's
            # sync) may be creating it right now, so a missing one of ours is created, idempotently.
            missing = cuno is None or (cuno == ours and not await self._exists(cuno))
            if missing:
                customer = customer or await self._c.bng.get_customer(data.bng_customer_id)
                cuno = await self._create_in_m3(customer)
                created = True
                if customer.ExternalID != cuno:
                    await self._set_external_id(data.bng_customer_id, cuno)
            assert cuno is not None
            if linked is None:
                # A number only BNG knows must really exist in M3; an unknown one is M3's NOK,
                # parked as such. A linked customer is M3's (sync or an earlier order put it
                # there): if M3 has since blocked or lost it, AddBatchHead says so, and parks.
                await self._c.m3.get_one("CRS610MI", "GetBasicData", {"CUNO": cuno})
        if cuno != linked:
            await asyncio.to_thread(self._link, data.bng_customer_id, cuno)
        return EnsuredCustomer(cuno=cuno, created=created)

    async def _set_external_id(self, bng_customer_id: str, cuno: str) -> None:
        async def read() -> dict[str, Any]:
            return (await self._c.bng.get_customer(bng_customer_id)).model_dump(mode="json")

        await change_once(
            f"BNG customer {bng_customer_id} ExternalID",
            read=read,
            wanted={"ExternalID": cuno},
            write=lambda: self._c.bng.update_customer(bng_customer_id, {"ExternalID": cuno}),
        )

    async def _exists(self, cuno: str) -> bool:
        return await M3Customers(self._c.m3, self._c.settings).exists(cuno)

    async def _create_in_m3(self, customer: Customer) -> str:
        """The same creation as master-data sync: deterministic CUNO, linked before M3 has it."""
        settings = self._c.settings
        if not settings.m3_auto_create_customers:
            raise ApplicationError(
                f"BNG customer {customer.CustomerID} has no M3 customer and auto-create is off",
                type=BNG_BUSINESS_ERROR,
                non_retryable=True,
            )
        record = customer.model_dump(mode="json")
        cuno = deterministic_key(NEW_M3_KEY_PREFIX["customer"], customer.CustomerID)
        projection = from_bng("customer", record, {"CUNO": cuno, "CUTM": settings.m3_customer_template})
        if projection.errors:
            problems = "; ".join(e.message for e in projection.errors)
            raise ApplicationError(
                f"BNG customer {customer.CustomerID} cannot be created in M3: {problems}",
                [e.model_dump() for e in projection.errors],
                type=BNG_BUSINESS_ERROR,
                non_retryable=True,
            )
        await asyncio.to_thread(self._link, customer.CustomerID, cuno)
        await M3Customers(self._c.m3, settings).create(cuno, projection.values, record)
        return cuno

    def _linked_cuno(self, bng_customer_id: str) -> str | None:
        with self._c.sessions() as session:
            link = xref.find_link(session, "customer", cono=self._c.settings.m3_cono, bng_key=bng_customer_id)
            return link.m3_key if link else None

    def _link(self, bng_customer_id: str, cuno: str) -> None:
        with self._c.sessions() as session:
            xref.link(
                session, "customer", cono=self._c.settings.m3_cono, bng_key=bng_customer_id, m3_key=cuno
            )
            session.commit()
