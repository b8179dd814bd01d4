"""Deliberately changed copies of OrderToCashWorkflow, registered under its name, for the replay test.

They show what the replay test is for: a change that alters the commands a workflow issues breaks
the orders already running (``IncompatibleExtraFirstStep``, ``IncompatibleDroppedStatusPush``),
and the same change behind ``workflow.patched`` does not (``PatchedExtraFirstStep``).
Only the replay test uses them; no worker runs them.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from clients.bng.models import OrderStatus
    from workflows.models import OrderToCashInput, OrderToCashResult
    from workflows.order_to_cash import OrderToCashWorkflow

NAME = "OrderToCashWorkflow"


async def _audit(data: OrderToCashInput) -> None:
    """A new step, an activity the current workflow does not run."""
    await workflow.execute_activity(
        "audit_order", data.bng_order_id, start_to_close_timeout=timedelta(minutes=1)
    )


@workflow.defn(name=NAME)
class IncompatibleExtraFirstStep(OrderToCashWorkflow):
    """Runs one more activity before the first one (transform_order)."""

    @workflow.run
    async def run(self, data: OrderToCashInput) -> OrderToCashResult:
        await _audit(data)
        return await super().run(data)


@workflow.defn(name=NAME)
class IncompatibleDroppedStatusPush(OrderToCashWorkflow):
    """No longer tells BNG that the order was accepted (drops one activity)."""

    @workflow.run
    async def run(self, data: OrderToCashInput) -> OrderToCashResult:
        return await super().run(data)

    async def _push_status(self, status: OrderStatus) -> None:
        if status != OrderStatus.ACCEPTED:
            await super()._push_status(status)


@workflow.defn(name=NAME)
class PatchedExtraFirstStep(OrderToCashWorkflow):
    """The same new first step, released the safe way: orders started before it skip it."""

    @workflow.run
    async def run(self, data: OrderToCashInput) -> OrderToCashResult:
        if workflow.patched("audit-order"):
            await _audit(data)
        return await super().run(data)
