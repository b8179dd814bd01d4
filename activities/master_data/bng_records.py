"""Master-data records in BNG, one class per entity: read, create, change and list them over REST.

Records travel as plain JSON dicts (``model_dump(mode="json")``), the form the mapping engine
reads; creating and changing validate through the BNG client's models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from activities.errors import INVALID_RECORD
from activities.exactly_once import change_once, write_once
from activities.master_data.m3_records import inventory_key, split_inventory_key
from clients.bng.client import BngClient, ListKind
from clients.bng.errors import BngNotFoundError
from clients.bng.models import Customer, Product, Vendor
from mapping.engine import FieldError

Record = dict[str, Any]


class BngRecords(Protocol):
    entity: ClassVar[str]
    # The BNG field that holds the M3 key once linked; None where the keys are the same.
    external_id_field: ClassVar[str | None]

    async def read(self, key: str) -> Record | None: ...

    async def create(self, key: str, m3_key: str, record: Mapping[str, Any]) -> None: ...

    async def change(self, key: str, changes: Mapping[str, Any]) -> None: ...

    async def page(self, cursor: str | None, size: int) -> tuple[dict[str, Record], str | None]: ...


# Objects BNG validates as a whole: one M3 cannot fill in completely is left out, not sent broken.
NESTED_OBJECTS = ("BillingAddress", "ShippingAddress", "Address")

ModelT = TypeVar("ModelT", bound=BaseModel)


def validated(model: type[ModelT], record: Mapping[str, Any]) -> ModelT:
    """``record`` as ``model``, without nested objects that do not validate; other problems are
    an invalid record, named field by field."""
    data = dict(record)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        broken = {str(problem["loc"][0]) for problem in error.errors() if problem["loc"]}
        if not broken or not broken <= set(NESTED_OBJECTS):
            errors = [
                FieldError(field=_path(p["loc"]), source=None, message=f"{_path(p['loc'])}: {p['msg']}")
                for p in error.errors()
            ]
            raise ApplicationError(
                f"{model.__name__} cannot be built: " + "; ".join(e.message for e in errors),
                [e.model_dump() for e in errors],
                type=INVALID_RECORD,
                non_retryable=True,
            ) from None
    for name in broken:
        data.pop(name, None)
    return model.model_validate(data)


def _path(location: tuple[int | str, ...]) -> str:
    return ".".join(map(str, location))


async def _read(fetch: Any) -> Record | None:
    try:
        model = await fetch
    except BngNotFoundError:
        return None
    result: Record = model.model_dump(mode="json")
    return result


class BngCustomers:
    entity: ClassVar[str] = "customer"
    external_id_field: ClassVar[str | None] = "ExternalID"

    def __init__(self, bng: BngClient) -> None:
        self.bng = bng

    async def read(self, key: str) -> Record | None:
        return await _read(self.bng.get_customer(key))

    async def create(self, key: str, m3_key: str, record: Mapping[str, Any]) -> None:
        customer = validated(Customer, {**record, "CustomerID": key, "ExternalID": m3_key})
        await _create(
            f"BNG customer {key}",
            lambda: self.read(key),
            lambda: self.bng.create_customer(customer, idempotency_key=f"m3bng-customer-{key}"),
        )

    async def change(self, key: str, changes: Mapping[str, Any]) -> None:
        await change_once(
            f"BNG customer {key}",
            read=lambda: self.read(key),
            wanted=changes,
            write=lambda: self.bng.update_customer(key, dict(changes)),
        )

    async def page(self, cursor: str | None, size: int) -> tuple[dict[str, Record], str | None]:
        return await _page(self.bng, "customers", lambda item: item["CustomerID"], cursor, size)


class BngProducts:
    entity: ClassVar[str] = "product"
    external_id_field: ClassVar[str | None] = None

    def __init__(self, bng: BngClient) -> None:
        self.bng = bng

    async def read(self, key: str) -> Record | None:
        return await _read(self.bng.get_product(key))

    async def create(self, key: str, m3_key: str, record: Mapping[str, Any]) -> None:
        product = validated(Product, {**record, "SKU": key, "ExternalID": m3_key})
        await _create(
            f"BNG product {key}",
            lambda: self.read(key),
            lambda: self.bng.create_product(product, idempotency_key=f"m3bng-product-{key}"),
        )

    async def change(self, key: str, changes: Mapping[str, Any]) -> None:
        await change_once(
            f"BNG product {key}",
            read=lambda: self.read(key),
            wanted=changes,
            write=lambda: self.bng.update_product(key, dict(changes)),
        )

    async def page(self, cursor: str | None, size: int) -> tuple[dict[str, Record], str | None]:
        return await _page(self.bng, "products", lambda item: item["SKU"], cursor, size)


class BngVendors:
    entity: ClassVar[str] = "supplier"
    external_id_field: ClassVar[str | None] = "ExternalID"

    def __init__(self, bng: BngClient) -> None:
        self.bng = bng

    async def read(self, key: str) -> Record | None:
        return await _read(self.bng.get_vendor(key))

    async def create(self, key: str, m3_key: str, record: Mapping[str, Any]) -> None:
        vendor = validated(Vendor, {**record, "VendorID": key, "ExternalID": m3_key})
        await _create(
            f"BNG vendor {key}",
            lambda: self.read(key),
            lambda: self.bng.create_vendor(vendor, idempotency_key=f"m3bng-vendor-{key}"),
        )

    async def change(self, key: str, changes: Mapping[str, Any]) -> None:
        await change_once(
            f"BNG vendor {key}",
            read=lambda: self.read(key),
            wanted=changes,
            write=lambda: self.bng.update_vendor(key, dict(changes)),
        )

    async def page(self, cursor: str | None, size: int) -> tuple[dict[str, Record], str | None]:
        return await _page(self.bng, "vendors", lambda item: item["VendorID"], cursor, size)


class BngInventory:
    """Inventory levels, keyed "SKU/Warehouse" like the M3 balances."""

    entity: ClassVar[str] = "inventory"
    external_id_field: ClassVar[str | None] = None

    def __init__(self, bng: BngClient) -> None:
        self.bng = bng

    async def read(self, key: str) -> Record | None:
        sku, warehouse = split_inventory_key(key)
        return await _read(self.bng.get_inventory(sku, warehouse))

    async def create(self, key: str, m3_key: str, record: Mapping[str, Any]) -> None:
        await self.change(key, record)

    async def change(self, key: str, changes: Mapping[str, Any]) -> None:
        sku, warehouse = split_inventory_key(key)
        current = await self.read(key) or {}
        level = {**current, **changes}
        on_hand = Decimal(str(level.get("QuantityOnHand") or 0))
        available = Decimal(str(level.get("QuantityAvailable") or 0))
        await change_once(
            f"BNG inventory {key}",
            read=lambda: self.read(key),
            wanted={"QuantityOnHand": on_hand, "QuantityAvailable": available},
            write=lambda: self.bng.set_inventory(sku, warehouse, on_hand, available),
        )

    async def page(self, cursor: str | None, size: int) -> tuple[dict[str, Record], str | None]:
        return await _page(
            self.bng, "inventory", lambda item: inventory_key(item["SKU"], item["Warehouse"]), cursor, size
        )


async def _create(
    what: str, read: Callable[[], Awaitable[Record | None]], create: Callable[[], Awaitable[object]]
) -> None:
    """Create a record under the key m3bng chose: a record found under it (before, after a lost
    answer, or behind a 409) is the one an earlier attempt created."""

    async def created() -> Record:
        await create()
        return {}

    await write_once(what, find=read, write=created)


async def _page(
    bng: BngClient, kind: ListKind, key_of: Callable[[Record], str], cursor: str | None, size: int
) -> tuple[dict[str, Record], str | None]:
    items, next_cursor = await bng.list_page(kind, cursor=cursor, page_size=size)
    return {key_of(item): item for item in items}, next_cursor


def external_id(bng_side: BngRecords, bng_raw: Mapping[str, Any] | None) -> str | None:
    """The M3 key a BNG record says it is linked to (its ExternalID), if the entity has one."""
    field = bng_side.external_id_field
    if field is None or bng_raw is None:
        return None
    value = bng_raw.get(field)
    return value if isinstance(value, str) and value else None


def bng_records(entity: str, bng: BngClient) -> BngRecords:
    classes: dict[str, type[BngCustomers | BngProducts | BngVendors | BngInventory]] = {
        "customer": BngCustomers,
        "product": BngProducts,
        "supplier": BngVendors,
        "inventory": BngInventory,
    }
    return classes[entity](bng)
