"""Who may post BODs to ``/ims``: ION's "IMS through API Gateway" connection point, and only it.

Two modes (``M3BNG_IMS_AUTH_MODE``):

- ``shared_secret``: the API Gateway's target endpoint sends ``Authorization: Bearer <secret>``;
  compared in constant time.
- ``oauth``: it sends a JWT bearer token, validated with joserfc (Authlib's JOSE library; the
  ``authlib.jose`` module is deprecated in its favour) against the configured JWKS (a URL or a
  file), issuer and audience; ``exp`` is required.

Runs as a FastAPI dependency before the body is read, so nothing reaches a parser unauthenticated.
"""

from __future__ import annotations

import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import HTTPException, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from settings import Settings

log = structlog.get_logger("ims_auth")

REALM = "m3bng-ims"
# Keys are re-read at most this often; an unknown key id forces a re-read, but not more often
# than once per JWKS_MIN_REFRESH_SECONDS, so a flood of forged tokens cannot flood the IdP.
JWKS_CACHE_SECONDS = 600.0
JWKS_MIN_REFRESH_SECONDS = 30.0
MAX_TOKEN_LENGTH = 8192
# What garbage (a token, a JWKS) can raise on its way through base64, JSON and joserfc.
MALFORMED: tuple[type[Exception], ...] = (JoseError, ValueError, TypeError, KeyError, AttributeError)
JWKS_ERRORS: tuple[type[Exception], ...] = (OSError, httpx.HTTPError, *MALFORMED)


class ImsAuthenticator:
    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self.mode = settings.ims_auth_mode
        self._secret = settings.ims_shared_secret.get_secret_value().encode()
        self._issuer = settings.ims_oauth_issuer or ""
        self._audience = settings.ims_oauth_audience or ""
        self._algorithms = list(settings.ims_oauth_algorithms)
        self._leeway = settings.ims_oauth_leeway_seconds
        self._jwks_url = settings.ims_oauth_jwks_url
        self._jwks_file = settings.ims_oauth_jwks_file
        self._http = http
        self._owns_http = http is None
        self._keys: KeySet | None = None
        self._keys_read_at = 0.0

    async def __call__(self, request: Request) -> None:
        """The FastAPI dependency: returns, or raises 401 with a WWW-Authenticate challenge."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            raise _unauthorized("missing bearer credentials", error=None)
        if self.mode == "shared_secret":
            # compare_digest needs equal types; bytes also copes with non-ASCII input.
            if not hmac.compare_digest(credentials.encode("utf-8", "replace"), self._secret):
                log.warning("IMS call refused", reason="wrong shared secret")
                raise _unauthorized("invalid credentials")
            return
        await self._check_token(credentials)

    async def _check_token(self, token: str) -> None:
        if len(token) > MAX_TOKEN_LENGTH:
            raise _unauthorized("invalid token")
        try:
            decoded = jwt.decode(token, await self._key_set(), algorithms=self._algorithms)
        except MALFORMED as error:
            if not self._jwks_url or time.monotonic() - self._keys_read_at < JWKS_MIN_REFRESH_SECONDS:
                log.warning("IMS call refused", reason=f"token: {error!r}"[:200])
                raise _unauthorized("invalid token") from error
            # The IdP may have rotated its keys since we last read them: read once more.
            try:
                decoded = jwt.decode(token, await self._key_set(refresh=True), algorithms=self._algorithms)
            except MALFORMED as again:
                log.warning("IMS call refused", reason=f"token: {again!r}"[:200])
                raise _unauthorized("invalid token") from again
        claims = jwt.JWTClaimsRegistry(
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            exp={"essential": True},
        )
        try:
            claims.validate(decoded.claims)
        except JoseError as error:
            log.warning("IMS call refused", reason=f"claims: {error.error} {error.description or ''}")
            raise _unauthorized("invalid token") from error

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        fresh = time.monotonic() - self._keys_read_at < JWKS_CACHE_SECONDS
        if self._keys is not None and fresh and not refresh:
            return self._keys
        self._keys_read_at = time.monotonic()
        try:
            self._keys = KeySet.import_key_set(await self._read_jwks())
        except JWKS_ERRORS as error:
            log.error("JWKS unavailable", error=str(error))
            if self._keys is None:
                # Not the caller's fault, but it cannot be let in either: ION retries on 401.
                raise _unauthorized("signing keys unavailable") from error
        return self._keys

    async def _read_jwks(self) -> Any:
        if self._jwks_file is not None:
            return json.loads(Path(self._jwks_file).read_text())
        assert self._jwks_url is not None  # checked at start-up
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        response = await self._http.get(self._jwks_url)
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()


def _unauthorized(detail: str, *, error: str | None = "invalid_token") -> HTTPException:
    # RFC 6750: no error code when no credentials were sent at all.
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})
