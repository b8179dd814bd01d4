"""``/api/v1/journals``: manual GL journals from BNG's finance module.

Emits journal.created and journal.status_changed (m3bng's own status PUT, echoed), with the
ordering key ``journal:<JournalID>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from clients.bng.models import Journal, JournalStatus, JournalStatusUpdate
from sandbox.bng.api.deps import ApiClient, PagingParams, api_dependencies, idempotent, json
from sandbox.bng.state import Sandbox
from sandbox.bng.store import JOURNAL, Page

router = APIRouter(prefix="/journals", tags=["journals"], dependencies=api_dependencies)


@router.get("", response_model=Page)
async def list_journals(
    sandbox: Sandbox, paging: PagingParams, status: Annotated[JournalStatus | None, Query()] = None
) -> JSONResponse:
    equals = {"Status": status.value if status else None}
    page = sandbox.store.list_documents(JOURNAL, **paging.model_dump(), equals=equals)
    return json(page.model_dump(mode="json"))


@router.post("", status_code=201, response_model=Journal)
async def create_journal(
    request: Request, sandbox: Sandbox, client: ApiClient, journal: Journal
) -> JSONResponse:
    """A new journal (Received, two lines or more; 409 if the id exists); emits journal.created.

    BNG checks the form only (unique line numbers, a line is a debit or a credit); balance,
    accounts and open periods are M3's to check.
    """
    return await idempotent(request, sandbox, client, lambda: (201, sandbox.store.create_journal(journal)))


@router.get("/{journal_id}", response_model=Journal)
async def get_journal(sandbox: Sandbox, journal_id: str) -> JSONResponse:
    return json(sandbox.store.require(JOURNAL, journal_id))


@router.put("/{journal_id}/status", response_model=Journal)
async def set_journal_status(sandbox: Sandbox, journal_id: str, update: JournalStatusUpdate) -> JSONResponse:
    """M3's status for the journal; emits journal.status_changed.

    ExternalID is kept when left out; StatusReason is the update's (none clears it). The same
    update again changes nothing and emits nothing.
    """
    return json(sandbox.store.set_journal_status(journal_id, update))
