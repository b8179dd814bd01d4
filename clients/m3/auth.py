"""ION API OAuth 2.0 tokens for a Backend Service app (resource-owner grant with saak/sask).

The ``.ionapi`` file names the authorization server (``pu`` + ``ot``/``or``), the client (``ci``/``cs``,
sent as form fields: ION's token endpoint expects ``client_secret_post``) and the service account
(``saak``/``sask``, the password grant's username and password). authlib does the protocol
(``clients.oauth``); this module adds ION's settings and turns failures into M3 client errors.
"""

from __future__ import annotations

import httpx

from clients.m3.errors import M3AuthError, M3ProtocolError, M3TransientError
from clients.m3.ionapi import IonApiFile
from clients.oauth import (
    OAuthTokens,
    TokenEndpointError,
    TokenEndpointUnavailable,
    TokenRefused,
)


class IonApiTokenProvider:
    """Fetches, caches and renews the bearer token; concurrent callers share one fetch.

    The token is renewed ``refresh_margin`` seconds before it expires: with the refresh grant while
    ION gave a refresh token, else (or when ION refuses the refresh) with a new password grant.
    """

    def __init__(
        self,
        ionapi: IonApiFile,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        refresh_margin: int = 60,
    ) -> None:
        self._tokens = OAuthTokens(
            name="ionapi",
            token_endpoint=ionapi.token_url,
            revocation_endpoint=ionapi.revoke_url,
            client_id=ionapi.ci,
            client_secret=ionapi.cs.get_secret_value(),
            auth_method="client_secret_post",
            grant={
                "grant_type": "password",
                "username": ionapi.saak,
                "password": ionapi.sask.get_secret_value(),
            },
            transport=transport,
            timeout=timeout,
            leeway=refresh_margin,
        )

    async def get_token(self) -> str:
        """A valid access token, renewed when fewer than ``refresh_margin`` seconds remain."""
        try:
            return await self._tokens.get_token()
        except TokenEndpointError as exc:
            raise _m3_error(exc) from exc

    def invalidate(self, access_token: str | None = None) -> None:
        """Force a renewal on the next call (after a 401). The refresh token, if any, is kept."""
        self._tokens.invalidate(access_token)

    async def revoke(self) -> None:
        """Revoke the refresh and access tokens at ``pu + or`` (Basic ci:cs), then forget them."""
        await self._tokens.revoke()

    async def aclose(self) -> None:
        await self._tokens.aclose()


def _m3_error(exc: TokenEndpointError) -> Exception:
    if isinstance(exc, TokenEndpointUnavailable):
        # The M3 call that needed the token was not sent: it may be retried, even a write.
        return M3TransientError(
            str(exc), status_code=exc.status_code, retry_after=exc.retry_after, sent=False
        )
    if isinstance(exc, TokenRefused):
        return M3AuthError(str(exc))
    return M3ProtocolError(str(exc))
