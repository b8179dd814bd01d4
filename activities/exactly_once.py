"""The write protocol every M3 and BNG write follows: look, write, and look again when in doubt.

1. Look for the write's effect (the order with our CUOR, the payment batch with our PBID, the field
   values we want). Found: the write is done, by an earlier attempt whose answer was lost.
2. Write.
3. The outcome is ambiguous (timeout, reset, 5xx after sending): look again. Found: done. Not
   found: raise, so Temporal retries the activity, which starts again at step 1. Never resend blindly.
4. M3 answers "already exists / already posted": that is success only if the look finds *our*
   object (proved by the caller's ``find``, e.g. by CUOR, PBID and amount); otherwise it is a real
   business error and the document parks.

A write whose first attempt this is (``first_attempt``: recorded in the store before it is sent)
skips step 1: nothing can have made its effect yet. That saves a look per write on the happy
path, and for OIS100MI a list of every order of the customer.

The clients raise ``M3AmbiguousWriteError``/``BngAmbiguousWriteError`` instead of resending a write
that may have arrived, so this is the one place where such a write is decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import structlog
from sqlalchemy.orm import Session, sessionmaker

from activities.errors import M3_ALREADY_EXISTS
from clients.bng.errors import BngAmbiguousWriteError, BngConflictError
from clients.m3.errors import M3AmbiguousWriteError, M3BusinessError
from storage import write_attempts

T = TypeVar("T")

log = structlog.get_logger(__name__)

AMBIGUOUS = (M3AmbiguousWriteError, BngAmbiguousWriteError)


async def write_once(
    what: str,
    *,
    find: Callable[[], Awaitable[T | None]],
    write: Callable[[], Awaitable[T]],
    done_codes: Collection[str] | None = (M3_ALREADY_EXISTS,),
    look_first: bool = True,
) -> T:
    """Perform ``write`` at most once in effect; ``find`` returns its effect, or None if absent.

    ``done_codes``: M3 message ids meaning "this was done already" (None: any M3 refusal may
    mean that); they count as success only when ``find`` then proves the effect is ours. A BNG 409
    is judged the same way. ``look_first=False`` when the caller has just looked itself, or when
    ``first_attempt`` says no attempt can have written yet.
    """
    if look_first:
        found = await find()
        if found is not None:
            log.info("write.found_before", what=what)
            return found
    try:
        return await write()
    except AMBIGUOUS as error:
        found = await find()
        if found is None:
            log.warning("write.not_found_after_lost_answer", what=what, error=str(error))
            raise
        log.info("write.found_after_lost_answer", what=what, error=str(error))
        return found
    except (M3BusinessError, BngConflictError) as error:
        if isinstance(error, M3BusinessError) and done_codes is not None and error.code not in done_codes:
            raise
        found = await find()
        if found is None:
            raise
        log.info("write.done_by_earlier_attempt", what=what, error=str(error))
        return found


async def first_attempt(sessions: sessionmaker[Session], what: str) -> bool:
    """True if no attempt has started the write ``what`` before. Recorded (committed) now, before
    the write is sent: an attempt that dies after this leaves the row, and the next one looks."""

    def record() -> bool:
        with sessions() as session:
            return write_attempts.record_attempt(session, what)

    return await asyncio.to_thread(record)


async def change_once(
    what: str,
    *,
    read: Callable[[], Awaitable[Mapping[str, Any] | None]],
    wanted: Mapping[str, Any],
    write: Callable[[], Awaitable[object]],
) -> None:
    """A change of fields to absolute values, made unless (and until) ``read`` shows them held."""

    async def applied() -> bool | None:
        return True if holds(await read() or {}, wanted) else None

    async def change() -> bool:
        await write()
        return True

    await write_once(what, find=applied, write=change)


def holds(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True if ``current`` has every wanted value (nested objects field by field).

    Systems pad, round and re-case what they store: " 100.00" holds "100", "abc" holds "ABC".
    """
    for name, value in wanted.items():
        have = current.get(name)
        if isinstance(value, Mapping):
            if not isinstance(have, Mapping) or not holds(have, value):
                return False
        elif not _same_value(have, value):
            return False
    return True


def _same_value(have: Any, want: Any) -> bool:
    have_text = "" if have is None else str(have).strip()
    want_text = "" if want is None else str(want).strip()
    if have_text.lower() == want_text.lower():
        return True
    if _leading_zero(have_text) or _leading_zero(want_text):
        return False  # a code such as a postcode "01234": its zeros matter
    try:
        return Decimal(have_text) == Decimal(want_text)
    except (InvalidOperation, ValueError):
        return False


def _leading_zero(text: str) -> bool:
    return len(text) > 1 and text[0] == "0" and text[1].isdigit()
