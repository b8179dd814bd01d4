"""Master data over MI REST: customers (financial data, addresses, search), suppliers, items,
list paging with maxrecs, and the bulk seeding of items."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox_m3.conftest import v2_record
from tests.sandbox_m3.master_data_helpers import page_through, v2, v2_error, v2_rows

DEMO_CUSTOMERS = ["C000000001", "C000000002", "C000000003", "TEMPLATE"]


def add_customer(m3: httpx.Client, cuno: str, cunm: str, **fields: str) -> None:
    v2_record(m3, "CRS610MI", "Add", CUTM="TEMPLATE", CUNO=cuno, CUNM=cunm, CUA1="Street 1", **fields)


# Customers: financial data.
def test_get_financial_defaults_and_computed_amounts(m3: httpx.Client) -> None:
    record = v2_record(m3, "CRS610MI", "GetFinancial", CUNO="C000000002")

    assert {k: record[k] for k in ("CONO", "DIVI", "CUNO", "CUNM", "CUCD")} == {
        "CONO": "100",
        "DIVI": "AAA",
        "CUNO": "C000000002",
        "CUNM": "Pedal Partners Ltd",
        "CUCD": "GBP",
    }
    assert {k: record[k] for k in ("CRLM", "CRL2", "CRL3", "TXAP", "BLCD", "TOIN", "TBLG")} == {
        "CRLM": "0",
        "CRL2": "0",
        "CRL3": "0",
        "TXAP": "1",
        "BLCD": "0",
        "TOIN": "0",
        "TBLG": "0",
    }


def test_chg_financial_updates_credit_limits_tax_and_change_date(m3: httpx.Client) -> None:
    def lmts() -> int:
        return int(v2_rows(m3, "CRS610MI", "LstByNumber", CUNO="C000000001", maxrecs="1")[0]["LMTS"])

    before = lmts()

    v2_record(m3, "CRS610MI", "ChgFinancial", CUNO="C000000001", CRL2="5000.50", TXAP="0", BLCD="2")

    record = v2_record(m3, "CRS610MI", "GetFinancial", CUNO="C000000001")
    assert (record["CRLM"], record["CRL2"], record["TXAP"], record["BLCD"]) == ("0", "5000.50", "0", "2")
    assert record["LMDT"] == time.strftime("%Y%m%d", time.gmtime())
    assert lmts() > before
    assert v2_record(m3, "CRS610MI", "GetBasicData", CUNO="C000000001")["CUNM"] == "Velo Shop Berlin"


@pytest.mark.parametrize(
    ("fields", "code", "field", "message"),
    [
        ({"TXAP": "2"}, "WVA0101", "TXAP", "Value 2 in field TXAP is invalid, use 0 or 1"),
        ({"BLCD": "-1"}, "WVA0101", "BLCD", "Value -1 in field BLCD is invalid, use 0 to 9"),
        ({"CRL2": "-5"}, "WCR0101", "CRL2", "Credit limit -5 must not be negative"),
        ({"CRLM": "lots"}, "XNU0001", "CRLM", "Value lots in field CRLM is not numeric"),
    ],
)
def test_chg_financial_validates(
    m3: httpx.Client, fields: dict[str, str], code: str, field: str, message: str
) -> None:
    error = v2_error(m3, "CRS610MI", "ChgFinancial", CUNO="C000000001", **fields)

    assert (error["errorCode"], error["errorField"], error["errorMessage"]) == (code, field, message)
    assert v2_record(m3, "CRS610MI", "GetFinancial", CUNO="C000000001")["TXAP"] == "1"


def test_get_financial_of_an_unknown_customer(m3: httpx.Client) -> None:
    error = v2_error(m3, "CRS610MI", "GetFinancial", CUNO="NOBODY")

    assert (error["errorCode"], error["errorMessage"]) == ("WCU0203", "Customer number NOBODY does not exist")


# Customers: addresses.
ADDRESS = {
    "CUNO": "C000000001",
    "ADRT": "1",
    "ADID": "BNG",
    "CUNM": "Velo Shop Lager",
    "CUA1": "Lagerweg 5",
    "TOWN": "Berlin",
    "PONO": "10245",
    "CSCD": "DE",
}


def test_add_get_change_and_list_addresses(m3: httpx.Client) -> None:
    v2_record(m3, "CRS610MI", "AddAddress", **ADDRESS)
    v2_record(m3, "CRS610MI", "AddAddress", **{**ADDRESS, "ADRT": "3", "ADID": "INV", "CUA1": "Postfach 1"})

    record = v2_record(m3, "CRS610MI", "GetAddress", CUNO="C000000001", ADRT="1", ADID="BNG")
    assert {
        k: record[k] for k in ("CUNO", "ADRT", "ADID", "CUNM", "CUA1", "CUA2", "TOWN", "PONO", "CSCD")
    } == {
        "CUNO": "C000000001",
        "ADRT": "1",
        "ADID": "BNG",
        "CUNM": "Velo Shop Lager",
        "CUA1": "Lagerweg 5",
        "CUA2": "",
        "TOWN": "Berlin",
        "PONO": "10245",
        "CSCD": "DE",
    }

    v2_record(m3, "CRS610MI", "ChgAddress", CUNO="C000000001", ADRT="1", ADID="BNG", CUA1="Hof 2", CSCD="DE")
    changed = v2_record(m3, "CRS610MI", "GetAddress", CUNO="C000000001", ADRT="01", ADID="BNG")
    assert (changed["CUA1"], changed["TOWN"]) == ("Hof 2", "Berlin")  # what is not sent stays

    listed = v2_rows(m3, "CRS610MI", "LstAddresses", CUNO="C000000001")
    assert [(r["ADRT"], r["ADID"]) for r in listed] == [("1", "BNG"), ("3", "INV")]
    delivery = v2_rows(m3, "CRS610MI", "LstAddresses", CUNO="C000000001", ADRT="1")
    assert [r["ADID"] for r in delivery] == ["BNG"]
    assert v2_rows(m3, "CRS610MI", "LstAddresses", CUNO="C000000002") == []


def test_address_noks(m3: httpx.Client) -> None:
    v2_record(m3, "CRS610MI", "AddAddress", **ADDRESS)

    duplicate = v2_error(m3, "CRS610MI", "AddAddress", **ADDRESS)
    assert (duplicate["errorCode"], duplicate["errorField"]) == ("XRE0103", "ADID")
    missing = v2_error(m3, "CRS610MI", "AddAddress", **{**ADDRESS, "ADID": "X", "TOWN": ""})
    assert (missing["errorCode"], missing["errorField"], missing["errorType"]) == (
        "XMA0001",
        "TOWN",
        "MandatoryInputFieldNotFound",
    )
    absent = v2_error(m3, "CRS610MI", "GetAddress", CUNO="C000000001", ADRT="1", ADID="NOPE")
    assert (absent["errorCode"], absent["errorField"], absent["errorMessage"]) == (
        "WAD0203",
        "ADID",
        "Address NOPE of type 1 does not exist for customer C000000001",
    )
    change_absent = v2_error(m3, "CRS610MI", "ChgAddress", **{**ADDRESS, "ADRT": "2"})
    assert change_absent["errorCode"] == "WAD0203"
    bad_type = v2_error(m3, "CRS610MI", "AddAddress", **{**ADDRESS, "ADRT": "0"})
    assert (bad_type["errorCode"], bad_type["errorField"]) == ("WVA0101", "ADRT")
    no_customer = v2_error(m3, "CRS610MI", "AddAddress", **{**ADDRESS, "CUNO": "NOBODY"})
    assert no_customer["errorCode"] == "WCU0203"
    no_list = v2_error(m3, "CRS610MI", "LstAddresses", CUNO="NOBODY")
    assert no_list["errorCode"] == "WCU0203"


# Customers: search and paging.
def test_search_customer(m3: httpx.Client) -> None:
    add_customer(
        m3, "C000000010", "Velo Shop Hamburg", TOWN="Hamburg", PONO="20097", MAIL="Info@Velo-HH.example"
    )

    def search(query: str, **extra: str) -> list[str]:
        return [row["CUNO"] for row in v2_rows(m3, "CRS610MI", "SearchCustomer", SQRY=query, **extra)]

    assert search("CUNM:velo*") == ["C000000001", "C000000010"]
    assert search('CUNM:"velo shop berlin"') == ["C000000001"]
    assert search("CUNM:velo") == []  # no star: the whole name must match
    assert search('TOWN:Hamburg AND CUNM:"Velo*"') == ["C000000010"]
    assert search("TOWN:hamburg") == ["C000000003", "C000000010"]
    assert search("town:hamburg and pono:20097") == ["C000000010"]
    assert search("MAIL:info@velo-hh.example") == ["C000000010"]
    assert search("CUNO:C00000000*", maxrecs="2") == ["C000000001", "C000000002"]
    assert search("PONO:10%*") == []  # % is literal, not a wildcard
    row = v2_rows(m3, "CRS610MI", "SearchCustomer", SQRY="CUNO:C000000002")[0]
    assert (row["CUNM"], row["TOWN"], row["STAT"]) == ("Pedal Partners Ltd", "London", "20")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("CUNM velo", "expected FIELD:value at position 1"),
        ("CUNM:velo OR TOWN:Berlin", "expected AND at position 11"),
        ("CUNM:velo AND", "expected FIELD:value at position 14"),
        ("CUTP:1", "field CUTP cannot be searched, use CUNO, CUNM, MAIL, PONO, PHNO, TOWN"),
        ('CUNM:""', "no value for CUNM"),
    ],
)
def test_search_customer_bad_queries(m3: httpx.Client, query: str, problem: str) -> None:
    error = v2_error(m3, "CRS610MI", "SearchCustomer", SQRY=query)

    assert (error["errorCode"], error["errorField"]) == ("WSQ0101", "SQRY")
    assert error["errorMessage"] == f"Search query is invalid: {problem}"


def test_customer_lst_by_number_pages_with_maxrecs(m3: httpx.Client) -> None:
    for n in range(10, 17):
        add_customer(m3, f"C0000000{n}", f"Customer {n}")
    every = [row["CUNO"] for row in v2_rows(m3, "CRS610MI", "LstByNumber", maxrecs="0")]
    assert len(every) == len(DEMO_CUSTOMERS) + 7

    for maxrecs in (2, 3, 10, 11, 50):
        keys, _ = page_through(m3, "CRS610MI", "LstByNumber", "CUNO", maxrecs)
        assert keys == every, maxrecs


def test_maxrecs_caps_the_rows_on_v1_v2_and_bulk(m3: httpx.Client) -> None:
    v1 = m3.get("/execute/CRS610MI/LstByNumber;maxrecs=2", params={"CUNO": "C000000002"}).json()
    assert len(v1["MIRecord"]) == 2
    assert len(v2_rows(m3, "CRS610MI", "LstByNumber", maxrecs="3")) == 3
    bulk = m3.post(
        "/v2/execute",
        json={
            "program": "CRS610MI",
            "maxReturnedRecords": 1,
            "transactions": [{"transaction": "LstByNumber", "record": {}}],
        },
    ).json()
    assert len(bulk["results"][0]["records"]) == 1


# Suppliers.
SUPPLIER = {
    "SUNO": "S000000001",
    "SUNM": "Rahmenwerk Fahrradteile GmbH",
    "SUTY": "1",
    "CSCD": "DE",
    "LNCD": "DE",
    "CUCD": "EUR",
    "PHNO": "+49 711 400 800",
}


def test_supplier_add_get_update(m3: httpx.Client) -> None:
    v2_record(m3, "CRS620MI", "AddSupplier", **SUPPLIER)

    record = v2_record(m3, "CRS620MI", "GetBasicData", SUNO="S000000001")
    assert {
        k: record[k] for k in ("CONO", "SUNO", "SUNM", "SUTY", "STAT", "CSCD", "CUCD", "TEPY", "PHNO")
    } == {
        "CONO": "100",
        "SUNO": "S000000001",
        "SUNM": "Rahmenwerk Fahrradteile GmbH",
        "SUTY": "1",
        "STAT": "20",
        "CSCD": "DE",
        "CUCD": "EUR",
        "TEPY": "30",
        "PHNO": "+49 711 400 800",
    }

    v2_record(m3, "CRS620MI", "UpdSupplier", SUNO="S000000001", STAT="90", TEPY="60")
    updated = v2_record(m3, "CRS620MI", "GetBasicData", SUNO="S000000001")
    assert (updated["STAT"], updated["TEPY"], updated["SUNM"]) == ("90", "60", "Rahmenwerk Fahrradteile GmbH")


def test_supplier_noks(m3: httpx.Client) -> None:
    v2_record(m3, "CRS620MI", "AddSupplier", **SUPPLIER)

    duplicate = v2_error(m3, "CRS620MI", "AddSupplier", **SUPPLIER)
    assert (duplicate["errorCode"], duplicate["errorField"]) == ("XRE0103", "SUNO")
    missing = v2_error(m3, "CRS620MI", "AddSupplier", **{**SUPPLIER, "SUNO": "S2", "CUCD": ""})
    assert (missing["errorCode"], missing["errorField"]) == ("XMA0001", "CUCD")
    unknown = v2_error(m3, "CRS620MI", "UpdSupplier", SUNO="S999", SUNM="X")
    assert (unknown["errorCode"], unknown["errorField"], unknown["errorMessage"]) == (
        "WSU0203",
        "SUNO",
        "Supplier S999 does not exist",
    )
    assert v2_error(m3, "CRS620MI", "GetBasicData", SUNO="S999")["errorCode"] == "WSU0203"
    status = v2_error(m3, "CRS620MI", "UpdSupplier", SUNO="S000000001", STAT="50")
    assert (status["errorCode"], status["errorField"]) == ("WST0101", "STAT")


def test_supplier_lst_by_number_pages_with_maxrecs(m3: httpx.Client) -> None:
    numbers = [f"S{n:09d}" for n in range(1, 8)]
    for suno in reversed(numbers):
        v2_record(m3, "CRS620MI", "AddSupplier", **{**SUPPLIER, "SUNO": suno})

    assert [r["SUNO"] for r in v2_rows(m3, "CRS620MI", "LstByNumber", maxrecs="0")] == numbers
    for maxrecs in (2, 3, 7, 8):
        assert page_through(m3, "CRS620MI", "LstByNumber", "SUNO", maxrecs)[0] == numbers


# Items.
ITEM = {"STAT": "20", "ITNO": "BELL-2", "ITDS": "Bell", "UNMS": "EA", "ITTY": "FGD", "MABU": "2"}


def test_add_itm_basic_needs_the_realistic_fields(m3: httpx.Client) -> None:
    v2_record(m3, "MMS200MI", "AddItmBasic", **ITEM)  # RESP and PRVG come from the template
    record = v2_record(m3, "MMS200MI", "GetItmBasic", ITNO="BELL-2")
    assert (record["ITTY"], record["RESP"], record["PRVG"], record["MABU"]) == ("FGD", "SANDBOX", "STD", "2")

    for name in ("ITNO", "ITDS", "UNMS", "ITTY", "STAT", "MABU"):
        error = v2_error(m3, "MMS200MI", "AddItmBasic", **{**ITEM, "ITNO": "BELL-3", name: ""})
        assert (error["errorCode"], error["errorField"]) == ("XMA0001", name)
    make_buy = v2_error(m3, "MMS200MI", "AddItmBasic", **{**ITEM, "ITNO": "BELL-3", "MABU": "3"})
    assert (make_buy["errorCode"], make_buy["errorField"]) == ("WVA0101", "MABU")
    status = v2_error(m3, "MMS200MI", "AddItmBasic", **{**ITEM, "ITNO": "BELL-3", "STAT": "55"})
    assert (status["errorCode"], status["errorField"]) == ("WST0101", "STAT")
    assert v2(m3, "MMS200MI", "GetItmBasic", ITNO="BELL-3").status_code == 400


def test_seed_items_then_page_items_and_balance_ids(m3: httpx.Client, admin: httpx.Client) -> None:
    seeded = admin.post(
        "/seed-items", json={"count": 250, "prefix": "PG-", "warehouse": "200", "quantity": 7}
    )
    assert seeded.json() == {"created": 250}

    every = [row["ITNO"] for row in v2_rows(m3, "MMS200MI", "LstItmByItm", maxrecs="0")]
    assert len(every) == 14 + 250
    # Without maxrecs the protocol default (100) applies.
    assert len(v2_rows(m3, "MMS200MI", "LstItmByItm")) == 100
    keys, calls = page_through(m3, "MMS200MI", "LstItmByItm", "ITNO", 100)
    assert (keys, calls) == (every, 3)

    balances = [row["ITNO"] for row in v2_rows(m3, "MMS060MI", "List", WHLO="200", maxrecs="0")]
    assert len(balances) == 13 + 250  # the demo items but TRAILER-KID, plus the seeded ones
    assert page_through(m3, "MMS060MI", "List", "ITNO", 40, WHLO="200")[0] == balances
    row = v2_rows(m3, "MMS060MI", "List", WHLO="200", ITNO="PG-00001", maxrecs="1")[0]
    assert row == {
        "WHLO": "200",
        "ITNO": "PG-00001",
        "WHSL": "A-01-01",
        "BANO": "",
        "CAMU": "",
        "STAS": "2",
        "STQT": "7",
        "ALQT": "0",
    }


def test_seed_items_is_fast_idempotent_and_silent(m3: httpx.Client, admin: httpx.Client) -> None:
    started = time.monotonic()
    first = admin.post(
        "/seed-items", json={"count": 5000, "prefix": "BULK-", "warehouse": "100", "quantity": 12.5}
    )
    elapsed = time.monotonic() - started

    assert first.json() == {"created": 5000}
    assert elapsed < 3.0, elapsed
    again = admin.post(
        "/seed-items", json={"count": 5000, "prefix": "BULK-", "warehouse": "100", "quantity": 1}
    )
    assert again.json() == {"created": 0}
    assert admin.get("/outbox").json() == []
    balance = v2_record(m3, "MMS200MI", "GetItmWhsBal", WHLO="100", ITNO="BULK-05000")
    assert (balance["STQT"], balance["ALQT"]) == ("12.5", "0")
    assert v2_record(m3, "MMS200MI", "GetItmBasic", ITNO="BULK-00001")["STAT"] == "20"

    assert admin.post("/seed-items", json={"count": 1, "warehouse": "999"}).status_code == 404
    too_long = admin.post("/seed-items", json={"count": 1, "prefix": "ABCDEFGHIJK"})
    assert too_long.status_code == 422
