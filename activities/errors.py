"""Turn protocol-client exceptions into Temporal failures with the right retry behaviour.

Business errors (M3 NOK, BNG 4xx) are final: retrying cannot fix them, so they are raised
non-retryable with M3's code, field and message, and the workflow parks the order. Rate limits
are retried after the server's ``Retry-After``. Everything else transient propagates as is and
Temporal retries it with backoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from clients.bng.errors import (
    BngConflictError,
    BngNotFoundError,
    BngRateLimitedError,
    BngTransientError,
    BngValidationError,
)
from clients.m3.errors import M3BusinessError, M3RateLimitedError, M3TransientError

M3_BUSINESS_ERROR = "M3BusinessError"
BNG_BUSINESS_ERROR = "BngBusinessError"
RATE_LIMITED = "RateLimited"
# The server is down for a while and said for how long (503 with Retry-After).
UNAVAILABLE = "Unavailable"
# A record that cannot be mapped or validated; the message names every field.
INVALID_RECORD = "InvalidRecord"

# M3's "Record already exists": on a retried write, an earlier attempt already did the work.
M3_ALREADY_EXISTS = "XRE0103"


class M3ErrorDetail(BaseModel):
    program: str
    transaction: str
    code: str | None = None
    field: str | None = None
    message: str


def m3_business_failure(error: M3BusinessError) -> ApplicationError:
    detail = M3ErrorDetail(
        program=error.program,
        transaction=error.transaction,
        code=error.code,
        field=error.field,
        message=error.message,
    )
    return ApplicationError(
        f"{detail.program}/{detail.transaction} {detail.code or ''}: {detail.message}".strip(),
        detail.model_dump(),
        type=M3_BUSINESS_ERROR,
        non_retryable=True,
    )


@contextmanager
def classified_errors() -> Iterator[None]:
    """Wrap every call to M3 or BNG inside an activity."""
    try:
        yield
    except M3BusinessError as error:
        raise m3_business_failure(error) from error
    except (M3TransientError, BngTransientError) as error:
        # The server said when to come back (429, or 503 with Retry-After): Temporal waits that long.
        if error.retry_after is None and not isinstance(error, M3RateLimitedError | BngRateLimitedError):
            raise
        delay = timedelta(seconds=error.retry_after) if error.retry_after else None
        kind = RATE_LIMITED if error.status_code == 429 else UNAVAILABLE
        raise ApplicationError(str(error), type=kind, next_retry_delay=delay) from error
    except (BngValidationError, BngNotFoundError, BngConflictError) as error:
        raise ApplicationError(str(error), type=BNG_BUSINESS_ERROR, non_retryable=True) from error
