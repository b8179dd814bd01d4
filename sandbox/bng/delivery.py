"""Delivers the webhook outbox: at least once, signed, retried with exponential backoff.

Messages sharing an ordering key (all events of one order) form a lane: a lane's next message
waits until the one before it is delivered or given up, so an order's events arrive in the order
they happened. Different lanes are delivered concurrently.

With the ``delivery_jitter_ms`` knob set, lanes hold nothing back and each delivery waits a random
0..N ms first, so events arrive out of order, as they may from a webhook sender without ordering.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from sandbox.bng.config import BngSandboxConfig
from sandbox.bng.db import OutboxMessage, WebhookEndpoint
from sandbox.bng.knobs import Knobs

log = structlog.get_logger(__name__)

# Even with nothing due, look again now and then: rows may have been changed by another process.
_IDLE_POLL_SECONDS = 1.0
# Deliveries in flight at once, and pending rows looked at per round: a batch create of 500
# records queues 500 webhooks, and thousands of concurrent posts would starve the API itself.
_MAX_IN_FLIGHT = 32
_SCAN_ROWS = 500


@dataclass(frozen=True)
class _Due:
    """A message to send now, with what sending it needs (url None: its endpoint is gone)."""

    row_id: int
    msg_id: str
    payload: bytes
    url: str | None
    secret: str


@dataclass(frozen=True)
class _Outcome:
    message: _Due
    status: int | None
    error: str | None
    duplicate: bool
    gone: bool = False

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookDispatcher:
    def __init__(self, sessions: sessionmaker[Session], config: BngSandboxConfig, knobs: Knobs) -> None:
        self._sessions = sessions
        self._config = config
        self._knobs = knobs
        # Seeded, so a test that sets duplicate_delivery_rate gets the same duplicates every run.
        self._random = random.Random(config.random_seed)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._wake = asyncio.Event()
        # A pool no larger than the deliveries in flight: httpcore looks at every pooled
        # connection to place each request.
        limits = httpx.Limits(max_connections=_MAX_IN_FLIGHT, max_keepalive_connections=_MAX_IN_FLIGHT)
        self._http = httpx.AsyncClient(timeout=self._config.webhook_timeout_seconds, limits=limits)
        self._task = asyncio.create_task(self._run(), name="bng-webhook-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http:
            await self._http.aclose()

    def notify(self) -> None:
        """Something was queued: look at the outbox now rather than at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                due, wait = self._due_messages()
                if due:
                    outcomes = await asyncio.gather(*(self._deliver(message) for message in due))
                    self._record(outcomes)
                    continue
            except Exception:
                # A broken row or a database hiccup must not stop delivery for good.
                log.exception("bng.sandbox.webhook.dispatch_failed")
                wait = _IDLE_POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _due_messages(self) -> tuple[list[_Due], float]:
        """The messages due now (one per lane), read in one session, and how long to sleep if
        there are none."""
        now = time.time()
        due: list[_Due] = []
        wait = _IDLE_POLL_SECONDS
        seen_lanes: set[tuple[str, str]] = set()
        chosen: dict[int, str] = {}  # row id -> endpoint id
        with self._sessions() as session:
            endpoints = {endpoint.id: endpoint for endpoint in session.scalars(select(WebhookEndpoint))}
            # Columns, not whole rows: most of the rows scanned wait behind an earlier message.
            pending = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.endpoint_id,
                    OutboxMessage.ordering_key,
                    OutboxMessage.next_attempt_at,
                )
                .where(OutboxMessage.delivered.is_(False), OutboxMessage.failed.is_(False))
                .order_by(OutboxMessage.id)
                .limit(_SCAN_ROWS)
            )
            ordered = not self._knobs.delivery_jitter_ms
            for row_id, endpoint_id, ordering_key, next_attempt_at in pending:
                if len(chosen) >= _MAX_IN_FLIGHT:
                    break
                lane = (endpoint_id, (ordering_key if ordered else None) or f"#{row_id}")
                if lane in seen_lanes:
                    continue  # an earlier message of this lane goes first
                seen_lanes.add(lane)
                if next_attempt_at <= now:
                    chosen[row_id] = endpoint_id
                else:
                    wait = min(wait, next_attempt_at - now)
            messages = session.execute(
                select(OutboxMessage.id, OutboxMessage.msg_id, OutboxMessage.payload)
                .where(OutboxMessage.id.in_(chosen))
                .order_by(OutboxMessage.id)
            )
            for row_id, msg_id, payload in messages:
                endpoint = endpoints.get(chosen[row_id])
                due.append(
                    _Due(
                        row_id=row_id,
                        msg_id=msg_id,
                        payload=payload.encode(),
                        url=endpoint.url if endpoint else None,
                        secret=endpoint.secret if endpoint else "",
                    )
                )
        return due, max(wait, 0.0)

    async def _deliver(self, message: _Due) -> _Outcome:
        if message.url is None:
            return _Outcome(message, None, "endpoint no longer registered", duplicate=False, gone=True)
        if jitter_ms := self._knobs.delivery_jitter_ms:
            await asyncio.sleep(self._random.uniform(0, jitter_ms) / 1000)
        status, error = await self._post(message.url, message.secret, message.msg_id, message.payload)
        delivered = status is not None and 200 <= status < 300
        duplicate = delivered and self._random.random() < self._knobs.duplicate_delivery_rate
        if duplicate:
            # A real duplicate: same webhook-id, sent again as BNG does after a lost acknowledgement.
            await self._post(message.url, message.secret, message.msg_id, message.payload)
        return _Outcome(message, status, error, duplicate=duplicate)

    def _record(self, outcomes: list[_Outcome]) -> None:
        """A round's attempts, in one transaction (one commit for many webhooks)."""
        with self._sessions.begin() as session:
            for outcome in outcomes:
                row = session.get(OutboxMessage, outcome.message.row_id)
                if row is None:
                    continue
                if outcome.gone:
                    row.failed, row.last_error = True, outcome.error
                    continue
                # Every HTTP request counts as an attempt, the duplicate included.
                row.attempts += 2 if outcome.duplicate else 1
                row.last_status, row.last_error = outcome.status, outcome.error
                if outcome.delivered:
                    row.delivered, row.delivered_at = True, time.time()
                    row.deliveries += 2 if outcome.duplicate else 1
                elif row.attempts >= self._config.webhook_max_attempts:
                    row.failed = True
                else:
                    backoff = self._config.webhook_backoff_seconds * 2 ** (row.attempts - 1)
                    row.next_attempt_at = time.time() + min(backoff, self._config.webhook_backoff_max_seconds)
                # Every attempt at debug; a failed one at info, where it is news.
                (log.debug if outcome.delivered else log.info)(
                    "bng.sandbox.webhook.attempt",
                    msg_id=row.msg_id,
                    event_type=row.event_type,
                    status=outcome.status,
                    attempt=row.attempts,
                    delivered=row.delivered,
                    failed=row.failed,
                    duplicate=outcome.duplicate,
                )

    async def _post(
        self, url: str, secret: str, msg_id: str, payload: bytes
    ) -> tuple[int | None, str | None]:
        assert self._http is not None
        # Signed at send time: the timestamp must be fresh on every retry.
        headers = _signed_headers(secret, msg_id, payload) | {"Content-Type": "application/json"}
        try:
            response = await self._http.post(url, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        error = None if response.is_success else response.text[:500]
        return response.status_code, error


def _signed_headers(secret: str, msg_id: str, payload: bytes) -> dict[str, str]:
    """The Standard Webhooks headers, signed by the official library as a BNG-side sender would.

    Not m3bng's own ``clients.bng.webhooks``: the sandbox must not share code with the verifier it tests.
    """
    sent_at = datetime.fromtimestamp(int(time.time()), UTC)
    signature = Webhook(secret).sign(msg_id, sent_at, payload.decode("utf-8"))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
