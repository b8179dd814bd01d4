"""BNG webhooks in: check the size and type, verify the signature, then hand over to routing.

Answers within milliseconds: nothing here waits for M3 or BNG, only for Temporal to record the
start or the signal, or for the store to keep a dead letter or (under load, see starter/intake.py)
to commit a new order to the intake inbox. What routing cannot place (not an
event, an unknown type, a payment for an order with no running workflow…) is kept as a dead
letter and acknowledged with 202, so BNG does not retry it and nothing is lost.
"""

from __future__ import annotations

from typing import Literal

import structlog
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from clients import metrics
from clients.bng.webhooks import HEADER_ID, HEADER_TIMESTAMP, WebhookVerificationError, verify
from starter.edges import require_content_type
from starter.routing import Router, keep_dead_letter, route_webhook
from storage.models import EventSource

log = structlog.get_logger("webhooks")
router = APIRouter()

# Headers kept with a dead letter; never the signature (nor any Authorization header).
KEPT_HEADERS = (HEADER_ID, HEADER_TIMESTAMP, "content-type", "user-agent")


class WebhookAck(BaseModel):
    # accepted: a new order kept in the intake inbox, its workflow started just after (intake.py)
    outcome: Literal["started", "accepted", "duplicate", "signalled", "ignored", "dead-letter"]
    workflow_id: str | None = None
    dead_letter_id: int | None = None
    detail: str = ""


_require_json = require_content_type("application/json")


@router.post("/webhooks/bng", status_code=202, response_model=WebhookAck)
async def bng_webhook(request: Request) -> WebhookAck:
    settings = request.app.state.settings
    body = await request.body()  # at most receiver_max_body_bytes (BodyLimitMiddleware), else 413
    try:
        verify(
            settings.bng_webhook_secret.get_secret_value(),
            request.headers,
            body,
            tolerance_seconds=settings.bng_webhook_tolerance_seconds,
        )
    except WebhookVerificationError as error:
        log.warning("webhook rejected", reason=str(error))
        raise HTTPException(status_code=401, detail=f"invalid webhook signature: {error}") from error
    # After the signature, so that an unsigned caller only ever learns "401".
    _require_json(request)

    routing: Router = request.app.state.router
    webhook_id = request.headers[HEADER_ID]
    routed = await route_webhook(routing, body, webhook_id, intake=request.app.state.intake)
    metrics.count_routed(EventSource.BNG_WEBHOOK, routed.outcome, routed.event_type)
    if not routed.dead:
        return WebhookAck(outcome=routed.outcome, workflow_id=routed.workflow_id, detail=routed.detail)
    headers = {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}
    dead_letter_id = await keep_dead_letter(
        routing, routed, source=EventSource.BNG_WEBHOOK, body=body, event_id=webhook_id, headers=headers
    )
    return WebhookAck(
        outcome="dead-letter",
        workflow_id=routed.workflow_id,
        dead_letter_id=dead_letter_id,
        detail=routed.detail,
    )
