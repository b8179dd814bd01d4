"""The write protocol's decisions, one by one: when to write, when a lost answer is success."""

from __future__ import annotations

import pytest

from activities.exactly_once import holds, write_once
from clients.bng.errors import BngAmbiguousWriteError, BngConflictError
from clients.m3.errors import M3AmbiguousWriteError, M3BusinessError


class System:
    """One record a write may create; ``commit_then_lose`` plays the gateway losing the answer."""

    def __init__(self, *, commit_then_lose: bool = False, exists: bool = False) -> None:
        self.records: list[str] = ["ours"] if exists else []
        self.writes = 0
        self.commit_then_lose = commit_then_lose

    async def find(self) -> str | None:
        return self.records[0] if self.records else None

    async def write(self) -> str:
        self.writes += 1
        self.records.append("ours")
        if self.commit_then_lose:
            raise M3AmbiguousWriteError("OIS100MI/AddBatchHead: outcome unknown (504)", status_code=504)
        return "ours"


async def test_nothing_is_written_when_the_effect_is_there() -> None:
    system = System(exists=True)
    assert await write_once("x", find=system.find, write=system.write) == "ours"
    assert system.writes == 0


async def test_a_lost_answer_whose_write_committed_is_success_without_a_second_write() -> None:
    system = System(commit_then_lose=True)
    assert await write_once("x", find=system.find, write=system.write) == "ours"
    assert system.writes == 1 and system.records == ["ours"]


async def test_a_lost_answer_whose_write_did_not_commit_is_raised_for_a_later_retry() -> None:
    async def lost() -> str:
        raise BngAmbiguousWriteError("PATCH: outcome unknown", status_code=502)

    system = System()
    with pytest.raises(BngAmbiguousWriteError):
        await write_once("x", find=system.find, write=lost)


async def test_already_exists_is_success_only_when_the_look_proves_it_is_ours() -> None:
    async def refused() -> str:
        raise M3BusinessError(
            program="OIS100MI", transaction="AddBatchHead", code="XRE0103", message="exists"
        )

    with pytest.raises(M3BusinessError):  # nothing of ours found: a real refusal
        await write_once("x", find=System().find, write=refused)
    proved = System()

    async def refused_after_commit() -> str:
        proved.records.append("ours")
        return await refused()

    assert await write_once("x", find=proved.find, write=refused_after_commit) == "ours"


async def test_other_m3_refusals_are_never_taken_for_success() -> None:
    async def blocked() -> str:
        raise M3BusinessError(program="CRS610MI", transaction="Add", code="WCU0101", message="blocked")

    system = System()
    with pytest.raises(M3BusinessError):
        await write_once("x", find=system.find, write=blocked)


async def test_a_bng_conflict_counts_as_done_only_with_the_record_found() -> None:
    async def conflict() -> str:
        raise BngConflictError("409", status_code=409)

    with pytest.raises(BngConflictError):
        await write_once("x", find=System().find, write=conflict)
    assert await write_once("x", find=System(exists=True).find, write=conflict, look_first=False) == "ours"


@pytest.mark.parametrize(
    ("current", "wanted", "held"),
    [
        ({"CRL2": "5000.00"}, {"CRL2": "5000"}, True),
        ({"CUNM": "ACME GMBH  "}, {"CUNM": "Acme GmbH"}, True),
        ({"PONO": "1234"}, {"PONO": "01234"}, False),
        ({"Address": {"City": "Berlin", "Line1": "X"}}, {"Address": {"City": "Berlin"}}, True),
        ({"Address": {"City": "Bonn"}}, {"Address": {"City": "Berlin"}}, False),
        ({}, {"Phone": "+49"}, False),
        ({"Phone": None}, {"Phone": ""}, True),
    ],
)
def test_holds(current: dict[str, object], wanted: dict[str, object], held: bool) -> None:
    assert holds(current, wanted) is held
