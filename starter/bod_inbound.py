"""ION BODs in, over the IMS v3 protocol (bidirectional IMS): each BOD signals its workflow.

ION posts a multipart message with a ``ParameterRequest`` (JSON) and a ``MessagePayload`` (the
BOD). The caller is authenticated first (``starter.ims_auth``), before the body is read; then
the size and content type are checked, the message parsed, and the BOD handed to routing. A BOD
routing cannot place (an order m3bng did not place, a closed workflow, a noun not handled) is
kept as a dead letter and acknowledged with 202.

``/service/ping`` and ``/service/protocol`` stay open: they read no body, return constants, and
ION (or an operator) calls them to check the connection point.
"""

from __future__ import annotations

from typing import Literal

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from clients import metrics
from clients.ion import IonError, parse_multipart
from starter.edges import require_content_type
from starter.routing import Router, keep_dead_letter, order_event, route_bod_xml
from storage.models import EventSource

__all__ = ["ImsAck", "order_event", "router"]

log = structlog.get_logger("bod_inbound")
router = APIRouter(prefix="/ims")


async def authenticate(request: Request) -> None:
    await request.app.state.ims_auth(request)


class ImsAck(BaseModel):
    outcome: Literal["signalled", "ignored", "dead-letter"]
    workflow_id: str | None = None
    workflow_ids: list[str] = []
    dead_letter_id: int | None = None
    detail: str = ""


@router.get("/service/ping")
async def ping() -> dict[str, str]:
    return {"status": "OK"}


@router.get("/service/protocol")
async def protocol() -> dict[str, object]:
    return {"messageMethod": "multipartMessage", "version": "v3", "hasDiscovery": False}


@router.post(
    "/v3/multipartMessage",
    status_code=202,
    response_model=ImsAck,
    # In this order: who is calling, then what it sends; only then is the body read.
    dependencies=[Depends(authenticate), Depends(require_content_type("multipart/"))],
)
@router.post(
    "/v3/message/multipart",
    status_code=202,
    response_model=ImsAck,
    dependencies=[Depends(authenticate), Depends(require_content_type("multipart/"))],
)
async def receive_message(request: Request) -> ImsAck:
    body = await request.body()  # at most receiver_max_body_bytes: BodyLimitMiddleware
    try:
        params, xml = parse_multipart(request.headers.get("content-type", ""), body)
        routing: Router = request.app.state.router
        routed = await route_bod_xml(routing, xml)
    except IonError as error:
        # IMS v3: 400 is "malformed message"; ION reports it instead of retrying for ever.
        raise HTTPException(status_code=400, detail=str(error)) from error
    metrics.count_routed(EventSource.ION_BOD, routed.outcome, routed.event_type)
    if not routed.dead:
        return ImsAck(
            outcome="signalled" if routed.outcome == "signalled" else "ignored",
            workflow_id=routed.workflow_id,
            workflow_ids=routed.workflow_ids,
            detail=routed.detail,
        )
    headers = {
        "messageId": params.messageId,
        "documentName": params.documentName,
        "fromLogicalId": params.fromLogicalId,
    }
    # The BOD id when it parsed, else ION's message id: a redelivery finds the same dead letter.
    event_id = routed.event_id or f"ims:{params.messageId}"
    dead_letter_id = await keep_dead_letter(
        routing, routed, source=EventSource.ION_BOD, body=xml, event_id=event_id, headers=headers
    )
    return ImsAck(
        outcome="dead-letter",
        workflow_id=routed.workflow_id,
        dead_letter_id=dead_letter_id,
        detail=routed.detail,
    )
