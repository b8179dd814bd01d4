"""Master-data records in M3, one class per entity: read, create, change and list them with MI calls.

Every class speaks canonical field names (see ``mapping/maps/ownership.yaml``) to its callers
and the real M3 transactions to M3. A record M3 does not have reads as None: a Get answering NOK
on its key field is how M3 says "does not exist".
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Protocol

from activities.errors import M3_ALREADY_EXISTS
from activities.exactly_once import change_once, write_once
from clients.m3.bulk import M3Transaction, M3TransactionResult
from clients.m3.client import M3Client
from clients.m3.errors import M3BusinessError
from mapping.engine import apply_mapping
from mapping.loader import load_lookups, load_mapping
from mapping.ownership import Canonical
from settings import Settings


@dataclass(frozen=True)
class Page:
    """One page of a list transaction: records by M3 key, and the key to continue after."""

    records: dict[str, dict[str, str]]
    last_key: str | None


class M3Records(Protocol):
    entity: ClassVar[str]

    async def read(self, key: str) -> dict[str, str] | None: ...

    async def create(self, key: str, values: Canonical, bng_record: Mapping[str, object]) -> None: ...

    async def change(self, key: str, changes: Canonical, desired: Canonical, current: Canonical) -> None: ...

    async def page(self, after: str | None, size: int) -> Page: ...


def deterministic_key(prefix: str, bng_key: str) -> str:
    """A stable 10-character M3 number for a record m3bng creates, so a retried Add finds its own."""
    digest = hashlib.sha256(bng_key.encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:9]


def _missing(error: M3BusinessError, key_fields: tuple[str, ...]) -> bool:
    return error.field in key_fields or "does not exist" in error.message.lower()


async def _get(
    m3: M3Client, program: str, transaction: str, record: Mapping[str, str]
) -> dict[str, str] | None:
    try:
        return await m3.get_one(program, transaction, record)
    except M3BusinessError as error:
        if _missing(error, tuple(record)):
            return None
        raise


def _found(result: M3TransactionResult, key_fields: tuple[str, ...]) -> dict[str, str] | None:
    """The record of a Get inside a bulk request; None if M3 says it does not exist."""
    if result.error is not None:
        if _missing(result.error, key_fields):
            return None
        raise result.error
    return result.records[0] if result.records else None


async def _add(
    m3: M3Client,
    program: str,
    transaction: str,
    record: Mapping[str, str],
    find: Callable[[], Awaitable[dict[str, str] | None]],
) -> None:
    """Add a record whose key m3bng chose, exactly once: a record found under the key is ours."""

    async def add() -> dict[str, str]:
        await m3.execute(program, transaction, record, write=True)
        return dict(record)

    await write_once(f"{program}/{transaction}", find=find, write=add)


async def _change(
    m3: M3Client,
    program: str,
    transactions: list[M3Transaction],
    read: Callable[[], Awaitable[dict[str, str] | None]],
    wanted: Mapping[str, str],
) -> None:
    """Write a record's changed fields (one v2 bulk request when there are several), unless M3
    already holds the ``wanted`` values; after a lost answer, look again before writing again."""
    if not transactions:
        return

    async def write() -> None:
        if len(transactions) == 1:
            results = [await _one(m3, program, transactions[0])]
        else:
            results = await m3.bulk(program, transactions, write=True)
        for sent, result in zip(transactions, results, strict=True):
            if result.error is None:
                continue
            instead = _CHANGE_INSTEAD.get(sent.transaction)
            if instead is None or result.error.code != M3_ALREADY_EXISTS:
                raise result.error
            # Someone added it since we looked (another order, the record's own sync): change it.
            await m3.execute(program, instead, sent.record, write=True)

    names = ",".join(t.transaction for t in transactions)
    await change_once(f"{program}/{names}", read=read, wanted=wanted, write=write)


# An add that finds its record already there becomes this change, with the same fields.
_CHANGE_INSTEAD = {"AddAddress": "ChgAddress"}


async def _one(m3: M3Client, program: str, transaction: M3Transaction) -> M3TransactionResult:
    """One transaction, with its refusal as a result (like a bulk item) instead of raised."""
    try:
        records = await m3.execute(program, transaction.transaction, transaction.record, write=True)
    except M3BusinessError as error:
        return M3TransactionResult(transaction=transaction.transaction, records=[], error=error)
    return M3TransactionResult(transaction=transaction.transaction, records=records)


async def _list_page(
    m3: M3Client,
    program: str,
    transaction: str,
    key_field: str,
    after: str | None,
    size: int,
    record: Mapping[str, str] | None = None,
) -> Page:
    """M3 lists start AT the given key: ask for one more row and drop the one already seen."""
    rows = await m3.execute(
        program, transaction, {**(record or {}), key_field: after or ""}, maxrecs=size + 1
    )
    records: dict[str, dict[str, str]] = {}
    for row in rows:
        key = row.get(key_field, "")
        if after is not None and key <= after:
            continue
        records[key] = row
        if len(records) == size:
            break
    return Page(records=records, last_key=max(records) if len(records) == size else None)


def _mapped_for(transaction_fields: tuple[str, ...], values: Mapping[str, str]) -> dict[str, str]:
    return {name: values[name] for name in transaction_fields if values.get(name)}


class M3Customers:
    """CRS610MI: basic data, financial data (credit limit, tax) and the delivery address."""

    entity: ClassVar[str] = "customer"
    BASIC = ("CUNM", "CUA1", "CUA2", "CUA3", "CUA4", "PONO", "TOWN", "CSCD", "PHNO", "MAIL", "YREF", "STAT")
    ADD = ("CUNO", "CUTM", *BASIC, "CUCD", "LNCD")
    FINANCIAL = ("CRL2", "TXAP")
    SHIPPING = ("CUA1", "CUA2", "TOWN", "PONO", "CSCD")
    DELIVERY_ADDRESS = "1"

    def __init__(self, m3: M3Client, settings: Settings) -> None:
        self.m3 = m3
        self.settings = settings

    def _address_key(self, cuno: str) -> dict[str, str]:
        return {"CUNO": cuno, "ADRT": self.DELIVERY_ADDRESS, "ADID": self.settings.m3_shipping_address_id}

    async def exists(self, key: str) -> bool:
        return await _get(self.m3, "CRS610MI", "GetBasicData", {"CUNO": key}) is not None

    def _details(self, cuno: str) -> list[M3Transaction]:
        """What a customer list leaves out: financial data and the delivery address."""
        return [
            M3Transaction("GetFinancial", {"CUNO": cuno}),
            M3Transaction("GetAddress", self._address_key(cuno)),
        ]

    async def read(self, key: str) -> dict[str, str] | None:
        # One bulk request instead of three round trips: every inspected change reads a customer.
        basic, financial, address = await self.m3.bulk(
            "CRS610MI", [M3Transaction("GetBasicData", {"CUNO": key}), *self._details(key)]
        )
        found = _found(basic, ("CUNO",))
        if found is None:
            return None
        return self._merge(found, *self._found_details(financial, address))

    def _found_details(
        self, financial: M3TransactionResult, address: M3TransactionResult
    ) -> tuple[dict[str, str], dict[str, str]]:
        return _found(financial, ("CUNO",)) or {}, _found(address, ("CUNO", "ADRT", "ADID")) or {}

    def _merge(
        self, basic: Mapping[str, str], financial: Mapping[str, str], address: Mapping[str, str]
    ) -> dict[str, str]:
        record = dict(basic)
        record.update({name: financial.get(name, "") for name in self.FINANCIAL})
        record.update({f"SHIP_{name}": address.get(name, "") for name in self.SHIPPING})
        return record

    async def create(self, key: str, values: Canonical, bng_record: Mapping[str, object]) -> None:
        mapped = apply_mapping(
            load_mapping("customer.bng_to_m3"),
            bng_record,
            context={"CUNO": key, "CUTM": self.settings.m3_customer_template},
            lookups=load_lookups(),
        )
        record = _mapped_for(self.ADD, {**mapped.values, **values, "CUNO": key})
        await _add(self.m3, "CRS610MI", "Add", record, find=lambda: self.read(key))
        current = await self.read(key) or {}
        rest = {name: value for name, value in values.items() if name not in self.BASIC}
        await self.change(key, rest, values, current)

    async def change(self, key: str, changes: Canonical, desired: Canonical, current: Canonical) -> None:
        transactions: list[M3Transaction] = []
        basic = {name: value for name, value in changes.items() if name in self.BASIC}
        if basic:
            transactions.append(M3Transaction("ChgBasicData", {"CUNO": key, **basic}))
        financial = {name: value for name, value in changes.items() if name in self.FINANCIAL}
        if financial:
            transactions.append(M3Transaction("ChgFinancial", {"CUNO": key, **financial}))
        if any(name.startswith("SHIP_") for name in changes):
            address = {name: desired.get(f"SHIP_{name}", "") for name in self.SHIPPING}
            exists = any(current.get(f"SHIP_{name}") for name in self.SHIPPING)
            record = {**self._address_key(key), "CUNM": desired.get("CUNM", ""), **address}
            transactions.append(M3Transaction("ChgAddress" if exists else "AddAddress", record))
        wanted = {
            name: value for name, value in changes.items() if name in self.BASIC or name in self.FINANCIAL
        }
        wanted.update({f"SHIP_{name}": desired.get(f"SHIP_{name}", "") for name in self.SHIPPING})
        if not any(name.startswith("SHIP_") for name in changes):
            wanted = {name: value for name, value in wanted.items() if not name.startswith("SHIP_")}
        await _change(self.m3, "CRS610MI", transactions, lambda: self.read(key), wanted)

    async def page(self, after: str | None, size: int) -> Page:
        page = await _list_page(self.m3, "CRS610MI", "LstByNumber", "CUNO", after, size)
        if not page.records:
            return page
        # A list gives basic data only; the rest of the page's customers comes in one bulk request.
        keys = list(page.records)
        results = await self.m3.bulk("CRS610MI", [call for key in keys for call in self._details(key)])
        records = {
            key: self._merge(page.records[key], *self._found_details(results[2 * n], results[2 * n + 1]))
            for n, key in enumerate(keys)
        }
        return Page(records=records, last_key=page.last_key)

    async def search(self, criteria: Mapping[str, str], limit: int = 10) -> list[dict[str, str]]:
        """Customers whose fields equal ``criteria``: CRS610MI/SearchCustomer finds candidates
        (its output lacks most fields), each one's basic data confirms the exact match."""
        query = " AND ".join(f'{name}:"{value}"' for name, value in criteria.items())
        rows = await self.m3.execute("CRS610MI", "SearchCustomer", {"SQRY": query}, maxrecs=limit)
        matches = []
        for row in rows:
            basic = await _get(self.m3, "CRS610MI", "GetBasicData", {"CUNO": row["CUNO"]}) or {}
            if all(
                basic.get(name, "").strip().lower() == value.strip().lower()
                for name, value in criteria.items()
            ):
                matches.append(basic)
        return matches


class M3Items:
    """MMS200MI item basic data."""

    entity: ClassVar[str] = "product"
    UPDATABLE = ("ITDS", "FUDS", "ITCL", "UNMS", "STAT")
    ADD = ("ITNO", "ITDS", "FUDS", "ITCL", "UNMS", "STAT", "ITTY", "MABU")

    def __init__(self, m3: M3Client, settings: Settings) -> None:
        self.m3 = m3
        self.settings = settings

    async def read(self, key: str) -> dict[str, str] | None:
        return await _get(self.m3, "MMS200MI", "GetItmBasic", {"ITNO": key})

    async def create(self, key: str, values: Canonical, bng_record: Mapping[str, object]) -> None:
        mapped = apply_mapping(
            load_mapping("product.bng_to_m3"),
            bng_record,
            context={"ITTY": self.settings.m3_item_type},
            lookups=load_lookups(),
        )
        record = _mapped_for(self.ADD, {**mapped.values, **values, "ITNO": key})
        await _add(self.m3, "MMS200MI", "AddItmBasic", record, find=lambda: self.read(key))

    async def change(self, key: str, changes: Canonical, desired: Canonical, current: Canonical) -> None:
        fields = {name: value for name, value in changes.items() if name in self.UPDATABLE}
        update = [M3Transaction("UpdItmBasic", {"ITNO": key, **fields})] if fields else []
        await _change(self.m3, "MMS200MI", update, lambda: self.read(key), fields)

    async def page(self, after: str | None, size: int) -> Page:
        return await _list_page(self.m3, "MMS200MI", "LstItmByItm", "ITNO", after, size)


class M3Suppliers:
    """CRS620MI supplier basic data."""

    entity: ClassVar[str] = "supplier"
    UPDATABLE = ("SUNM", "PHNO", "CSCD", "CUCD", "TEPY", "STAT")

    def __init__(self, m3: M3Client, settings: Settings) -> None:
        self.m3 = m3
        self.settings = settings

    async def read(self, key: str) -> dict[str, str] | None:
        return await _get(self.m3, "CRS620MI", "GetBasicData", {"SUNO": key})

    async def create(self, key: str, values: Canonical, bng_record: Mapping[str, object]) -> None:
        # What a supplier template would give: type, language; the rest comes from the vendor.
        record = {
            "SUNO": key,
            "SUTY": self.settings.m3_supplier_type,
            "LNCD": self.settings.m3_language,
            **{name: value for name, value in values.items() if name in self.UPDATABLE and value},
        }
        await _add(self.m3, "CRS620MI", "AddSupplier", record, find=lambda: self.read(key))

    async def change(self, key: str, changes: Canonical, desired: Canonical, current: Canonical) -> None:
        fields = {name: value for name, value in changes.items() if name in self.UPDATABLE}
        update = [M3Transaction("UpdSupplier", {"SUNO": key, **fields})] if fields else []
        await _change(self.m3, "CRS620MI", update, lambda: self.read(key), fields)

    async def page(self, after: str | None, size: int) -> Page:
        return await _list_page(self.m3, "CRS620MI", "LstByNumber", "SUNO", after, size)


def inventory_key(sku: str, warehouse: str) -> str:
    """One key for an item's balance in one warehouse, the same in both systems: "SKU/WHLO"."""
    return f"{sku}/{warehouse}"


def split_inventory_key(key: str) -> tuple[str, str]:
    sku, _, warehouse = key.rpartition("/")
    return sku, warehouse


class M3Balances:
    """Warehouse balances: MMS200MI/GetItmWhsBal per item, MMS060MI/List per warehouse,
    MMS850MI/AddAdjust for the stock counts BNG's WMS owns."""

    entity: ClassVar[str] = "inventory"

    def __init__(self, m3: M3Client, settings: Settings) -> None:
        self.m3 = m3
        self.settings = settings

    async def read(self, key: str) -> dict[str, str] | None:
        itno, whlo = split_inventory_key(key)
        return await _get(self.m3, "MMS200MI", "GetItmWhsBal", {"WHLO": whlo, "ITNO": itno})

    async def create(self, key: str, values: Canonical, bng_record: Mapping[str, object]) -> None:
        raise NotImplementedError("a warehouse balance is never created from BNG (create_in_m3: false)")

    async def change(self, key: str, changes: Canonical, desired: Canonical, current: Canonical) -> None:
        if "STQT" not in changes:
            return  # available quantity follows from on-hand and allocations; M3 computes it
        itno, whlo = split_inventory_key(key)
        wanted = Decimal(changes["STQT"] or "0")
        delta = Decimal(0)

        async def counted() -> bool | None:
            # The delta comes from a fresh read: an adjustment that got through leaves none.
            nonlocal delta
            fresh = await self.read(key) or {}
            delta = wanted - Decimal(fresh.get("STQT") or "0")
            return True if delta == 0 else None

        async def adjust() -> bool:
            await self.m3.execute(
                "MMS850MI",
                "AddAdjust",
                {
                    "PRFL": "*EXE",
                    "E0PA": self.settings.m3_adjustment_reason,
                    "E065": self.settings.m3_adjustment_reason,
                    "WHLO": whlo,
                    "ITNO": itno,
                    "QLQT": format(delta, "f"),
                    "RSCD": self.settings.m3_adjustment_reason,
                },
                write=True,
            )
            return True

        await write_once(f"MMS850MI/AddAdjust {key}", find=counted, write=adjust)

    async def page(self, after: str | None, size: int) -> Page:
        """Balances of every configured warehouse, by "ITNO/WHLO", warehouse after warehouse."""
        warehouses = sorted(self.settings.m3_inventory_warehouses)
        itno_after, whlo = split_inventory_key(after) if after else ("", warehouses[0])
        records: dict[str, dict[str, str]] = {}
        for warehouse in warehouses[warehouses.index(whlo) :]:
            start = itno_after if warehouse == whlo else None
            page = await _list_page(
                self.m3, "MMS060MI", "List", "ITNO", start or None, size, {"WHLO": warehouse}
            )
            for itno, row in page.records.items():
                stqt, alqt = Decimal(row.get("STQT") or "0"), Decimal(row.get("ALQT") or "0")
                records[inventory_key(itno, warehouse)] = {
                    **row,
                    "STQT": format(stqt, "f"),
                    "AV01": format(stqt - alqt, "f"),
                }
            if page.last_key is not None:
                return Page(records=records, last_key=inventory_key(page.last_key, warehouse))
            if records:
                next_index = warehouses.index(warehouse) + 1
                last = inventory_key("", warehouses[next_index]) if next_index < len(warehouses) else None
                return Page(records=records, last_key=last)
        return Page(records=records, last_key=None)


def m3_records(entity: str, m3: M3Client, settings: Settings) -> M3Records:
    classes: dict[str, type[M3Customers | M3Items | M3Suppliers | M3Balances]] = {
        "customer": M3Customers,
        "product": M3Items,
        "supplier": M3Suppliers,
        "inventory": M3Balances,
    }
    return classes[entity](m3, settings)
