"""How the BNG client authenticates: OAuth 2.0 client credentials, or an API key.

Both are ``httpx.Auth`` flows, so the retry of a request after a 401 is transparent to the caller.
The tokens come from authlib (``clients.oauth``): the client credentials grant, credentials in HTTP
Basic as RFC 6749 prefers over form fields.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx
import structlog

from clients.bng.errors import BngAuthError, BngError, BngRateLimitedError, BngTransientError
from clients.oauth import OAuthTokens, TokenEndpointError, TokenEndpointUnavailable, TokenRefused

log = structlog.get_logger(__name__)


class ClientCredentialsAuth(httpx.Auth):
    """Bearer tokens from ``token_url``, cached and refreshed ``refresh_margin`` seconds early.

    On a 401 the token is dropped and the request is sent once more with a fresh one: BNG may
    revoke tokens before they expire (a restart, a key rotation). The token requests use their own
    connection pool on the same ``transport``; ``aclose`` closes it.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin: int = 60,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._tokens = OAuthTokens(
            name="bng",
            token_endpoint=token_url,
            client_id=client_id,
            client_secret=client_secret,
            auth_method="client_secret_basic",
            grant={"grant_type": "client_credentials"},
            transport=transport,
            timeout=timeout,
            leeway=refresh_margin,
        )

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in (1, 2):
            token = await self._token()
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code != 401 or attempt == 2:
                return
            log.info("bng.token.rejected", action="refresh and retry once")
            self._tokens.invalidate(token)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentialsAuth is for httpx.AsyncClient only")

    async def aclose(self) -> None:
        await self._tokens.aclose()

    async def _token(self) -> str:
        try:
            return await self._tokens.get_token()
        except TokenEndpointUnavailable as exc:
            # The API request that needed the token has not been sent, so even a write may be resent.
            if exc.status_code == 429:
                raise BngRateLimitedError(f"BNG token endpoint: {exc}", retry_after=exc.retry_after) from exc
            raise BngTransientError(
                f"BNG token endpoint: {exc}",
                status_code=exc.status_code,
                retry_after=exc.retry_after,
                sent=False,
            ) from exc
        except TokenRefused as exc:
            status = exc.status_code
            raise BngAuthError(f"BNG refused the client credentials ({exc})", status_code=status) from exc
        except TokenEndpointError as exc:
            raise BngError(f"BNG token endpoint: {exc}") from exc


class ApiKeyAuth(httpx.Auth):
    """BNG's alternative to OAuth: a static key in ``X-API-Key``."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-API-Key"] = self._api_key
        yield request
