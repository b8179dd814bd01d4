"""``/api/v1/webhooks/endpoints``: where BNG sends its signed webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sandbox.bng import outbox
from sandbox.bng.api.deps import ApiClient, api_dependencies, idempotent, json
from sandbox.bng.db import WebhookEndpoint
from sandbox.bng.errors import not_found
from sandbox.bng.state import Sandbox


class EndpointRequest(BaseModel):
    url: str = Field(min_length=1, pattern=r"^https?://")
    events: list[str] = Field(default_factory=list, description="Event types; empty or '*' for all")


class EndpointCreated(BaseModel):
    id: str
    url: str
    events: list[str]
    secret: str


router = APIRouter(prefix="/webhooks/endpoints", tags=["webhooks"], dependencies=api_dependencies)


@router.post("", status_code=201, response_model=EndpointCreated)
async def register_endpoint(
    request: Request, sandbox: Sandbox, client: ApiClient, endpoint: EndpointRequest
) -> JSONResponse:
    """Register a receiver; the answer holds the secret its messages are signed with."""

    def action() -> tuple[int, object]:
        with sandbox.sessions.begin() as session:
            created = outbox.register_endpoint(session, endpoint.url, endpoint.events)
            answer = EndpointCreated(
                id=created.id, url=created.url, events=created.events, secret=created.secret
            )
        return 201, answer.model_dump()

    return await idempotent(request, sandbox, client, action)


@router.get("")
async def list_endpoints(sandbox: Sandbox) -> JSONResponse:
    with sandbox.sessions() as session:
        endpoints = session.query(WebhookEndpoint).order_by(WebhookEndpoint.id).all()
        items = [{"id": ep.id, "url": ep.url, "events": ep.events} for ep in endpoints]
    return json({"items": items})


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(sandbox: Sandbox, endpoint_id: str) -> None:
    with sandbox.sessions.begin() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise not_found("webhook endpoint", endpoint_id)
        session.delete(endpoint)
