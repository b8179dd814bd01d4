"""ION API OAuth 2.0: the password grant with a service account, refresh, revoke, and Bearer checks."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from sandbox.m3.config import M3SandboxConfig


@dataclass
class _Grant:
    client_id: str
    expires_at: float


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error, "error_description": self.description}, self.status)


class TokenIssuer:
    REFRESH_LIFETIME_SECONDS = 7 * 24 * 3600

    def __init__(self, config: M3SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}

    def _issue(self, client_id: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self._lock:
            self._access[access] = _Grant(client_id, now + self.config.token_lifetime_seconds)
            self._refresh[refresh] = _Grant(client_id, now + self.REFRESH_LIFETIME_SECONDS)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.config.token_lifetime_seconds,
            "refresh_token": refresh,
        }

    def check_client(self, client_id: str, client_secret: str) -> None:
        if client_id != self.config.client_id or not secrets.compare_digest(
            client_secret, self.config.client_secret
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed")

    def grant(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        self.check_client(client_id, client_secret)
        grant_type = form.get("grant_type", "")
        if grant_type == "password":
            if form.get("username") != self.config.saak or not secrets.compare_digest(
                form.get("password", ""), self.config.sask
            ):
                raise OAuthError(400, "invalid_grant", "Invalid service account credentials")
            return self._issue(client_id)
        if grant_type == "refresh_token":
            with self._lock:
                old = self._refresh.pop(form.get("refresh_token", ""), None)
            if old is None or old.expires_at < time.time() or old.client_id != client_id:
                raise OAuthError(400, "invalid_grant", "Refresh token is invalid or expired")
            return self._issue(client_id)
        raise OAuthError(400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported")

    def revoke(self, token: str) -> None:
        with self._lock:
            self._access.pop(token, None)
            self._refresh.pop(token, None)

    def is_valid(self, token: str) -> bool:
        with self._lock:
            grant = self._access.get(token)
            return grant is not None and grant.expires_at > time.time()

    def expire_all(self) -> int:
        """Admin: make every access token expire now (refresh tokens stay usable)."""
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = 0.0
            return len(self._access)

    def reset(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def bearer_error() -> JSONResponse:
    """What the ION API gateway answers without a valid token."""
    return JSONResponse(
        {"error": "invalid_token", "error_description": "Access token is missing, invalid or expired"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def oauth_router(config: M3SandboxConfig, issuer: TokenIssuer) -> APIRouter:
    router = APIRouter()

    def _check_tenant(tenant: str) -> None:
        if tenant != config.tenant:
            raise HTTPException(404, f"Unknown tenant {tenant}")

    @router.post("/{tenant}/as/token.oauth2")
    async def token(tenant: str, request: Request) -> JSONResponse:
        _check_tenant(tenant)
        form = {key: str(value) for key, value in (await request.form()).items()}
        try:
            return JSONResponse(issuer.grant(form, basic_credentials(request)))
        except OAuthError as exc:
            return exc.response()

    @router.post("/{tenant}/as/revoke_token.oauth2")
    async def revoke(tenant: str, request: Request) -> JSONResponse:
        _check_tenant(tenant)
        form = {key: str(value) for key, value in (await request.form()).items()}
        client_id, client_secret = basic_credentials(request) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        try:
            issuer.check_client(client_id, client_secret)
        except OAuthError as exc:
            return exc.response()
        issuer.revoke(form.get("token", ""))
        return JSONResponse({})

    return router
