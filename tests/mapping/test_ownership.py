"""The sync planner: what ownership, the last synced state and both sides' values decide."""

from __future__ import annotations

import pytest

from mapping.ownership import (
    Owner,
    PlanAction,
    Side,
    bng_changes,
    entity_spec,
    from_bng,
    load_ownership,
    plan_sync,
)

CUSTOMER = entity_spec("customer")


def state(**fields: str) -> dict[str, str]:
    base = {name: "" for name in CUSTOMER.fields}
    base.update(CUNM="Velo", MAIL="a@velo.example", PHNO="1", STAT="20", CRL2="5000", CUA1="Weg 1")
    base.update(fields)
    return base


def test_every_entity_declares_maps_for_both_directions() -> None:
    for entity in load_ownership().entities:
        assert entity_spec(entity).fields
        from_bng(entity, {})  # the bng_to_m3 map loads
        assert bng_changes(entity, {}, set(), {}).values == {}


def test_a_change_on_the_owner_side_propagates() -> None:
    synced = state()
    plan = plan_sync(CUSTOMER, bng=state(CUA1="Weg 2"), m3=synced, synced=synced, origin=Side.BNG)
    assert plan.action is PlanAction.UPDATE
    assert plan.to_m3 == {"CUA1": "Weg 2"} and plan.to_bng == {}


def test_a_change_on_the_side_that_does_not_own_the_field_is_not_propagated_but_reverted() -> None:
    synced = state()
    plan = plan_sync(CUSTOMER, bng=state(CRL2="99999"), m3=synced, synced=synced, origin=Side.BNG)
    assert plan.to_m3 == {}
    assert plan.to_bng == {"CRL2": "5000"} and plan.not_owned == ["CRL2"]


def test_a_field_owned_by_both_follows_whichever_side_changed() -> None:
    synced = state()
    plan = plan_sync(CUSTOMER, bng=synced, m3=state(PHNO="2"), synced=synced, origin=Side.M3)
    assert plan.to_bng == {"PHNO": "2"} and plan.to_m3 == {}


def test_both_sides_changing_a_shared_field_is_a_conflict_with_both_versions() -> None:
    synced = state()
    plan = plan_sync(CUSTOMER, bng=state(PHNO="2", CUA1="Weg 9"), m3=state(PHNO="3"), synced=synced)
    assert plan.action is PlanAction.CONFLICT
    assert [(c.field, c.synced, c.bng, c.m3) for c in plan.conflicts] == [("PHNO", "1", "2", "3")]
    assert plan.to_m3 == plan.to_bng == {}  # nothing is written while parked


def test_an_operator_resolution_picks_the_winner() -> None:
    synced = state()
    plan = plan_sync(CUSTOMER, bng=state(PHNO="2"), m3=state(PHNO="3"), synced=synced, resolve=Side.M3)
    assert plan.action is PlanAction.UPDATE and plan.to_bng == {"PHNO": "3"}


def test_the_echo_of_our_own_write_changes_nothing() -> None:
    synced = state(PHNO="2")
    plan = plan_sync(CUSTOMER, bng=synced, m3=synced, synced=synced, origin=Side.M3)
    assert plan.action is PlanAction.IN_SYNC and plan.echo


def test_a_first_link_never_blanks_the_other_side() -> None:
    bng = state(CRL2="")
    m3 = state(CUA1="", CRL2="7000")
    plan = plan_sync(CUSTOMER, bng=bng, m3=m3, synced=None, origin=Side.BNG)
    assert plan.desired["CUA1"] == "Weg 1" and plan.desired["CRL2"] == "7000"


def test_missing_records_are_created_and_deleted_ones_deactivated() -> None:
    assert plan_sync(CUSTOMER, bng=state(), m3=None, synced=None).action is PlanAction.CREATE_IN_M3
    assert plan_sync(CUSTOMER, bng=None, m3=state(), synced=None).action is PlanAction.CREATE_IN_BNG
    plan = plan_sync(CUSTOMER, bng=None, m3=state(), synced=state())
    assert plan.action is PlanAction.DEACTIVATE_IN_M3 and plan.to_m3 == {"STAT": "90"}


@pytest.mark.parametrize(("warehouse", "owner"), [("100", Owner.M3), ("300", Owner.BNG)])
def test_bng_owns_the_counts_of_its_wms_warehouse(warehouse: str, owner: Owner) -> None:
    spec = entity_spec("inventory")
    assert spec.owner_of("STQT", {"WHLO": warehouse}) is owner
    assert spec.owner_of("AV01", {"WHLO": warehouse}) is Owner.M3


def test_bng_changes_touch_only_affected_fields_and_send_addresses_whole() -> None:
    current = {
        "Phone": "1",
        "ShippingAddress": {"Line1": "Old", "City": "Berlin", "PostalCode": "10115", "Country": "DE"},
    }
    desired = state(SHIP_CUA1="New", SHIP_TOWN="Berlin", SHIP_PONO="10115", SHIP_CSCD="DE")
    changes = bng_changes("customer", desired, {"SHIP_CUA1"}, current)
    assert changes.values == {
        "ShippingAddress": {"Line1": "New", "City": "Berlin", "PostalCode": "10115", "Country": "DE"}
    }


def test_a_bng_record_projects_to_m3_fields() -> None:
    projection = from_bng(
        "customer",
        {
            "CustomerID": "C1",
            "FirstName": "Ada",
            "LastName": "L",
            "Email": " a@x.example ",
            "CreditLimit": "5000.00",
            "TaxExemptStatus": "Exempt",
            "Status": "Blocked",
        },
    )
    assert projection.values["CUNM"] == "Ada L"
    assert (projection.values["MAIL"], projection.values["CRL2"]) == ("a@x.example", "5000")
    assert (projection.values["TXAP"], projection.values["STAT"]) == ("0", "90")
