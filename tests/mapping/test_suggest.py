from __future__ import annotations

from mapping.suggest import suggest_mappings

M3_CUSTOMER_FIELDS = {
    "CUNO": "Customer number",
    "CUNM": "Customer name",
    "CUA1": "Address line 1",
    "TOWN": "City",
    "PONO": "Postal code",
    "CSCD": "Country",
    "PHNO": "Telephone number 1",
    "MAIL": "Email address",
    "YREF": "Your reference",
    "STAT": "Status",
}


def best(source: str) -> str:
    return suggest_mappings([source], M3_CUSTOMER_FIELDS)[source][0].target


def test_synonyms_win() -> None:
    [top, *_] = suggest_mappings(["Email"], M3_CUSTOMER_FIELDS)["Email"]
    assert (top.target, top.score) == ("MAIL", 1.0)
    assert best("Phone") == "PHNO"
    assert best("BillingAddress.PostalCode") == "PONO"
    assert best("BillingAddress.City") == "TOWN"


def test_description_similarity_without_a_synonym() -> None:
    assert best("CustomerID") == "CUNO"  # "customer id" ~ "Customer number"
    assert best("BillingAddress.Line1") == "CUA1"  # "line 1" ~ "Address line 1"


def test_limit_order_and_nothing_for_unrelated_fields() -> None:
    suggestions = suggest_mappings(["CustomerID", "TaxExemptFlagXYZ"], M3_CUSTOMER_FIELDS, limit=2)
    assert [s.target for s in suggestions["CustomerID"]] == ["CUNO", "CUNM"]
    scores = [s.score for s in suggestions["CustomerID"]]
    assert scores == sorted(scores, reverse=True)
    assert suggestions["TaxExemptFlagXYZ"] == []
