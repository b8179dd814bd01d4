"""How BNG authenticates callers: OAuth 2.0 client credentials, or an ``X-API-Key`` header."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from sandbox.bng.errors import ApiError
from sandbox.bng.state import Sandbox
from sandbox.bng.tokens import TokenResponse


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="bng"'})


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, client_secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, client_secret


token_router = APIRouter(tags=["auth"])


@token_router.post("/oauth/token", response_model=TokenResponse)
async def issue_token(
    request: Request,
    sandbox: Sandbox,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """OAuth 2.0 client credentials grant; credentials as HTTP Basic or as form fields."""
    if grant_type != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "only client_credentials is supported")
    credentials = _basic_credentials(request) or (client_id or "", client_secret or "")
    token = sandbox.tokens.issue(*credentials)
    # RFC 6749: token answers must not be cached.
    return JSONResponse(token.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


_bearer = HTTPBearer(auto_error=False, description="A token from POST /oauth/token")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


async def authenticate(
    request: Request,
    sandbox: Sandbox,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The caller's identity: its client id, or a fingerprint of its API key."""
    if bearer is not None:
        client_id = sandbox.tokens.client_for(bearer.credentials)
        if client_id is None:
            raise _unauthorized("invalid or expired access token")
        request.state.client = client_id
        return client_id
    if api_key is not None:
        known = sandbox.config.api_keys
        if not any(secrets.compare_digest(api_key.encode(), key.encode()) for key in known):
            raise _unauthorized("invalid API key")
        client = "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]
        request.state.client = client
        return client
    raise _unauthorized("missing credentials: Authorization: Bearer <token> or X-API-Key")


Client = Annotated[str, Depends(authenticate)]
