"""Recognise the echo of m3bng's own creation in BNG before it costs a workflow.

Every record m3bng creates in BNG comes back as a webhook (``<kind>.created``, or
``inventory.updated`` for a new level). Routed like any event, each starts the record's entity
workflow only for it to find "echo": after a bulk load of 100,000 items that is 100,000 workflows
doing nothing, longer than the load itself. An event whose record is linked, synced exactly once
(the creation: version 1) and holds exactly that synced state can only be that echo, so it is
acknowledged without a workflow. Anything else (a later update, a deletion, a record synced since)
is routed as always: only a workflow may judge those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from activities.master_data.sync import KEY_CONTEXT
from mapping.ownership import from_bng
from storage import xref


def is_creation_echo(
    sessions: sessionmaker[Session], cono: int, entity: str, bng_key: str, record: Mapping[str, Any]
) -> bool:
    """True if BNG's ``record`` equals the state m3bng recorded when it created it, and nothing
    was synced since: the echo of m3bng's own create."""
    with sessions() as session:
        link = xref.find_link(session, entity, cono=cono, bng_key=bng_key)
        if link is None or link.version != 1 or not link.synced_state:
            return False
        synced, m3_key = dict(link.synced_state), link.m3_key
    context = {KEY_CONTEXT[entity]: m3_key} if entity in KEY_CONTEXT else {}
    projection = from_bng(entity, record, context)
    return not projection.errors and projection.values == synced
