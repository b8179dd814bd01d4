"""ION API OAuth 2.0 tokens for a Backend Service app (resource-owner grant with saak/sask)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog

from clients.m3.errors import M3AuthError, M3ProtocolError, M3TransientError
from clients.m3.ionapi import IonApiFile

log = structlog.get_logger(__name__)

# Used when the token response has no expires_in: short, so a wrong guess costs one extra fetch.
_DEFAULT_LIFETIME = 600.0


@dataclass(frozen=True)
class _Token:
    access_token: str
    refresh_token: str | None
    expires_at: float


class IonApiTokenProvider:
    """Fetches, caches and renews the bearer token; concurrent callers share one fetch."""

    def __init__(
        self,
        ionapi: IonApiFile,
        http: httpx.AsyncClient,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ionapi = ionapi
        self._http = http
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()

    async def get_token(self) -> str:
        """A valid access token, renewed when fewer than ``refresh_margin`` seconds remain."""
        token = self._token
        if token is not None and not self._expiring(token):
            return token.access_token
        async with self._lock:
            # Another caller may have renewed it while we waited for the lock.
            token = self._token
            if token is None or self._expiring(token):
                token = await self._renew(token)
                self._token = token
            return token.access_token

    def invalidate(self) -> None:
        """Force a renewal on the next call (after a 401). The refresh token, if any, is kept."""
        if self._token is not None:
            self._token = _Token(
                self._token.access_token, self._token.refresh_token, expires_at=float("-inf")
            )

    async def revoke(self) -> None:
        """Revoke the refresh and access tokens at ``pu + or`` (Basic ci:cs), then forget them."""
        token, self._token = self._token, None
        if token is None:
            return
        auth = (self._ionapi.ci, self._ionapi.cs.get_secret_value())
        pairs = [(token.refresh_token, "refresh_token"), (token.access_token, "access_token")]
        for value, hint in pairs:
            if value is None:
                continue
            try:
                response = await self._http.post(
                    self._ionapi.revoke_url, data={"token": value, "token_type_hint": hint}, auth=auth
                )
            except httpx.HTTPError as exc:
                log.warning("ionapi.revoke_failed", token_type=hint, error=type(exc).__name__)
                continue
            if response.is_error:
                log.warning("ionapi.revoke_failed", token_type=hint, status=response.status_code)

    def _expiring(self, token: _Token) -> bool:
        return token.expires_at - self._clock() < self._refresh_margin

    async def _renew(self, current: _Token | None) -> _Token:
        if current is not None and current.refresh_token:
            try:
                return await self._grant(
                    {"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                    previous_refresh=current.refresh_token,
                )
            except M3AuthError:
                # Refresh token expired or revoked: start over with the service account.
                log.info("ionapi.refresh_rejected")
        return await self._grant(
            {
                "grant_type": "password",
                "username": self._ionapi.saak,
                "password": self._ionapi.sask.get_secret_value(),
            }
        )

    async def _grant(self, form: dict[str, str], *, previous_refresh: str | None = None) -> _Token:
        form = {
            **form,
            "client_id": self._ionapi.ci,
            "client_secret": self._ionapi.cs.get_secret_value(),
        }
        started = self._clock()
        try:
            response = await self._http.post(
                self._ionapi.token_url, data=form, headers={"Accept": "application/json"}
            )
        except httpx.TimeoutException as exc:
            raise M3TransientError("token endpoint timed out") from exc
        except httpx.TransportError as exc:
            raise M3TransientError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        log.info(
            "ionapi.token",
            grant_type=form["grant_type"],
            status=response.status_code,
            duration_ms=round((self._clock() - started) * 1000, 1),
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise M3TransientError(
                f"token endpoint answered {response.status_code}", status_code=response.status_code
            )
        if response.is_error:
            # The OAuth error code (invalid_grant, invalid_client) is safe to show; the body is not echoed.
            raise M3AuthError(f"token request refused ({response.status_code}): {_oauth_error(response)}")
        try:
            body = response.json()
            access_token = body["access_token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise M3ProtocolError("token endpoint returned no access_token") from exc
        if not isinstance(access_token, str) or not access_token:
            raise M3ProtocolError("token endpoint returned an empty access_token")
        lifetime = float(body.get("expires_in") or _DEFAULT_LIFETIME)
        # Servers may omit refresh_token on a refresh grant, meaning "keep using the old one".
        refresh_token = body.get("refresh_token") or previous_refresh
        return _Token(access_token, refresh_token, expires_at=started + lifetime)


def _oauth_error(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "no OAuth error code"
    return str(error) if error else "no OAuth error code"
