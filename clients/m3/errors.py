"""Exceptions raised by the M3 client, one per way a call can fail.

Callers (Temporal activities) decide retry policy from the class alone:
``M3TransientError`` may be retried, ``M3BusinessError`` never, ``M3AuthError`` and
``M3ProtocolError`` need a human.
"""

from __future__ import annotations

import re


class M3Error(Exception):
    """Base class of every error the M3 client raises."""


class M3BusinessError(M3Error):
    """M3 refused the transaction (``ServerReturnedNOK`` and friends). Retrying cannot help."""

    def __init__(
        self,
        *,
        program: str,
        transaction: str,
        message: str,
        code: str | None = None,
        field: str | None = None,
        error_type: str | None = None,
    ) -> None:
        self.program = program
        self.transaction = transaction
        self.code = code or None
        self.field = field or None
        self.error_type = error_type or None
        self.message = clean_message(message, code=self.code, field=self.field)
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.program}/{self.transaction}"
        details = ", ".join(
            part for part in (self.code and f"code={self.code}", self.field and f"field={self.field}") if part
        )
        return f"{where}: {self.message}" + (f" ({details})" if details else "")


class M3PartialListError(M3BusinessError):
    """A list transaction failed after returning some rows (Infor KB 2159861)."""

    def __init__(
        self,
        *,
        program: str,
        transaction: str,
        message: str,
        records: list[dict[str, str]],
        code: str | None = None,
        field: str | None = None,
        error_type: str | None = None,
    ) -> None:
        self.records = records
        super().__init__(
            program=program,
            transaction=transaction,
            message=message,
            code=code,
            field=field,
            error_type=error_type,
        )


class M3TransientError(M3Error):
    """5xx, timeout or connection failure: the same call may succeed later.

    ``retry_after`` is in seconds when the server said when to come back (429, 503). ``sent`` is
    False when the request never left this process (no connection), so it cannot have arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        self.sent = sent
        super().__init__(message)


class M3AmbiguousWriteError(M3TransientError):
    """A write reached the gateway but its answer never came back (timeout, reset, 5xx).

    M3 may or may not have committed it: the caller must look for the write's effect before
    writing again. The client never retries such a write itself.
    """


class M3RateLimitedError(M3TransientError):
    """The ION API quota policy answered 429: the call was refused before it reached M3."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=429, retry_after=retry_after)


class M3AuthError(M3Error):
    """The token was refused, even after fetching a fresh one, or the token endpoint said no."""


class M3ProtocolError(M3Error):
    """The answer was not an M3 answer: wrong shape, an HTML page, a 404 or an unknown transaction."""


def clean_message(message: str, *, code: str | None, field: str | None) -> str:
    """M3 pads messages with blanks and sometimes repeats the code and field in them (ODIN strips both)."""
    for token in (code, field):
        if token:
            message = re.sub(rf"(?<!\w){re.escape(token)}(?!\w)", " ", message)
    return " ".join(message.split())
