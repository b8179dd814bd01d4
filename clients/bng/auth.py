"""How the BNG client authenticates: OAuth 2.0 client credentials, or an API key.

Both are ``httpx.Auth`` flows, so the token request goes through the client's own transport and
the retry of a request after a 401 is transparent to the caller.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncGenerator, Generator

import httpx
import structlog
from pydantic import BaseModel

from clients.bng.errors import BngAuthError, error_from_response

log = structlog.get_logger(__name__)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = 3600


class ClientCredentialsAuth(httpx.Auth):
    """Bearer tokens from ``token_url``, cached and refreshed ``refresh_margin`` seconds early.

    On a 401 the cached token is dropped and the request is sent once more with a fresh one: BNG
    may revoke tokens before they expire (a restart, a key rotation).
    """

    requires_response_body = True

    def __init__(
        self, token_url: str, client_id: str, client_secret: str, *, refresh_margin: float = 60.0
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        # One token request at a time: concurrent calls wait for it instead of each fetching one.
        self._lock = asyncio.Lock()

    def _valid_token(self) -> str | None:
        if self._token and time.monotonic() < self._expires_at - self._refresh_margin:
            return self._token
        return None

    def _token_request(self) -> httpx.Request:
        # Credentials in HTTP Basic, as RFC 6749 prefers over form fields.
        basic = base64.b64encode(f"{self._client_id}:{self._client_secret}".encode()).decode()
        return httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json", "Authorization": f"Basic {basic}"},
        )

    def _store(self, response: httpx.Response) -> str:
        if response.status_code in (400, 401, 403):
            status = response.status_code
            raise BngAuthError(f"BNG refused the client credentials ({status})", status_code=status)
        if response.is_error:
            raise error_from_response(response)
        token = TokenResponse.model_validate(response.json())
        self._token = token.access_token
        # A very short lifetime must still be usable once, whatever the margin.
        self._expires_at = time.monotonic() + max(token.expires_in, self._refresh_margin + 1)
        log.info("bng.token.fetched", expires_in=token.expires_in)
        return self._token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in (1, 2):
            async with self._lock:
                token = self._valid_token()
                if token is None:
                    token_response = yield self._token_request()
                    await token_response.aread()
                    token = self._store(token_response)
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or attempt == 2:
                return
            log.info("bng.token.rejected", action="refresh and retry once")
            async with self._lock:
                if self._token == token:
                    self._token = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentialsAuth is for httpx.AsyncClient only")


class ApiKeyAuth(httpx.Auth):
    """BNG's alternative to OAuth: a static key in ``X-API-Key``."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-API-Key"] = self._api_key
        yield request
