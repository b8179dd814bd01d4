"""The M3 supplier (CRS620) of a BNG vendor, through the supplier cross-reference.

A vendor not yet in M3 is created the way master-data sync creates it (same projection, same
deterministic SUNO, linked before M3 has it), when settings allow it.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.connections import Connections
from activities.errors import BNG_BUSINESS_ERROR, classified_errors
from activities.heartbeat import auto_heartbeat
from activities.master_data.m3_records import M3Suppliers, deterministic_key
from activities.master_data.sync import NEW_M3_KEY_PREFIX
from clients.bng.models import Vendor
from mapping.ownership import from_bng
from storage import xref


class EnsureSupplierInput(BaseModel):
    bng_vendor_id: str
    # False for a supplier invoice: the supplier must be there already.
    create: bool = True


class EnsuredSupplier(BaseModel):
    suno: str
    created: bool = False


class M3SupplierActivities:
    def __init__(self, connections: Connections) -> None:
        self._c = connections

    @activity.defn
    @auto_heartbeat
    async def ensure_m3_supplier(self, data: EnsureSupplierInput) -> EnsuredSupplier:
        suppliers = M3Suppliers(self._c.m3, self._c.settings)
        with classified_errors():
            suno = await asyncio.to_thread(self._linked_suno, data.bng_vendor_id)
            vendor: Vendor | None = None
            if suno is None:
                vendor = await self._c.bng.get_vendor(data.bng_vendor_id)
                suno = vendor.ExternalID or None
            ours = deterministic_key(NEW_M3_KEY_PREFIX["supplier"], data.bng_vendor_id)
            exists = suno is not None and await suppliers.read(suno) is not None
            if suno is not None and exists:
                await asyncio.to_thread(self._link, data.bng_vendor_id, suno)
                return EnsuredSupplier(suno=suno)
            # A missing supplier of m3bng's own numbering is one being created (by sync, or an
            # earlier attempt): created again, idempotently. Any other missing number is an error.
            if suno is not None and suno != ours:
                raise _refused(
                    f"BNG vendor {data.bng_vendor_id} names M3 supplier {suno}, which M3 does not have"
                )
            if not (data.create and self._c.settings.m3_auto_create_suppliers):
                raise _refused(f"BNG vendor {data.bng_vendor_id} has no M3 supplier")
            vendor = vendor or await self._c.bng.get_vendor(data.bng_vendor_id)
            record = vendor.model_dump(mode="json")
            projection = from_bng("supplier", record, {"SUNO": ours})
            if projection.errors:
                problems = "; ".join(e.message for e in projection.errors)
                raise _refused(f"BNG vendor {data.bng_vendor_id} cannot be created in M3: {problems}")
            await asyncio.to_thread(self._link, data.bng_vendor_id, ours)
            await suppliers.create(ours, projection.values, record)
        return EnsuredSupplier(suno=ours, created=True)

    def _linked_suno(self, bng_vendor_id: str) -> str | None:
        with self._c.sessions() as session:
            link = xref.find_link(session, "supplier", cono=self._c.settings.m3_cono, bng_key=bng_vendor_id)
            return link.m3_key if link else None

    def _link(self, bng_vendor_id: str, suno: str) -> None:
        with self._c.sessions.begin() as session:
            xref.link(session, "supplier", cono=self._c.settings.m3_cono, bng_key=bng_vendor_id, m3_key=suno)


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type=BNG_BUSINESS_ERROR, non_retryable=True)
