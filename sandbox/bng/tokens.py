"""Access tokens issued by POST /oauth/token, kept in memory.

After a sandbox restart every token is unknown, so clients get a 401 and must fetch a new one:
exactly the path the BNG client's refresh-on-401 has to survive.
"""

from __future__ import annotations

import secrets
import time

from pydantic import BaseModel

from sandbox.bng.config import BngSandboxConfig
from sandbox.bng.errors import ApiError


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class TokenIssuer:
    def __init__(self, config: BngSandboxConfig) -> None:
        self._config = config
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, client_id: str, client_secret: str) -> TokenResponse:
        valid_id = secrets.compare_digest(client_id.encode(), self._config.client_id.encode())
        valid_secret = secrets.compare_digest(client_secret.encode(), self._config.client_secret.encode())
        if not (valid_id and valid_secret):
            raise ApiError(401, "invalid_client", "unknown client or wrong secret")
        token = secrets.token_urlsafe(32)
        lifetime = self._config.token_lifetime_seconds
        self._tokens[token] = (client_id, time.monotonic() + lifetime)
        return TokenResponse(access_token=token, expires_in=lifetime)

    def client_for(self, token: str) -> str | None:
        client_id, expires_at = self._tokens.get(token, ("", 0.0))
        if time.monotonic() >= expires_at:
            self._tokens.pop(token, None)
            return None
        return client_id

    def revoke_all(self) -> int:
        count = len(self._tokens)
        self._tokens.clear()
        return count
