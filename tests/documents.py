"""Helpers the procure-to-pay and finance end-to-end tests share: views, waits, M3 reads, faults."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import Stack
from workflows.document_workflow import DocumentWorkflow
from workflows.documents import DocumentStage, DocumentType, DocumentView, document_workflow_id
from workflows.models import AcceptSuggestion, CancelOrder, FixPayload, Resume, SkipStep


async def view(stack: Stack, kind: DocumentType, bng_id: str) -> DocumentView:
    handle = stack.client.get_workflow_handle(document_workflow_id(kind, bng_id))
    return await handle.query(DocumentWorkflow.status)


async def wait_for(
    stack: Stack, kind: DocumentType, bng_id: str, *stages: DocumentStage, timeout: float = 45
) -> DocumentView:
    deadline = asyncio.get_running_loop().time() + timeout
    last: DocumentView | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await view(stack, kind, bng_id)
            if last.stage in stages:
                return last
        except Exception:  # not started yet
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{kind} {bng_id} never reached {stages}; last view: {last}")


async def wait_until(
    stack: Stack, kind: DocumentType, bng_id: str, check: Any, timeout: float = 45
) -> DocumentView:
    """Wait until ``check(view)`` holds (e.g. a timeline entry appeared)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: DocumentView | None = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await view(stack, kind, bng_id)
            if check(last):
                return last
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{kind} {bng_id}: condition never held; last view: {last}")


async def decide(
    stack: Stack,
    kind: DocumentType,
    bng_id: str,
    decision: FixPayload | Resume | SkipStep | CancelOrder | AcceptSuggestion,
) -> DocumentView:
    handle = stack.client.get_workflow_handle(document_workflow_id(kind, bng_id))
    update = {
        FixPayload: DocumentWorkflow.fix_payload,
        Resume: DocumentWorkflow.resume,
        SkipStep: DocumentWorkflow.skip,
        CancelOrder: DocumentWorkflow.cancel,
        AcceptSuggestion: DocumentWorkflow.accept_suggestion,
    }[type(decision)]
    return await handle.execute_update(update, decision)  # type: ignore[call-overload]


async def bng_get(stack: Stack, path: str) -> dict[str, Any]:
    response = await stack.bng.get(path)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def bng_post(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await stack.bng.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def m3_admin(stack: Stack, path: str) -> Any:
    response = await stack.m3.get(f"/_sandbox{path}")
    assert response.status_code == 200, response.text
    return response.json()


async def committed_calls(stack: Stack, program: str, transaction: str) -> list[dict[str, Any]]:
    """Calls M3 carried out (answered or not): a write here happened in M3."""
    return [c for c in await stack.m3_calls(program, transaction) if c["outcome"] in ("ok", "lost_answer")]


async def lost(stack: Stack, program: str, transaction: str) -> bool:
    return any(c["outcome"] == "lost_answer" for c in await stack.m3_calls(program, transaction))


async def wait_for_bng(
    stack: Stack, path: str, wanted: dict[str, Any], timeout: float = 30
) -> dict[str, Any]:
    """BNG's document at ``path`` once it holds ``wanted`` (a workflow's stage moves before its push)."""
    deadline = asyncio.get_running_loop().time() + timeout
    body: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        body = await bng_get(stack, path)
        if all(body.get(name) == value for name, value in wanted.items()):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"BNG {path} never held {wanted}; last: {body}")
