"""Async client for M3 MI transactions (m3api-rest v1, v2 and v2 bulk) through the ION API gateway.

Company and division: the configured ``cono``/``divi`` go into every record as the ``CONO``/``DIVI``
input fields (unless the caller set them), and into the bulk body as ``cono``/``divi``. The reference's
shared convention (section 6, b) is to always send CONO as a field; the field form is visible in the
request, works the same in v1 and v2, and lets one call override it per record. MI ignores input
fields a transaction does not declare, so DIVI is harmless where it is not used [uncertain: check on a
real tenant; the alternative is the ``;cono=;divi=`` matrix parameters ODIN uses].

Retries: reads (the default) are retried on transient failures (5xx, timeouts, connection errors,
429) up to ``max_attempts`` with full-jitter backoff, honouring ``Retry-After`` on 429 and 503. MI
writes are GETs and not idempotent, so a call made with ``write=True`` is retried only when it
certainly did not reach M3 (no connection, 429, a refused token). Once it may have reached M3 (a
timeout or reset after sending, any 5xx) the client raises ``M3AmbiguousWriteError`` and the caller
looks for the write's effect before writing again (``activities.exactly_once``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx
import structlog

from clients import metrics
from clients.m3.auth import IonApiTokenProvider
from clients.m3.bulk import M3Transaction, M3TransactionResult
from clients.m3.errors import (
    M3AmbiguousWriteError,
    M3AuthError,
    M3ProtocolError,
    M3RateLimitedError,
    M3TransientError,
)
from clients.m3.ionapi import IonApiFile, load_ionapi
from clients.m3.responses import parse_bulk, parse_v1, parse_v2
from clients.m3.values import M3Value, format_record, with_company
from clients.retry import RetryPolicy, parse_retry_after
from clients.transport import NOT_SENT

__all__ = ["M3Client", "M3Transaction", "M3TransactionResult", "M3Value"]

log = structlog.get_logger(__name__)

# Sent on every call so results do not depend on the M3 user's settings (reference 1.2).
_DATE_FORMAT = "YMD8"
_CONTROL_QUERY = (("dateformat", _DATE_FORMAT), ("righttrim", "true"))


class M3Client:
    """``async with M3Client.from_ionapi_file("var/m3.ionapi", cono=100, divi="AAA") as m3: ...``"""

    def __init__(
        self,
        ionapi: IonApiFile,
        *,
        cono: int | None = None,
        divi: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        bulk_chunk_size: int = 80,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if bulk_chunk_size < 1:
            raise ValueError("bulk_chunk_size must be at least 1")
        self._base_url = ionapi.m3_base_url
        self._cono = cono
        self._divi = divi
        self._retry = RetryPolicy(max_attempts=max_attempts, base=backoff_base, cap=backoff_max)
        self._bulk_chunk_size = bulk_chunk_size
        self._http = httpx.AsyncClient(
            transport=transport, timeout=timeout, headers={"Accept": "application/json"}
        )
        self._tokens = IonApiTokenProvider(ionapi, transport=transport, timeout=timeout)
        # Replaceable in tests so retry paths run without real waiting.
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    @classmethod
    def from_ionapi_file(cls, path: str | Path, **kwargs: Any) -> M3Client:
        return cls(load_ionapi(path), **kwargs)

    @property
    def tokens(self) -> IonApiTokenProvider:
        return self._tokens

    async def execute(
        self,
        program: str,
        transaction: str,
        record: Mapping[str, M3Value] | None = None,
        *,
        maxrecs: int | None = None,
        returncols: Sequence[str] | None = None,
        write: bool = False,
    ) -> list[dict[str, str]]:
        """Run one transaction with v2 (GET). ``maxrecs=0`` means all rows.

        ``write=True`` for a transaction that changes M3: it is never resent once it may have arrived.
        """
        url = self._single_url("v2", program, transaction, record, maxrecs, returncols)
        response = await self._send(
            "GET", url, program=program, transaction=transaction, fields=record, write=write
        )
        body = _json_body(response, program, transaction, allowed_statuses=(200, 400))
        return parse_v2(body, program=program, transaction=transaction)

    async def execute_v1(
        self,
        program: str,
        transaction: str,
        record: Mapping[str, M3Value] | None = None,
        *,
        maxrecs: int | None = None,
        returncols: Sequence[str] | None = None,
    ) -> list[dict[str, str]]:
        """Run one transaction with v1 (GET), parsing ``MIRecord``/``NameValue``."""
        url = self._single_url("v1", program, transaction, record, maxrecs, returncols)
        response = await self._send("GET", url, program=program, transaction=transaction, fields=record)
        body = _json_body(response, program, transaction, allowed_statuses=(200,))
        return parse_v1(body, program=program, transaction=transaction)

    async def get_one(
        self,
        program: str,
        transaction: str,
        record: Mapping[str, M3Value] | None = None,
        *,
        write: bool = False,
    ) -> dict[str, str]:
        """The single record a transaction returns; ``M3ProtocolError`` if M3 returned none."""
        records = await self.execute(program, transaction, record, write=write)
        if not records:
            raise M3ProtocolError(f"{program}/{transaction}: no record returned")
        return records[0]

    async def bulk(
        self, program: str, transactions: Sequence[M3Transaction], *, write: bool = False
    ) -> list[M3TransactionResult]:
        """Run many transactions of one program with v2 bulk POSTs, ``bulk_chunk_size`` per call.

        Failed transactions do not raise: their result has ``error`` set. Results are in request order.
        With ``write=True`` a chunk whose answer is lost raises ``M3AmbiguousWriteError``.
        """
        results: list[M3TransactionResult] = []
        for start in range(0, len(transactions), self._bulk_chunk_size):
            chunk = transactions[start : start + self._bulk_chunk_size]
            names = [item.transaction for item in chunk]
            label = ",".join(dict.fromkeys(names))
            fields = {name: None for item in chunk for name in item.record}
            response = await self._send(
                "POST",
                f"{self._base_url}/m3api-rest/v2/execute",
                program=program,
                transaction=label,
                fields=fields,
                json=self._bulk_body(program, chunk),
                write=write,
            )
            body = _json_body(response, program, label, allowed_statuses=(200, 400))
            results.extend(parse_bulk(body, program=program, transactions=names))
        return results

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._tokens.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _single_url(
        self,
        version: Literal["v1", "v2"],
        program: str,
        transaction: str,
        record: Mapping[str, M3Value] | None,
        maxrecs: int | None,
        returncols: Sequence[str] | None,
    ) -> str:
        prefix = "/v2" if version == "v2" else ""
        path = f"{self._base_url}/m3api-rest{prefix}/execute/{_segment(program)}/{_segment(transaction)}"
        # Control options are matrix parameters on the transaction segment (ODIN createUrl).
        if maxrecs is not None:
            if maxrecs < 0:
                raise ValueError("maxrecs must be >= 0 (0 means all rows)")
            path += f";maxrecs={maxrecs}"
        if returncols:
            path += ";returncols=" + ",".join(_segment(column) for column in returncols)
        fields = with_company(format_record(record), cono=self._cono, divi=self._divi)
        # Values are percent-encoded like encodeURIComponent (ODIN), so "+", "&" and "/" survive.
        query = "&".join(
            f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in (*fields.items(), *_CONTROL_QUERY)
        )
        return f"{path}?{query}"

    def _bulk_body(self, program: str, chunk: Sequence[M3Transaction]) -> dict[str, Any]:
        body: dict[str, Any] = {"program": program}
        if self._cono is not None:
            body["cono"] = self._cono
        if self._divi:
            body["divi"] = self._divi
        body["dateFormat"] = _DATE_FORMAT
        body["excludeEmptyValues"] = False
        body["rightTrim"] = True
        body["maxReturnedRecords"] = 0
        # Last on purpose: the server streams the transactions array (reference 1.6).
        body["transactions"] = [self._bulk_item(item) for item in chunk]
        return body

    def _bulk_item(self, item: M3Transaction) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "transaction": item.transaction,
            "record": with_company(format_record(item.record), cono=self._cono, divi=self._divi),
        }
        if item.selected_columns:
            entry["selectedColumns"] = list(item.selected_columns)
        return entry

    async def _send(
        self,
        method: str,
        url: str,
        *,
        program: str,
        transaction: str,
        fields: Mapping[str, object] | None,
        json: Any = None,
        write: bool = False,
    ) -> httpx.Response:
        """Send with auth and retries; returns any response that is not 401/403/404/429/5xx."""
        # Field names only: values may be personal data.
        context = {"program": program, "transaction": transaction, "fields": sorted(fields or {})}
        where = f"{program}/{transaction}"
        refreshed_token = False
        attempt = 1
        while True:
            started = time.monotonic()
            try:
                response = await self._request(method, url, json, where=where)
                if response.status_code in (401, 403) and not refreshed_token:
                    # Expired or revoked before our clock said so: one fresh token, then give up.
                    log.info("m3.token_rejected", status=response.status_code, attempt=attempt, **context)
                    self._tokens.invalidate()
                    refreshed_token = True
                    continue
                _raise_for_gateway_status(response, program, transaction)
            except M3TransientError as exc:
                if write and _may_have_arrived(exc):
                    log.warning("m3.write_outcome_unknown", status=exc.status_code, error=str(exc), **context)
                    metrics.observe_m3_call(
                        program,
                        transaction,
                        status=exc.status_code,
                        seconds=_elapsed(started),
                        error=type(exc).__name__,
                    )
                    raise M3AmbiguousWriteError(
                        f"{where}: outcome unknown ({exc})",
                        status_code=exc.status_code,
                        retry_after=exc.retry_after,
                    ) from exc
                delay = self._retry.delay(attempt, exc.retry_after)
                log.warning(
                    "m3.call_failed",
                    attempt=attempt,
                    status=exc.status_code,
                    error=type(exc).__name__,
                    duration_ms=_since(started),
                    retry_in=delay,
                    **context,
                )
                metrics.observe_m3_call(
                    program,
                    transaction,
                    status=exc.status_code,
                    seconds=_elapsed(started),
                    error=type(exc).__name__,
                    retry_in=delay,
                )
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1
                continue
            log.info(
                "m3.call",
                attempt=attempt,
                status=response.status_code,
                duration_ms=_since(started),
                **context,
            )
            metrics.observe_m3_response(program, transaction, response, seconds=_elapsed(started))
            return response

    async def _request(self, method: str, url: str, json: Any, *, where: str) -> httpx.Response:
        token = await self._tokens.get_token()
        try:
            return await self._http.request(
                method, url, json=json, headers={"Authorization": f"Bearer {token}"}
            )
        except NOT_SENT as exc:
            raise M3TransientError(f"{where}: {type(exc).__name__}", sent=False) from exc
        except httpx.TimeoutException as exc:
            raise M3TransientError(f"{where}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise M3TransientError(f"{where}: {type(exc).__name__}") from exc


def _raise_for_gateway_status(response: httpx.Response, program: str, transaction: str) -> None:
    """Map the statuses the gateway itself produces; M3's own answers (200, 400) pass through."""
    status = response.status_code
    where = f"{program}/{transaction}"
    if status in (401, 403):
        raise M3AuthError(f"{where}: the ION API gateway refused a fresh token ({status})")
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise M3RateLimitedError(f"{where}: rate limited by the ION API gateway", retry_after=retry_after)
    if status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status == 503 else None
        raise M3TransientError(
            f"{where}: server answered {status}", status_code=status, retry_after=retry_after
        )
    if status in (404, 405):
        raise M3ProtocolError(f"{where}: the gateway answered {status} (wrong URL, tenant or method)")


def _json_body(
    response: httpx.Response, program: str, transaction: str, *, allowed_statuses: tuple[int, ...]
) -> Any:
    where = f"{program}/{transaction}"
    if response.status_code not in allowed_statuses:
        # v1 NOKs come at 200, but be lenient if something sends the same body with a 4xx.
        body = _try_json(response)
        if isinstance(body, dict) and ("@type" in body or "errorMessage" in body or "ErrorMessage" in body):
            return body
        raise M3ProtocolError(f"{where}: unexpected HTTP {response.status_code}")
    body = _try_json(response)
    if body is None:
        content_type = response.headers.get("content-type", "unknown")
        raise M3ProtocolError(f"{where}: expected JSON, got {content_type} (HTTP {response.status_code})")
    return body


def _may_have_arrived(error: M3TransientError) -> bool:
    """False only when the gateway or the network certainly stopped the call before M3."""
    return error.sent and not isinstance(error, M3RateLimitedError)


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _elapsed(started: float) -> float:
    return time.monotonic() - started


def _try_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _segment(name: str) -> str:
    return quote(name, safe="")
