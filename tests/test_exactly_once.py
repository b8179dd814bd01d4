"""Every write under "commit, then lose the answer": M3 and BNG do the work, the gateway answers 504.

The sandboxes commit the write and then replace its answer with a gateway error, as an ION API
gateway does when M3 was slow. The product must look for the write's effect before writing again:
one order, no orphan batch orders, one payment, one adjustment.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from activities.master_data.m3_records import M3Customers
from clients.m3 import M3Client, load_ionapi
from tests.conftest import Stack
from tests.test_master_data import create_bng_customer, eventually, m3_call, m3_get, m3_knobs, settled
from tests.test_order_to_cash import demo_order
from workflows.models import Stage


async def lose_answers(stack: Stack, program: str, *transactions: str, count: int = 1) -> None:
    for transaction in transactions:
        response = await stack.m3.post(
            "/_sandbox/faults",
            json={
                "program": program,
                "transaction": transaction,
                "status": 504,
                "count": count,
                "after_commit": True,
            },
        )
        assert response.status_code == 200, response.text


async def lost_answers(stack: Stack, program: str, transaction: str) -> list[dict[str, Any]]:
    return [c for c in await stack.m3_calls(program, transaction) if c["outcome"] == "lost_answer"]


def m3_client(stack: Stack) -> M3Client:
    return M3Client(load_ionapi(stack.settings.m3_ionapi), cono=stack.settings.m3_cono)


async def test_lost_answers_while_creating_the_order_make_one_order_and_no_orphans(stack: Stack) -> None:
    await lose_answers(stack, "OIS100MI", "AddBatchHead", "AddBatchLine", "Confirm")
    order = demo_order(31001)
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED, timeout=60)

    for transaction in ("AddBatchHead", "AddBatchLine", "Confirm"):
        assert await lost_answers(stack, "OIS100MI", transaction), f"{transaction} never lost its answer"
    async with m3_client(stack) as m3:
        orders = await m3.execute("OIS100MI", "LstHead", {"CUNO": view.m3_customer_number}, maxrecs=0)
        mine = [row for row in orders if row.get("CUOR") == order["OrderID"]]
        assert [row["ORNO"] for row in mine] == [view.m3_order_number]
        batch = await m3.execute(
            "OIS100MI", "LstBatchHead", {"CUNO": view.m3_customer_number, "CUOR": order["OrderID"]}
        )
        assert [row for row in batch if row.get("CUOR") == order["OrderID"]] == []
        lines = await m3.execute("OIS100MI", "LstLine", {"ORNO": view.m3_order_number}, maxrecs=0)
    assert len(lines) == len(order["Lines"])


async def test_lost_answers_while_posting_the_payment_pay_once(stack: Stack) -> None:
    order = demo_order(31011)
    await stack.place_order(order)
    view = await stack.wait_for_stage(order["OrderID"], Stage.ORDER_CREATED, Stage.ALLOCATED)
    assert view.m3_order_number
    await lose_answers(stack, "ARS040MI", "AddBatchHead", "AddBatchLine", "ControlBatch")
    await stack.advance_m3(view.m3_order_number, steps=4)
    view = await stack.wait_for_stage(order["OrderID"], Stage.INVOICED)
    assert view.invoice is not None
    await stack.capture_payment(order["OrderID"], str(view.invoice.total_amount), view.invoice.currency)

    view = await stack.wait_for_stage(order["OrderID"], Stage.PAID, timeout=60)

    for transaction in ("AddBatchHead", "AddBatchLine", "ControlBatch"):
        assert await lost_answers(stack, "ARS040MI", transaction), f"{transaction} never lost its answer"
    assert view.invoice is not None
    ar = await stack.m3_open_item(view)
    # Paid once: the open amount is zero, not minus the total.
    assert Decimal(ar["OPAM"]) == 0 and Decimal(ar["CUAM"]) == view.invoice.total_amount
    # One batch for the one payment, however often its steps were sent.
    lines = await stack.m3_calls("ARS040MI", "AddBatchLine")
    pbids = {c["record"]["PBID"] for c in lines if c["record"].get("CINO") == view.invoice.invoice_number}
    assert len(pbids) == 1


async def test_lost_answers_on_bng_status_and_invoice_pushes_still_reach_paid(stack: Stack) -> None:
    order = demo_order(31021)
    # Several status pushes (PATCH) and one invoice (PUT): every PUT and two PATCHes lose their answer.
    for method, count in (("PATCH", 2), ("PUT", 1)):
        response = await stack.bng.post(
            "/_sandbox/faults",
            json={
                "method": method,
                "path_prefix": f"/api/v1/orders/{order['OrderID']}",
                "status": 504,
                "count": count,
                "after_commit": True,
            },
        )
        assert response.status_code in (200, 201), response.text
    await stack.place_order(order)

    view = await stack.drive_to_paid(order["OrderID"], timeout=60)

    bng_order = (await stack.bng.get(f"/api/v1/orders/{order['OrderID']}")).json()
    assert bng_order["OrderStatus"] == "Paid"
    assert view.invoice is not None and bng_order["Invoice"]["InvoiceNumber"] == view.invoice.invoice_number
    assert (await stack.bng.get("/_sandbox/faults")).json() == [], "the BNG faults were never hit"


async def test_lost_answers_on_customer_writes_make_one_customer_with_the_bng_values(stack: Stack) -> None:
    await lose_answers(stack, "CRS610MI", "Add", "ChgFinancial", "AddAddress")
    customer_id, cuno = await create_bng_customer(stack)

    for transaction in ("Add", "ChgFinancial", "AddAddress"):
        lost = [
            c for c in await lost_answers(stack, "CRS610MI", transaction) if c["record"].get("CUNO") == cuno
        ]
        assert lost, f"{transaction} of {cuno} never lost its answer"
    adds = [c for c in await stack.m3_calls("CRS610MI", "Add") if c["record"].get("CUNO") == cuno]
    assert len([c for c in adds if c["outcome"] in ("ok", "lost_answer")]) == 1
    financial = await m3_get(stack, "CRS610MI", "GetFinancial", CUNO=cuno)
    assert financial is not None and float(financial["CRL2"]) == 5000

    await lose_answers(stack, "CRS610MI", "ChgBasicData")
    response = await stack.bng.patch(f"/api/v1/customers/{customer_id}", json={"Phone": "+49 30 9999"})
    assert response.status_code == 200, response.text
    await eventually(lambda: _m3_field_is(stack, cuno, "PHNO", "+49 30 9999"), what="the phone number in M3")
    assert await lost_answers(stack, "CRS610MI", "ChgBasicData")


async def _m3_field_is(stack: Stack, cuno: str, field: str, value: str) -> bool:
    basic = await m3_get(stack, "CRS610MI", "GetBasicData", CUNO=cuno)
    return basic is not None and basic[field] == value


async def test_a_lost_stock_adjustment_answer_is_not_adjusted_twice(stack: Stack) -> None:
    before = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="BIKE-BLU-28")
    assert before is not None, "warehouse 300 (BNG's WMS) must stock BIKE-BLU-28 in the demo data"
    target = float(before["STQT"]) + 5
    await lose_answers(stack, "MMS850MI", "AddAdjust")
    response = await stack.bng.put(
        "/api/v1/inventory/BIKE-BLU-28/300",
        json={"QuantityOnHand": str(target), "QuantityAvailable": str(target)},
    )
    assert response.status_code == 200, response.text

    async def counted() -> bool:
        balance = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO="300", ITNO="BIKE-BLU-28")
        return balance is not None and float(balance["STQT"]) == target

    await eventually(counted, what="M3 adjusted to BNG's WMS count")
    assert await lost_answers(stack, "MMS850MI", "AddAdjust")
    await asyncio.sleep(1)  # a blind resend would land by now
    assert await counted(), "the adjustment was posted twice"


async def test_an_address_someone_added_since_the_look_is_changed_not_refused(stack: Stack) -> None:
    # Two writers (an order and the customer's own sync) create one customer at the same time:
    # the second finds the delivery address already added by the first.
    cuno = f"R{uuid.uuid4().hex[:9].upper()}"
    address = {"CUNO": cuno, "ADRT": "1", "ADID": stack.settings.m3_shipping_address_id}
    await m3_knobs(stack, master_data_bods=False)  # no sync of this M3 customer joins in
    try:
        await m3_call(stack, "CRS610MI", "Add", CUNO=cuno, CUTM="TEMPLATE", CUNM="Race Velo", CUA1="Weg 1")
    finally:
        await m3_knobs(stack, master_data_bods=True)
    await m3_call(
        stack,
        "CRS610MI",
        "AddAddress",
        **address,
        CUNM="Race Velo",
        CUA1="Lager 1",
        TOWN="Potsdam",
        PONO="14467",
        CSCD="DE",
    )
    shipping = {"SHIP_CUA1": "Lager 7", "SHIP_TOWN": "Bonn", "SHIP_PONO": "53111", "SHIP_CSCD": "DE"}

    async with m3_client(stack) as m3:
        customers = M3Customers(m3, stack.settings)
        await customers.change(cuno, shipping, {"CUNM": "Race Velo", **shipping}, current={})

    stored = await m3_get(stack, "CRS610MI", "GetAddress", **address)
    assert stored is not None and (stored["CUA1"], stored["TOWN"]) == ("Lager 7", "Bonn")


async def lose_bng_answers(stack: Stack, method: str, path_prefix: str, count: int = 1) -> None:
    response = await stack.bng.post(
        "/_sandbox/faults",
        json={
            "method": method,
            "path_prefix": path_prefix,
            "status": 504,
            "count": count,
            "after_commit": True,
        },
    )
    assert response.status_code in (200, 201), response.text


async def bng_faults_used_up(stack: Stack) -> bool:
    return (await stack.bng.get("/_sandbox/faults")).json() == []


async def test_a_lost_compensation_answer_deletes_the_batch_order_once(stack: Stack) -> None:
    order = demo_order(31031)
    # TRAILER-KID is an active item no warehouse stocks: AddBatchLine says NOK once the head exists.
    order["Lines"].append({"LineNumber": 98, "SKU": "TRAILER-KID", "Quantity": "1", "UnitPrice": "199.00"})
    await lose_answers(stack, "OIS100MI", "DelBatchHead")
    await stack.place_order(order)

    view = await stack.wait_for_stage(order["OrderID"], Stage.NEEDS_ATTENTION)
    assert view.attention is not None and view.attention.m3_transaction == "AddBatchLine"
    heads = [
        c
        for c in await stack.m3_calls("OIS100MI", "AddBatchHead")
        if c["record"].get("CUOR") == order["OrderID"]
    ]
    temp = heads[0]["response"]["ORNO"]
    deletes = [c for c in await stack.m3_calls("OIS100MI", "DelBatchHead") if c["record"].get("ORNO") == temp]
    # The answer was lost, the look found the batch gone: no second DelBatchHead.
    assert [c["outcome"] for c in deletes] == ["lost_answer"]
    assert "deleted" in view.attention.summary
    async with m3_client(stack) as m3:
        batch = await m3.execute(
            "OIS100MI", "LstBatchHead", {"CUNO": view.m3_customer_number, "CUOR": order["OrderID"]}
        )
    assert [row for row in batch if row.get("CUOR") == order["OrderID"]] == []


async def test_lost_answers_on_supplier_writes_make_one_supplier_and_reach_bng(stack: Stack) -> None:
    vendor_id = f"VEND-{uuid.uuid4().hex[:8].upper()}"
    await lose_answers(stack, "CRS620MI", "AddSupplier")
    await lose_bng_answers(stack, "PATCH", f"/api/v1/vendors/{vendor_id}")
    response = await stack.bng.post(
        "/api/v1/vendors",
        json={
            "VendorID": vendor_id,
            "Name": "Gears Ltd",
            "Phone": "+44 20 1",
            "Currency": "GBP",
            "Address": {"Line1": "1 Dock", "City": "London", "PostalCode": "E1", "Country": "GB"},
        },
    )
    assert response.status_code == 201, response.text
    suno = (await settled(stack, "supplier", vendor_id)).m3_key
    assert suno
    adds = [c for c in await stack.m3_calls("CRS620MI", "AddSupplier") if c["record"].get("SUNO") == suno]
    assert [c["outcome"] for c in adds] == ["lost_answer"]

    # M3's change reaches BNG through a PATCH whose answer is lost.
    await m3_call(stack, "CRS620MI", "UpdSupplier", SUNO=suno, SUNM="Gears Limited")
    await eventually(
        lambda: _bng_field_is(stack, f"/api/v1/vendors/{vendor_id}", "Name", "Gears Limited"),
        what="supplier name",
    )
    await eventually(lambda: bng_faults_used_up(stack), what="the vendor PATCH to lose its answer")


async def _bng_field_is(stack: Stack, path: str, field: str, value: Any) -> bool:
    response = await stack.bng.get(path)
    return response.status_code == 200 and response.json().get(field) == value


async def test_lost_answers_on_item_writes_create_one_product_and_change_m3_once(stack: Stack) -> None:
    sku = f"ITEM-{uuid.uuid4().hex[:8].upper()}"
    await lose_bng_answers(stack, "POST", "/api/v1/products")
    await m3_call(
        stack,
        "MMS200MI",
        "AddItmBasic",
        ITNO=sku,
        ITDS="Trail bell",
        UNMS="EA",
        ITTY="FGD",
        STAT="20",
        ITCL="A20",
        MABU="2",
    )
    await settled(stack, "product", sku)
    assert await bng_faults_used_up(stack), "the product POST never lost its answer"
    products = (await stack.bng.get("/api/v1/products", params={"sku_in": sku})).json()["items"]
    assert [p["SKU"] for p in products].count(sku) == 1

    await lose_answers(stack, "MMS200MI", "UpdItmBasic")
    response = await stack.bng.patch(f"/api/v1/products/{sku}", json={"Description": "Loud and clear"})
    assert response.status_code == 200

    async def description_in_m3() -> bool:
        return (await m3_get(stack, "MMS200MI", "GetItmBasic", ITNO=sku) or {}).get(
            "FUDS"
        ) == "Loud and clear"

    await eventually(description_in_m3, what="BNG's description in M3")
    updates = [c for c in await stack.m3_calls("MMS200MI", "UpdItmBasic") if c["record"].get("ITNO") == sku]
    assert [c["outcome"] for c in updates] == ["lost_answer"]


async def test_a_lost_inventory_answer_in_bng_still_leaves_bng_in_step(stack: Stack) -> None:
    # A PUT of the same level is a no-op in BNG, so a second write could not be seen here; what
    # this shows is that the lost answer neither fails nor parks the record.
    await lose_bng_answers(stack, "PUT", "/api/v1/inventory/BIKE-RED-26/100")
    await m3_call(
        stack,
        "MMS850MI",
        "AddAdjust",
        PRFL="*EXE",
        E0PA="WMS",
        E065="WMS",
        WHLO="100",
        ITNO="BIKE-RED-26",
        QLQT="2",
        RSCD="WMS",
    )
    balance = await m3_get(stack, "MMS200MI", "GetItmWhsBal", WHLO="100", ITNO="BIKE-RED-26")
    assert balance is not None

    async def level_matches() -> bool:
        response = await stack.bng.get("/api/v1/inventory/BIKE-RED-26/100")
        return response.status_code == 200 and float(response.json()["QuantityOnHand"]) == float(
            balance["STQT"]
        )

    await eventually(level_matches, what="BNG inventory to follow M3")
    await eventually(lambda: bng_faults_used_up(stack), what="the inventory PUT to lose its answer")
