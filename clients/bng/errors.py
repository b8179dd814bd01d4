"""What can go wrong talking to BNG, as exceptions the workflows can branch on.

Transient errors (5xx, 429, timeouts, connection failures) are worth retrying; the rest are not:
retrying a 422 or a 404 only repeats the same answer.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

from clients.retry import parse_retry_after


class FieldError(BaseModel):
    """One rejected field of a 422 answer, e.g. ``Lines.0.Quantity``."""

    field: str
    message: str
    type: str | None = None


class BngError(Exception):
    """Base of every BNG client error."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body


class BngAuthError(BngError):
    """Credentials refused (401/403), even after fetching a fresh token."""


class BngNotFoundError(BngError):
    """404: the order, customer, product or inventory row does not exist."""


class BngConflictError(BngError):
    """409: the request clashes with BNG's state (a duplicate id, a cancelled order...)."""


class BngValidationError(BngError):
    """422: BNG rejected the payload; ``errors`` names the fields."""

    def __init__(
        self, message: str, *, errors: list[FieldError], status_code: int | None = 422, body: Any = None
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.errors = errors


class BngTransientError(BngError):
    """5xx, a timeout or a connection failure: the same call may well succeed later.

    ``retry_after`` is BNG's hint in seconds, when it gave one (a 503 in maintenance may).
    ``sent`` is False when the request never left this process, so it cannot have arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        body: Any = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after
        self.sent = sent


class BngAmbiguousWriteError(BngTransientError):
    """A PATCH, PUT or DELETE may have reached BNG but its answer was lost (timeout, reset, 5xx).

    The client does not resend it: the caller looks for the write's effect first.
    """


class BngRateLimitedError(BngTransientError):
    """429: slow down. ``retry_after`` is BNG's hint in seconds, when it gave one."""

    def __init__(
        self, message: str, *, retry_after: float | None, status_code: int | None = 429, body: Any = None
    ) -> None:
        super().__init__(message, retry_after=retry_after, status_code=status_code, body=body)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _message(response: httpx.Response, body: Any) -> str:
    detail = body
    if isinstance(body, dict):
        detail = body.get("message") or body.get("detail") or body.get("error")
    where = f"{response.request.method} {response.request.url.path}"
    return f"BNG answered {response.status_code} to {where}: {detail or response.reason_phrase}"


def _field_errors(body: Any) -> list[FieldError]:
    raw = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        return []
    errors = []
    for item in raw:
        if isinstance(item, dict):
            field = item.get("field") or ".".join(str(part) for part in item.get("loc", []))
            message = str(item.get("message") or item.get("msg") or "")
            errors.append(FieldError(field=field, message=message, type=item.get("type")))
    return errors


def error_from_response(response: httpx.Response) -> BngError:
    """The exception for a non-2xx answer."""
    status, body = response.status_code, _body(response)
    message = _message(response, body)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return BngRateLimitedError(message, retry_after=retry_after, body=body)
    if status >= 500 or status == 408:
        # RFC 9110: a 503 may say when to come back, just as a 429 does.
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return BngTransientError(message, retry_after=retry_after, status_code=status, body=body)
    if status in (401, 403):
        return BngAuthError(message, status_code=status, body=body)
    if status == 404:
        return BngNotFoundError(message, status_code=status, body=body)
    if status == 409:
        return BngConflictError(message, status_code=status, body=body)
    if status in (400, 422):
        return BngValidationError(message, errors=_field_errors(body), status_code=status, body=body)
    return BngError(message, status_code=status, body=body)
