"""OAuth 2.0 access tokens for the M3 and BNG clients, through authlib's ``AsyncOAuth2Client``.

authlib does the protocol: it builds the grant requests (``password``, ``refresh_token``,
``client_credentials``), authenticates the client (``client_secret_post`` or ``client_secret_basic``),
parses the answer into an ``OAuth2Token`` (``expires_at``, the refresh token carried over when a
refresh answer has none, expiry with a leeway) and revokes tokens (RFC 7009).

What stays here is what authlib leaves to its caller:

- one token request at a time: concurrent callers wait for it instead of each fetching one;
- renewal: the refresh grant while there is a refresh token, the client's own grant again when
  there is none or the authorization server refuses it;
- ``invalidate`` after a 401: the API refused a token our clock still thought valid;
- the outcome as exceptions the clients translate into their own: ``TokenEndpointUnavailable``
  (429, 5xx, timeouts, no connection: try again later), ``TokenRefused`` (a 4xx or an OAuth
  ``error``: the credentials or the grant, a human must look) and ``TokenMalformed``. When the token
  endpoint fails, the API request that needed the token has not been sent.

authlib's httpx integration prefers ``httpx2`` when it is installed and warns that plain httpx is
deprecated. m3bng's clients are on httpx (their error classes decide what may be resent), so the
warning is silenced here and the import refuses to go on if authlib picked another HTTP library.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import OAuth2Token

from clients.retry import parse_retry_after

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

if not issubclass(AsyncOAuth2Client, httpx.AsyncClient):  # pragma: no cover - an environment problem
    raise ImportError(
        "authlib's AsyncOAuth2Client is not an httpx.AsyncClient (is httpx2 installed?); "
        "m3bng's clients need them to be the same library"
    )

log = structlog.get_logger(__name__)

ClientAuthMethod = Literal["client_secret_post", "client_secret_basic"]

# Explicit, so the form is plain application/x-www-form-urlencoded (authlib's default adds a charset).
_FORM_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


class TokenEndpointError(Exception):
    """The token endpoint did not issue a token. ``status_code`` is None without an HTTP answer."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        oauth_error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.oauth_error = oauth_error


class TokenEndpointUnavailable(TokenEndpointError):
    """429, 5xx, a timeout or no connection: the same request may succeed later."""


class TokenRefused(TokenEndpointError):
    """The authorization server said no (a 4xx, an OAuth ``error``): credentials or grant are wrong."""


class TokenMalformed(TokenEndpointError):
    """A 2xx answer without a usable ``access_token``."""


class OAuthTokens:
    """Access tokens from one token endpoint, renewed ``leeway`` seconds before they expire.

    ``grant`` is the client's own grant, e.g. ``{"grant_type": "client_credentials"}`` or the
    ``password`` grant with ``username`` and ``password``.
    """

    def __init__(
        self,
        *,
        name: str,
        token_endpoint: str,
        client_id: str,
        client_secret: str,
        auth_method: ClientAuthMethod,
        grant: Mapping[str, str],
        revocation_endpoint: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        leeway: int = 60,
        default_lifetime: int = 600,
    ) -> None:
        self._name = name
        self._grant = dict(grant)
        self._revocation_endpoint = revocation_endpoint
        self._leeway = leeway
        self._default_lifetime = default_lifetime
        self._oauth = AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=auth_method,
            # RFC 7009 asks for the client's credentials; ION's revoke endpoint takes HTTP Basic.
            revocation_endpoint_auth_method="client_secret_basic",
            token_endpoint=token_endpoint,
            grant_type=self._grant["grant_type"],
            leeway=leeway,
            transport=transport,
            timeout=timeout,
        )
        self._oauth.register_compliance_hook("access_token_response", self._check_response)
        self._oauth.register_compliance_hook("refresh_token_response", self._check_response)
        self._token: OAuth2Token | None = None
        self._lock = asyncio.Lock()

    async def get_token(self) -> str:
        """A valid access token, renewed when fewer than ``leeway`` seconds remain."""
        token = self._token
        if token is not None and not self._expiring(token):
            return str(token["access_token"])
        async with self._lock:
            # Another caller may have renewed it while we waited for the lock.
            token = self._token
            if token is None or self._expiring(token):
                # A lifetime shorter than the leeway still serves the call that fetched it.
                token = self._token = await self._renew(token)
            return str(token["access_token"])

    def invalidate(self, access_token: str | None = None) -> None:
        """Renew on the next call (after a 401), unless a newer token already replaced ``access_token``.

        The refresh token, if any, is kept: the next renewal tries the refresh grant first.
        """
        token = self._token
        if token is not None and access_token in (None, token["access_token"]):
            token["expires_at"] = 0

    async def revoke(self) -> None:
        """Revoke the refresh and access tokens (RFC 7009), then forget them. Failures are only logged."""
        token, self._token = self._token, None
        if token is None or self._revocation_endpoint is None:
            return
        for hint in ("refresh_token", "access_token"):
            value = token.get(hint)
            if not value:
                continue
            try:
                response = await self._oauth.revoke_token(
                    self._revocation_endpoint, token=value, token_type_hint=hint
                )
            except httpx.HTTPError as exc:
                log.warning(f"{self._name}.revoke_failed", token_type=hint, error=type(exc).__name__)
                continue
            if response.is_error:
                log.warning(f"{self._name}.revoke_failed", token_type=hint, status=response.status_code)

    async def aclose(self) -> None:
        await self._oauth.aclose()

    def _expiring(self, token: OAuth2Token) -> bool:
        return bool(token.is_expired(leeway=self._leeway))

    async def _renew(self, current: OAuth2Token | None) -> OAuth2Token:
        refresh_token = current.get("refresh_token") if current is not None else None
        if refresh_token:
            try:
                return await self._request("refresh_token", refresh_token=refresh_token)
            except TokenRefused as exc:
                # Refresh token expired or revoked: start over with the client's own grant.
                log.info(f"{self._name}.refresh_rejected", status=exc.status_code, error=exc.oauth_error)
        return await self._request(self._grant["grant_type"])

    async def _request(self, grant_type: str, *, refresh_token: str | None = None) -> OAuth2Token:
        started = time.monotonic()
        try:
            if refresh_token is not None:
                token = await self._oauth.refresh_token(
                    refresh_token=refresh_token, headers=dict(_FORM_HEADERS)
                )
            else:
                token = await self._oauth.fetch_token(headers=dict(_FORM_HEADERS), **self._grant)
        except httpx.TimeoutException as exc:
            raise TokenEndpointUnavailable("token endpoint timed out") from exc
        except httpx.TransportError as exc:
            raise TokenEndpointUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
        except (OAuthError, OAuth2Error) as exc:
            # An OAuth error in a 2xx answer: the codes (invalid_grant, invalid_client) are safe to show.
            error = str(getattr(exc, "error", "") or "no OAuth error code")
            raise TokenRefused(f"token request refused: {error}", oauth_error=error) from exc
        except ValueError as exc:
            raise TokenMalformed("token endpoint answered something other than a JSON object") from exc
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise TokenMalformed("token endpoint returned no access_token")
        if token.get("expires_at") is None:
            # No expires_in: assume a short life, so a wrong guess costs one extra request.
            token["expires_at"] = int(time.time()) + self._default_lifetime
        log.info(
            f"{self._name}.token",
            grant_type=grant_type,
            expires_in=token.get("expires_in"),
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return OAuth2Token.from_dict(token)

    def _check_response(self, response: httpx.Response) -> httpx.Response:
        """authlib compliance hook: classify a non-2xx answer before authlib parses it."""
        status = response.status_code
        if response.is_success:
            return response
        log.warning(f"{self._name}.token_failed", status=status)
        if status == 429 or status >= 500:
            raise TokenEndpointUnavailable(
                f"token endpoint answered {status}",
                status_code=status,
                retry_after=_retry_after(response) if status in (429, 503) else None,
            )
        # The OAuth error code is safe to show; the body is not echoed (it may repeat what we sent).
        error = _oauth_error(response)
        raise TokenRefused(
            f"token request refused ({status}): {error}", status_code=status, oauth_error=error
        )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return "no OAuth error code"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error) if error else "no OAuth error code"


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))
