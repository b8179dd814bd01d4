"""BNG journals posted to the M3 general ledger through GLS840MI, end to end over HTTP.

One voucher per journal whatever is lost or retried; a journal that does not check out, or that
M3 refuses, parks with the reason (the difference, M3's text per line) and BNG sees it OnHold;
cancelled, BNG sees it Rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities import journal_check
from mapping.loader import load_lookups
from mapping.spec import LookupTable
from tests.conftest import Stack
from tests.test_exactly_once import lose_answers, lost_answers
from workflows.document_workflow import DocumentWorkflow
from workflows.documents import (
    DocumentInput,
    DocumentResult,
    DocumentStage,
    DocumentType,
    DocumentView,
    document_workflow_id,
)
from workflows.journal import JournalWorkflow
from workflows.models import CancelOrder, FixPayload, Resume


def a_journal(*lines: dict[str, Any], journal_date: str = "2026-03-15") -> dict[str, Any]:
    journal_id = f"JE-{uuid.uuid4().hex[:8].upper()}"
    return {
        "JournalID": journal_id,
        "JournalDate": journal_date,
        "Description": "Office supplies March",
        "Lines": list(lines)
        or [
            line(1, "OFFICE", debit="120.00", cost_center="HQ", text="Paper and toner"),
            line(2, "BANK", credit="120.00"),
        ],
    }


def line(
    number: int,
    account: str,
    *,
    debit: str = "0",
    credit: str = "0",
    cost_center: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    return {
        "LineNumber": number,
        "Account": account,
        "CostCenter": cost_center,
        "Debit": debit,
        "Credit": credit,
        "Currency": "EUR",
        "Description": text,
    }


async def post_journal(stack: Stack, journal: dict[str, Any]) -> WorkflowHandle[Any, DocumentResult]:
    """Create the journal in BNG, and start its workflow as the receiver would (or join it)."""
    response = await stack.bng.post("/api/v1/journals", json=journal)
    assert response.status_code == 201, response.text
    await start_document(stack, JournalWorkflow, DocumentType.JOURNAL, journal["JournalID"], journal)
    return stack.client.get_workflow_handle(
        document_workflow_id(DocumentType.JOURNAL, journal["JournalID"]), result_type=DocumentResult
    )


async def start_document(
    stack: Stack, workflow: type[DocumentWorkflow], kind: DocumentType, bng_id: str, payload: dict[str, Any]
) -> None:
    # Joined if the receiver routed the webhook first.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await stack.client.start_workflow(
            workflow.run,  # type: ignore[attr-defined]
            DocumentInput(bng_id=bng_id, payload=payload),
            id=document_workflow_id(kind, bng_id),
            task_queue=stack.settings.task_queue,
        )


async def wait_for(
    handle: WorkflowHandle[Any, DocumentResult], *stages: DocumentStage, timeout: float = 30
) -> DocumentView:
    deadline = asyncio.get_running_loop().time() + timeout
    last: DocumentView | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await handle.query(JournalWorkflow.status)
            if last.stage in stages:
                return last
        except Exception:  # not started yet
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never reached {stages}; last view: {last}")


async def vouchers(stack: Stack, key1: str) -> list[dict[str, Any]]:
    response = await stack.m3.get("/_sandbox/gl/vouchers", params={"key1": key1})
    assert response.status_code == 200, response.text
    return list(response.json())


async def bng_journal(stack: Stack, journal_id: str) -> dict[str, Any]:
    response = await stack.bng.get(f"/api/v1/journals/{journal_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def eventually_bng(stack: Stack, journal_id: str, status: str, timeout: float = 15) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    journal = await bng_journal(stack, journal_id)
    while journal["Status"] != status and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        journal = await bng_journal(stack, journal_id)
    assert journal["Status"] == status, journal
    return journal


async def test_a_journal_is_posted_as_one_voucher_and_bng_shows_it_posted(stack: Stack) -> None:
    journal = a_journal()
    handle = await post_journal(stack, journal)

    view = await wait_for(handle, DocumentStage.POSTED)

    key1 = f"J{journal['JournalID']}"
    assert view.m3_number == key1
    [voucher] = await vouchers(stack, key1)
    amounts = sorted((row["AIT1"], row["AIT2"], Decimal(str(row["CUAM"]))) for row in voucher["lines"])
    assert amounts == [("1910", "", Decimal("-120.00")), ("6110", "100", Decimal("120.00"))]
    assert all(str(row["VTXT"]).startswith(f"{key1} ") for row in voucher["lines"])
    bng = await eventually_bng(stack, journal["JournalID"], "Posted")
    assert bng["ExternalID"].startswith(key1) and str(voucher["VONO"]) in bng["ExternalID"]
    steps = [entry.step for entry in view.timeline]
    assert steps[:2] == ["Received", "Validated"] and steps[-1] == "Posted"
    assert "M3 voucher" in steps and "Status to BNG" in steps
    result = await handle.result()
    assert result.stage == DocumentStage.POSTED


async def test_an_unbalanced_journal_parks_naming_the_difference_and_a_cancel_rejects_it(
    stack: Stack,
) -> None:
    journal = a_journal(line(1, "OFFICE", debit="100.00"), line(2, "BANK", credit="90.00"))
    handle = await post_journal(stack, journal)

    parked = await wait_for(handle, DocumentStage.NEEDS_ATTENTION)

    assert parked.attention is not None and parked.attention.kind == "invalid_payload"
    assert "difference 10.00" in parked.attention.summary
    assert set(parked.attention.actions) == {"retry", "fix", "cancel"}
    on_hold = await eventually_bng(stack, journal["JournalID"], "OnHold")
    assert "difference 10.00" in on_hold["StatusReason"]

    await handle.execute_update(JournalWorkflow.cancel, CancelOrder(reason="entered twice, see JE-1"))
    result = await handle.result()
    assert result.stage == DocumentStage.CANCELLED
    rejected = await eventually_bng(stack, journal["JournalID"], "Rejected")
    assert rejected["StatusReason"] == "entered twice, see JE-1"
    assert await vouchers(stack, f"J{journal['JournalID']}") == []
    assert not [
        c
        for c in await stack.m3_calls("GLS840MI", "AddBatchHead")
        if c["record"].get("KEY1") == result.m3_number
    ]


async def test_a_corrected_journal_is_posted(stack: Stack) -> None:
    journal = a_journal(line(1, "OFFICE", debit="100.00"), line(2, "BANK", credit="90.00"))
    handle = await post_journal(stack, journal)
    await wait_for(handle, DocumentStage.NEEDS_ATTENTION)

    fixed = [line(1, "OFFICE", debit="90.00"), line(2, "BANK", credit="90.00")]
    await handle.execute_update(
        JournalWorkflow.fix_payload, FixPayload(payload={"Lines": fixed}, reason="typo")
    )

    view = await wait_for(handle, DocumentStage.POSTED)
    [voucher] = await vouchers(stack, f"J{journal['JournalID']}")
    assert {Decimal(str(row["CUAM"])) for row in voucher["lines"]} == {Decimal("90.00"), Decimal("-90.00")}
    assert "Corrected" in [entry.step for entry in view.timeline]


async def test_a_journal_in_a_closed_period_is_refused_before_m3(stack: Stack) -> None:
    journal = a_journal(journal_date="2025-12-31")
    handle = await post_journal(stack, journal)

    parked = await wait_for(handle, DocumentStage.NEEDS_ATTENTION)

    assert parked.attention is not None and parked.attention.kind == "invalid_payload"
    assert "closed period" in parked.attention.summary
    assert [issue.field for issue in parked.attention.issues] == ["JournalDate"]
    key1 = f"J{journal['JournalID']}"
    assert not [
        c for c in await stack.m3_calls("GLS840MI", "AddBatchHead") if c["record"].get("KEY1") == key1
    ]
    await handle.execute_update(JournalWorkflow.cancel, CancelOrder(reason="period closed"))
    await eventually_bng(stack, journal["JournalID"], "Rejected")


@pytest.fixture
def legacy_account(monkeypatch: pytest.MonkeyPatch) -> str:
    """An account m3bng maps (LEGACY -> 1999) that M3's chart of accounts does not have."""
    tables = load_lookups().model_copy(deep=True)
    accounts = tables.tables["gl_accounts"]
    tables.tables["gl_accounts"] = LookupTable(
        description=accounts.description, values={**accounts.values, "LEGACY": "1999"}
    )
    monkeypatch.setattr(journal_check, "load_lookups", lambda: tables)
    return "LEGACY"


async def test_m3_refusing_a_line_parks_with_its_message_per_line_and_a_fix_posts_a_new_batch(
    stack: Stack, legacy_account: str
) -> None:
    journal = a_journal(
        line(1, "OFFICE", debit="50.00"),
        line(2, legacy_account, debit="25.00"),
        line(3, "BANK", credit="75.00"),
    )
    handle = await post_journal(stack, journal)

    parked = await wait_for(handle, DocumentStage.NEEDS_ATTENTION)

    attention = parked.attention
    assert attention is not None and attention.kind == "m3_business_error"
    assert (attention.m3_program, attention.m3_transaction) == ("GLS840MI", "CtrlBatch")
    # M3's words, per line (and what follows for the batch: it no longer balances without line 2).
    assert (attention.issues[0].line, attention.issues[0].message) == (
        2,
        "line 2: account 1999 does not exist",
    )
    assert all(issue.line is None for issue in attention.issues[1:])
    on_hold = await eventually_bng(stack, journal["JournalID"], "OnHold")
    assert "line 2: account 1999 does not exist" in on_hold["StatusReason"]

    # The batch M3 holds cannot change: the corrected journal goes in a batch of its own.
    fixed = [line(1, "OFFICE", debit="50.00"), line(2, "IT", debit="25.00"), line(3, "BANK", credit="75.00")]
    await handle.execute_update(JournalWorkflow.fix_payload, FixPayload(payload={"Lines": fixed}))
    view = await wait_for(handle, DocumentStage.POSTED)

    first_key = f"J{journal['JournalID']}"
    assert view.m3_number and view.m3_number != first_key
    assert await vouchers(stack, first_key) == []
    [voucher] = await vouchers(stack, view.m3_number)
    assert sorted(row["AIT1"] for row in voucher["lines"]) == ["1910", "6110", "6540"]
    await eventually_bng(stack, journal["JournalID"], "Posted")


@pytest.fixture
async def m3_period_closed_until_april(stack: Stack) -> AsyncIterator[None]:
    """M3 closed March while m3bng's calendar still has it open."""
    response = await stack.m3.post("/_sandbox/config", json={"gl_open_from": "2026-04-01"})
    assert response.status_code == 200, response.text
    yield
    await stack.m3.post("/_sandbox/config", json={"gl_open_from": "2026-01-01"})


async def test_a_period_m3_closed_parks_each_line_and_a_retry_posts_the_same_batch(
    stack: Stack, m3_period_closed_until_april: None
) -> None:
    journal = a_journal()
    handle = await post_journal(stack, journal)

    parked = await wait_for(handle, DocumentStage.NEEDS_ATTENTION)

    assert parked.attention is not None and parked.attention.m3_transaction == "CtrlBatch"
    assert [issue.line for issue in parked.attention.issues] == [1, 2]
    assert all("closed period" in issue.message for issue in parked.attention.issues)

    await stack.m3.post("/_sandbox/config", json={"gl_open_from": "2026-01-01"})
    await handle.execute_update(JournalWorkflow.resume, Resume(reason="March reopened"))
    view = await wait_for(handle, DocumentStage.POSTED)

    assert view.m3_number == f"J{journal['JournalID']}"
    assert len(await vouchers(stack, view.m3_number)) == 1
    # The batch M3 already held was taken as it was: one head, two lines added once each.
    heads = [
        c
        for c in await stack.m3_calls("GLS840MI", "AddBatchHead")
        if c["record"].get("KEY1") == view.m3_number
    ]
    assert [c["outcome"] for c in heads] == ["ok", "nok"]


async def test_lost_answers_on_every_gls840_write_post_one_voucher(stack: Stack) -> None:
    await lose_answers(stack, "GLS840MI", "AddBatchHead", "AddBatchLine", "UpdBatch")
    journal = a_journal()
    handle = await post_journal(stack, journal)

    view = await wait_for(handle, DocumentStage.POSTED, timeout=60)

    key1 = f"J{journal['JournalID']}"
    for transaction in ("AddBatchHead", "AddBatchLine", "UpdBatch"):
        lost = [
            c for c in await lost_answers(stack, "GLS840MI", transaction) if c["record"].get("KEY1") == key1
        ]
        assert lost, f"{transaction} never lost its answer"
    [voucher] = await vouchers(stack, key1)
    assert len(voucher["lines"]) == 2
    assert view.m3_number == key1
    await eventually_bng(stack, journal["JournalID"], "Posted")
    assert (await stack.m3.get("/_sandbox/faults")).json() == []
