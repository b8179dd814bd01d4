"""Codec server: the Temporal UI (and ``temporal --codec-endpoint``) reads encrypted payloads here.

Temporal's remote codec protocol: ``POST <endpoint>/decode`` and ``POST <endpoint>/encode`` with
``Content-Type: application/json`` and a ``Payloads`` protobuf as JSON (``{"payloads":
[{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}``); the answer has the same
shape. The UI calls it from the browser, so it needs CORS for the UI's origin, preflight included.

Who may decode (the keys never leave this process):

- ``/codec/<codec_secret>/decode``: the secret is a path segment. This is for a UI that cannot
  add headers, as with the dev server's embedded UI (it sends an ``Authorization`` header only
  with ``--ui-codec-pass-access-token``, and only to an https endpoint). Whoever can open that UI
  can read the endpoint from its settings. So this protects the payloads exactly as well as
  access to the UI does, and no better.
- ``/codec/decode`` with ``Authorization: Bearer <codec_secret>``: the CLI (``--codec-auth``),
  scripts, or a proxy that adds the header.
- ``/codec/decode`` with ``Authorization: Bearer <JWT>``: a production UI behind OIDC with
  ``codec.passAccessToken``. The user's access token is checked against ``codec_oauth_issuer``,
  ``codec_oauth_audience`` and the JWKS at ``codec_oauth_jwks_url``.

Served by the receiver (``create_receiver_app`` includes :func:`router_for`), or on its own
with ``python -m starter.codec_server --port 8705`` where operators must not reach the receiver.
"""

from __future__ import annotations

import argparse
import hmac
import json
import time
from collections.abc import Awaitable, Callable

import httpx
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from temporalio.api.common.v1 import Payload, Payloads

from clients.payload_codec import EncryptionCodec, PayloadDecryptError
from clients.temporal_connection import payload_codec
from settings import Settings, SettingsError, get_settings

log = structlog.get_logger("codec_server")

PREFIX = "/codec"
OPERATIONS = ("decode", "encode")
MIN_SECRET_LENGTH = 32
# A UI request carries the payloads of one event or list page; Temporal's own blob limit is 2 MiB.
MAX_BODY_BYTES = 8 * 1024 * 1024
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
PREFLIGHT_MAX_AGE_SECONDS = 600
REALM = "m3bng-codec"
JWKS_CACHE_SECONDS = 600.0
JWKS_MIN_REFRESH_SECONDS = 30.0
MAX_TOKEN_LENGTH = 8192
MALFORMED: tuple[type[Exception], ...] = (JoseError, ValueError, TypeError, KeyError, AttributeError)
JWKS_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, *MALFORMED)


def codec_problems(settings: Settings) -> list[str]:
    """Why the codec server cannot be served as configured (empty: it can, or it is off)."""
    secret = settings.codec_secret.get_secret_value()
    problems = []
    if secret and (len(secret) < MIN_SECRET_LENGTH or not all(c.isalnum() or c in "-_" for c in secret)):
        problems.append(
            f"M3BNG_CODEC_SECRET is malformed: at least {MIN_SECRET_LENGTH} characters of "
            "A-Z a-z 0-9 - _ (it is a URL path segment)"
        )
    oauth = (settings.codec_oauth_issuer, settings.codec_oauth_audience, settings.codec_oauth_jwks_url)
    if any(oauth) and not all(oauth):
        problems.append(
            "M3BNG_CODEC_OAUTH_ISSUER, M3BNG_CODEC_OAUTH_AUDIENCE and M3BNG_CODEC_OAUTH_JWKS_URL "
            "go together: set all three or none"
        )
    return problems


class _JwtCheck:
    """A bearer JWT from the UI's identity provider: signature (JWKS), issuer, audience, expiry."""

    def __init__(self, settings: Settings) -> None:
        assert settings.codec_oauth_jwks_url and settings.codec_oauth_issuer and settings.codec_oauth_audience
        self._jwks_url = settings.codec_oauth_jwks_url
        self._algorithms = list(settings.codec_oauth_algorithms)
        self._claims = jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": settings.codec_oauth_issuer},
            aud={"essential": True, "value": settings.codec_oauth_audience},
            exp={"essential": True},
        )
        self._keys: KeySet | None = None
        self._read_at = 0.0

    async def valid(self, token: str) -> bool:
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        try:
            decoded = jwt.decode(token, await self._key_set(), algorithms=self._algorithms)
        except MALFORMED:
            # The IdP may have rotated its keys: read them again, but not on every forged token.
            if time.monotonic() - self._read_at < JWKS_MIN_REFRESH_SECONDS:
                return False
            try:
                decoded = jwt.decode(token, await self._key_set(refresh=True), algorithms=self._algorithms)
            except MALFORMED:
                return False
        try:
            self._claims.validate(decoded.claims)
        except JoseError:
            return False
        return True

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is not None and not refresh and time.monotonic() - self._read_at < JWKS_CACHE_SECONDS:
            return self._keys
        self._read_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(self._jwks_url)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
        except JWKS_ERRORS as error:
            log.error("codec JWKS unavailable", error=str(error)[:200])
            if self._keys is None:
                raise ValueError("signing keys unavailable") from error
        assert self._keys is not None
        return self._keys


class CodecServer:
    def __init__(self, settings: Settings) -> None:
        if problems := codec_problems(settings):
            raise SettingsError("; ".join(problems))
        self.codec: EncryptionCodec | None = payload_codec(settings)
        self.origins = frozenset(origin.rstrip("/") for origin in settings.codec_cors_origins)
        self._secret = settings.codec_secret.get_secret_value().encode()
        self._jwt = _JwtCheck(settings) if settings.codec_oauth_jwks_url else None

    @property
    def enabled(self) -> bool:
        return self.codec is not None and bool(self._secret or self._jwt)

    # --- CORS -------------------------------------------------------------------------------

    def cors_headers(self, request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin is None or origin.rstrip("/") not in self.origins:
            return {"Vary": "Origin"}
        return {
            "Access-Control-Allow-Origin": origin,
            # The UI's codec.includeCredentials sends cookies (an SSO proxy in front).
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    def preflight(self, request: Request) -> Response:
        headers = self.cors_headers(request)
        if "Access-Control-Allow-Origin" not in headers:
            return Response(status_code=403, headers=headers)
        headers |= {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        }
        if request.headers.get("access-control-request-private-network") == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"
        return Response(status_code=204, headers=headers)

    # --- authentication ---------------------------------------------------------------------

    def secret_matches(self, presented: str) -> bool:
        # compare_digest needs equal types; bytes also copes with non-ASCII input.
        return bool(self._secret) and hmac.compare_digest(presented.encode("utf-8", "replace"), self._secret)

    async def bearer_accepted(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        if self.secret_matches(token):
            return True
        if self._jwt is None:
            return False
        try:
            return await self._jwt.valid(token)
        except ValueError:  # the IdP's keys cannot be read: not the caller's fault, still no entry
            return False

    # --- the protocol -----------------------------------------------------------------------

    async def handle(
        self, request: Request, operation: str, authenticated: Callable[[], Awaitable[bool]]
    ) -> Response:
        cors = self.cors_headers(request)
        if operation not in OPERATIONS or not self.enabled:
            detail = (
                "no such codec operation" if operation not in OPERATIONS else "codec server not configured"
            )
            return _error(404, detail, cors)
        if "origin" in request.headers and "Access-Control-Allow-Origin" not in cors:
            log.warning(
                "codec call refused", reason="origin not allowed", origin=request.headers["origin"][:200]
            )
            return _error(403, "origin not allowed", cors)
        if not await authenticated():
            log.warning("codec call refused", reason="not authenticated", operation=operation)
            challenge = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
            return _error(401, "not authenticated", cors | challenge)
        if not request.headers.get("content-type", "").lower().startswith("application/json"):
            return _error(415, "content type must be application/json", cors)
        body = await _read_limited(request)
        if body is None:
            return _error(413, f"body larger than {MAX_BODY_BYTES} bytes", cors)
        try:
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, DecodeError, UnicodeDecodeError, ValueError):
            return _error(400, "body is not Payloads protobuf JSON", cors)
        assert self.codec is not None
        try:
            if operation == "decode":
                converted: list[Payload] = await self.codec.decode(payloads.payloads)
            else:
                converted = await self.codec.encode(payloads.payloads)
        except (PayloadDecryptError, DecodeError) as error:
            return _error(400, str(error), cors)
        text = json_format.MessageToJson(Payloads(payloads=converted), indent=None)
        return Response(text, media_type="application/json", headers=cors)


def router_for(settings: Settings) -> APIRouter:
    """The codec endpoints under /codec. Raises SettingsError/PayloadKeyError on a malformed
    setting, so the receiver refuses to start instead of failing every UI request."""
    server = CodecServer(settings)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    # Preflights carry no credentials: answered for allowed origins, whatever the path.
    @router.options("/{operation}")
    async def preflight(request: Request, operation: str) -> Response:
        return server.preflight(request)

    @router.options("/{secret}/{operation}")
    async def preflight_secret_path(request: Request, secret: str, operation: str) -> Response:
        return server.preflight(request)

    @router.post("/{operation}")
    async def with_bearer(request: Request, operation: str) -> Response:
        return await server.handle(request, operation, lambda: server.bearer_accepted(request))

    @router.post("/{secret}/{operation}")
    async def with_secret_path(request: Request, secret: str, operation: str) -> Response:
        async def accepted() -> bool:
            return server.secret_matches(secret)

        return await server.handle(request, operation, accepted)

    return router


def create_codec_app(settings: Settings) -> FastAPI:
    """The codec server on its own, away from the receiver's public webhook endpoints."""
    app = FastAPI(title="m3bng codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router_for(settings))
    return app


def _error(status: int, detail: str, headers: dict[str, str]) -> Response:
    return Response(
        json.dumps({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _read_limited(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8705)
    args = parser.parse_args()
    settings = get_settings()
    try:
        app = create_codec_app(settings)
    except ValueError as error:  # SettingsError, PayloadKeyError
        raise SystemExit(f"m3bng codec server cannot start: {error}") from None
    if not CodecServer(settings).enabled:
        raise SystemExit(
            "m3bng codec server cannot start: set M3BNG_PAYLOAD_KEYS (or M3BNG_PAYLOAD_KEY) and "
            "M3BNG_CODEC_SECRET or M3BNG_CODEC_OAUTH_*"
        )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
