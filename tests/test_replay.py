"""Documents in flight survive a release: recorded histories replay against today's workflow code.

tests/histories/<WorkflowType>/<name>.json are real executions of every workflow type on the
test stack: finished, parked and decided, and still waiting (``python -m tests.histories.record``
records them again). Each is replayed with the worker's workflows and production's converter;
a change to workflow code that alters the commands it issues, without ``workflow.patched``, fails
here. The last tests show that it would: a changed copy of OrderToCashWorkflow fails to replay a
recorded order, and the same change behind ``workflow.patched`` replays.

No server, port or clock is involved: replay runs the workflow code against the stored events.
"""

from __future__ import annotations

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.histories import incompatible
from tests.histories.recording import history_files, load_history, load_index, replayer
from worker import WORKFLOWS

INDEX = load_index()
RECORDED = sorted(INDEX)
# A finished order: through every stage, BNG told at each one.
PAID_ORDER = "OrderToCashWorkflow/paid.json"


def test_every_workflow_type_the_worker_runs_has_recorded_histories() -> None:
    recorded = {entry.workflow_type for entry in INDEX.values()}
    missing = sorted({workflow.__name__ for workflow in WORKFLOWS} - recorded)
    assert not missing, f"no recorded history for {missing}: add a scenario to tests/histories/scenarios.py"


def test_the_index_names_every_history_file_and_its_type() -> None:
    assert history_files() == RECORDED
    for name, entry in INDEX.items():
        assert name.split("/")[0] == entry.workflow_type
        history = load_history(name, entry)
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.workflow_type.name == entry.workflow_type
        assert len(history.events) == entry.events


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_history_replays_against_the_current_code(name: str) -> None:
    await replayer().replay_workflow(load_history(name, INDEX[name]))


@pytest.mark.parametrize(
    ("variant", "says"),
    [
        (
            incompatible.IncompatibleExtraFirstStep,
            "Activity type of scheduled event 'transform_order' does not match activity type of "
            "activity command 'audit_order'",
        ),
        (incompatible.IncompatibleDroppedStatusPush, "No command scheduled for event"),
    ],
)
async def test_an_incompatible_change_to_the_order_workflow_fails_replay(variant: type, says: str) -> None:
    history = load_history(PAID_ORDER, INDEX[PAID_ORDER])
    with pytest.raises(NondeterminismError) as failure:
        await Replayer(workflows=[variant], data_converter=pydantic_data_converter).replay_workflow(history)
    assert "[TMPRL1100]" in str(failure.value) and says in str(failure.value)


@pytest.mark.parametrize("name", [name for name in RECORDED if name.startswith("OrderToCashWorkflow/")])
async def test_the_same_change_behind_workflow_patched_replays(name: str) -> None:
    patched = Replayer(workflows=[incompatible.PatchedExtraFirstStep], data_converter=pydantic_data_converter)
    await patched.replay_workflow(load_history(name, INDEX[name]))
